-- The piket roster: who is on duty when an urgent or emergency case escalates outside office hours.
CREATE TABLE piket_roster (
    starts_on  date NOT NULL,
    ends_on    date NOT NULL,
    officer_id text NOT NULL REFERENCES officers (officer_id),
    PRIMARY KEY (starts_on, officer_id),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX piket_roster_days ON piket_roster (starts_on, ends_on);

-- Reference data: loaded from referral/data (or an imported roster) at start-up.
CREATE TABLE bidang (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE villages (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    kecamatan text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('desa', 'kelurahan'))
);

CREATE TABLE ppks_categories (
    code    text PRIMARY KEY,
    name    text NOT NULL,
    english text NOT NULL,
    bidang  text NOT NULL REFERENCES bidang (code)
);

CREATE TABLE officers (
    officer_id text PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('pendamping', 'head_of_bidang', 'kepala_dinas')),
    bidang     text REFERENCES bidang (code),
    name       text NOT NULL,
    email      text NOT NULL,
    active     boolean NOT NULL DEFAULT true
);

-- Which pendamping covers each village: exactly one per village.
CREATE TABLE coverage (
    village_code  text PRIMARY KEY REFERENCES villages (code),
    pendamping_id text NOT NULL REFERENCES officers (officer_id)
);

CREATE TABLE officer_leave (
    officer_id text NOT NULL REFERENCES officers (officer_id),
    starts_on  date NOT NULL,
    ends_on    date NOT NULL,
    reason     text NOT NULL DEFAULT '',
    PRIMARY KEY (officer_id, starts_on),
    CHECK (ends_on >= starts_on)
);

-- One row per case, kept current by the workflow's activities.
CREATE TABLE complaints (
    complaint_id        text PRIMARY KEY,
    workflow_id         text NOT NULL UNIQUE,
    external_ref        text UNIQUE,
    channel             text NOT NULL,
    status              text NOT NULL,
    village_code        text NOT NULL REFERENCES villages (code),
    kecamatan           text NOT NULL,
    category            text NOT NULL REFERENCES ppks_categories (code),
    bidang              text NOT NULL REFERENCES bidang (code),
    pendamping_id       text REFERENCES officers (officer_id),
    escalation_level    integer NOT NULL DEFAULT 0,
    urgency             text NOT NULL CHECK (urgency IN ('normal', 'urgent', 'emergency')),
    needs_investigation boolean NOT NULL DEFAULT false,
    outcome             text,
    duplicate_of        text,
    policy_version      text,
    calendar_version    text,
    -- Personal data (UU PDP 27/2022): only here, never in logs, search attributes or summaries.
    subject_key         text,
    subject             jsonb NOT NULL,
    reporter            jsonb NOT NULL,
    description         text NOT NULL,
    reported_at         timestamptz NOT NULL,
    received_at         timestamptz NOT NULL,
    assigned_at         timestamptz,
    acknowledged_at     timestamptz,
    assessed_at         timestamptz,
    referred_at         timestamptz,
    resolved_at         timestamptz,
    closed_at           timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaints_subject_key ON complaints (subject_key) WHERE subject_key IS NOT NULL;
CREATE INDEX complaints_pendamping_status ON complaints (pendamping_id, status);

-- Append-only audit trail: one row per step, keyed by the workflow's own event key.
CREATE TABLE complaint_events (
    id           bigserial PRIMARY KEY,
    complaint_id text NOT NULL REFERENCES complaints (complaint_id),
    event_key    text NOT NULL,
    event        text NOT NULL,
    actor        text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (complaint_id, event_key)
);
CREATE INDEX complaint_events_event ON complaint_events (event, occurred_at);

CREATE FUNCTION complaint_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'complaint_events is append-only';
END $$;
CREATE TRIGGER complaint_events_no_change BEFORE UPDATE OR DELETE ON complaint_events
    FOR EACH ROW EXECUTE FUNCTION complaint_events_append_only();

-- Notifications written in the same transaction as their event, delivered by the dispatcher.
CREATE TABLE notification_outbox (
    id           bigserial PRIMARY KEY,
    complaint_id text NOT NULL REFERENCES complaints (complaint_id),
    event_key    text NOT NULL,
    recipient_id text NOT NULL REFERENCES officers (officer_id),
    channel      text NOT NULL CHECK (channel IN ('email', 'webhook')),
    subject      text NOT NULL,
    body         text NOT NULL,
    not_before   timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    UNIQUE (complaint_id, event_key, recipient_id, channel)
);
CREATE INDEX notification_outbox_due ON notification_outbox (not_before) WHERE status = 'pending';

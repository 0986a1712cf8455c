-- The referral network (issue 12): partner offices are addressed like officers; each sub-case at a partner
-- office has its own row; further reports of an open case are kept beside it; a repeat after closure links
-- to the earlier case; whether the subject has a NIK yet.

ALTER TABLE officers DROP CONSTRAINT officers_role_check;
ALTER TABLE officers ADD CONSTRAINT officers_role_check
    CHECK (role IN ('pendamping', 'head_of_bidang', 'kepala_dinas', 'partner'));

ALTER TABLE complaints
    ADD COLUMN has_nik       boolean NOT NULL DEFAULT true,
    ADD COLUMN previous_case text,
    ADD COLUMN reports       integer NOT NULL DEFAULT 1;

CREATE TABLE case_referrals (
    complaint_id   text NOT NULL REFERENCES complaints (complaint_id),
    n              integer NOT NULL CHECK (n > 0),
    partner_code   text NOT NULL,
    workflow_id    text NOT NULL UNIQUE,
    status         text NOT NULL CHECK (status IN ('sent', 'accepted', 'overdue', 'done', 'refused', 'withdrawn')),
    required       boolean NOT NULL,
    need           text,            -- what the office is asked to do (may describe the person: personal data)
    provided       text,            -- what the office provided
    refusal_reason text,
    via            text,            -- api, or how an officer received the answer (telepon, surat, langsung)
    sent_at        timestamptz NOT NULL,
    due_at         timestamptz,
    accepted_at    timestamptz,
    answered_at    timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (complaint_id, n)
);
CREATE INDEX case_referrals_open ON case_referrals (partner_code, status)
    WHERE status IN ('sent', 'accepted', 'overdue');

-- A further report of the same person and category while the case was open: it joined the case.
CREATE TABLE complaint_reports (
    complaint_id text NOT NULL REFERENCES complaints (complaint_id),
    workflow_id  text NOT NULL,
    run_id       text NOT NULL,
    channel      text NOT NULL,
    sender_id    text,
    external_ref text,
    reporter     jsonb,             -- personal data, like the case's own reporter
    description  text,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, run_id)
);
CREATE INDEX complaint_reports_case ON complaint_reports (complaint_id);
CREATE INDEX complaints_subject_category ON complaints (subject_key, category, status);

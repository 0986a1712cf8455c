-- The core, built to grow (issue 8): the case row is a projection of the workflow's state, written whole
-- on every recorded step and guarded by the workflow's step sequence; a case opened again after Temporal's
-- retention gets its own row; a failed step is visible; the audit trail refuses TRUNCATE as well.

ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_workflow_id_key;
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_external_ref_key;
ALTER TABLE complaints
    ADD COLUMN run_id          text,
    ADD COLUMN sender_id       text,
    ADD COLUMN sequence        integer NOT NULL DEFAULT 0,
    ADD COLUMN needs_attention text,
    ADD COLUMN conditions      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN original_reported_on date,  -- a late paper report's own date (informational, no SLA effect)
    ADD COLUMN warnings        text[] NOT NULL DEFAULT '{}';
-- A step may be recorded before the intake's personal data could be stored (a case that needs attention).
ALTER TABLE complaints ALTER COLUMN subject DROP NOT NULL;
ALTER TABLE complaints ALTER COLUMN reporter DROP NOT NULL;
ALTER TABLE complaints ALTER COLUMN description DROP NOT NULL;

CREATE INDEX complaints_workflow ON complaints (workflow_id);
-- The sender's own reference is unique per sender (channel plus sender id), not across the office.
CREATE INDEX complaints_sender_ref ON complaints (channel, sender_id, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX complaints_open ON complaints (status) WHERE status NOT IN ('closed', 'rejected');

CREATE FUNCTION complaint_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'complaint_events is append-only: TRUNCATE is refused';
END $$;
CREATE TRIGGER complaint_events_no_truncate BEFORE TRUNCATE ON complaint_events
    FOR EACH STATEMENT EXECUTE FUNCTION complaint_events_no_truncate();

-- Least privilege (issue 11): what holds whichever roles an installation uses. The runtime role's grants are
-- not here: role names differ per installation, so activities/store/roles.py (RUNTIME_GRANTS) grants them
-- after every migration run, as the owner role.

-- Only the schema's owner creates objects in it. PostgreSQL before 15 let every role CREATE in public; from
-- 15 on this changes nothing. (Run by a role that does not own the schema, it is a warning, not an error.)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The audit trails refuse UPDATE, DELETE (001, 004) and TRUNCATE (002, 004) for every role, the owner
-- included. ENABLE ALWAYS keeps those triggers firing under session_replication_role = replica as well,
-- the switch that otherwise silences triggers (a superuser's, or a role granted SET on it).
ALTER TABLE complaint_events ENABLE ALWAYS TRIGGER complaint_events_no_change;
ALTER TABLE complaint_events ENABLE ALWAYS TRIGGER complaint_events_no_truncate;
ALTER TABLE personal_data_access ENABLE ALWAYS TRIGGER personal_data_access_no_change;
ALTER TABLE personal_data_access ENABLE ALWAYS TRIGGER personal_data_access_no_truncate;

COMMENT ON TABLE complaint_events IS 'Append-only audit trail of every case step: triggers refuse UPDATE, DELETE and TRUNCATE.';
COMMENT ON TABLE personal_data_access IS 'Append-only record of reads of personal data (UU PDP 27/2022): triggers refuse UPDATE, DELETE and TRUNCATE.';

-- The HTTP door: API credentials, and the record of who read a case's personal data.

-- Opaque bearer tokens "rjk_<token_id>_<secret>": only a SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    token_id     text PRIMARY KEY CHECK (token_id ~ '^[0-9a-f]{16}$'),
    secret_hash  bytea NOT NULL CHECK (length(secret_hash) = 32),
    kind         text NOT NULL CHECK (kind IN ('officer', 'service', 'partner')),
    -- officer_id, service id or partner code (the partner's scope is its code).
    subject      text NOT NULL CHECK (subject <> ''),
    -- A service's scope: the channels it submits for and, if any, the only villages it may name.
    channels     text[] NOT NULL DEFAULT '{}',
    villages     text[] NOT NULL DEFAULT '{}',
    label        text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK (expires_at > created_at),
    CHECK (kind = 'service' OR (cardinality(channels) = 0 AND cardinality(villages) = 0)),
    CHECK (kind <> 'service' OR cardinality(channels) > 0)
);
CREATE INDEX api_tokens_subject ON api_tokens (kind, subject);

-- UU PDP 27/2022: every read of a case's personal data, by whom and why. Append-only.
CREATE TABLE personal_data_access (
    id             bigserial PRIMARY KEY,
    principal_kind text NOT NULL CHECK (principal_kind IN ('officer', 'service', 'partner')),
    principal_id   text NOT NULL CHECK (principal_id <> ''),
    complaint_id   text NOT NULL REFERENCES complaints (complaint_id),
    fields         text[] NOT NULL CHECK (cardinality(fields) > 0),
    purpose        text NOT NULL CHECK (length(btrim(purpose)) BETWEEN 1 AND 500),
    at             timestamptz NOT NULL DEFAULT now(),
    request_id     text CHECK (length(request_id) <= 128)
);
CREATE INDEX personal_data_access_case ON personal_data_access (complaint_id, at);
CREATE INDEX personal_data_access_principal ON personal_data_access (principal_kind, principal_id, at);

CREATE FUNCTION personal_data_access_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'personal_data_access is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER personal_data_access_no_change BEFORE UPDATE OR DELETE ON personal_data_access
    FOR EACH ROW EXECUTE FUNCTION personal_data_access_append_only();
CREATE TRIGGER personal_data_access_no_truncate BEFORE TRUNCATE ON personal_data_access
    FOR EACH STATEMENT EXECUTE FUNCTION personal_data_access_append_only();

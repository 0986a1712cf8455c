-- The codec server (POST /codec/decode): every decode request, by whom, refused or not. Never the data.
-- The Web UI does not say which workflow it is showing, so a row holds the namespace (X-Namespace), how
-- many payloads were sent and decrypted, under which keys, and the case ids found in what was decrypted.
CREATE TABLE codec_access (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    principal_kind  text NOT NULL CHECK (principal_kind IN ('officer', 'service', 'partner')),
    principal_id    text NOT NULL CHECK (principal_id <> ''),
    role            text,  -- an officer's role at the time (roles change; the record must not)
    allowed         boolean NOT NULL,
    namespace       text NOT NULL DEFAULT '' CHECK (length(namespace) <= 255),
    payload_count   integer NOT NULL CHECK (payload_count >= 0),
    decrypted_count integer NOT NULL CHECK (decrypted_count >= 0 AND decrypted_count <= payload_count),
    key_ids         text[] NOT NULL DEFAULT '{}',
    complaint_ids   text[] NOT NULL DEFAULT '{}',
    origin          text CHECK (length(origin) <= 255),  -- the page that asked (the UI's origin)
    request_id      text CHECK (length(request_id) <= 128)
);
CREATE INDEX codec_access_principal ON codec_access (principal_kind, principal_id, at);
CREATE INDEX codec_access_at ON codec_access (at);
CREATE INDEX codec_access_cases ON codec_access USING gin (complaint_ids);

CREATE FUNCTION codec_access_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'codec_access is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER codec_access_no_change BEFORE UPDATE OR DELETE ON codec_access
    FOR EACH ROW EXECUTE FUNCTION codec_access_append_only();
CREATE TRIGGER codec_access_no_truncate BEFORE TRUNCATE ON codec_access
    FOR EACH STATEMENT EXECUTE FUNCTION codec_access_append_only();
-- Like the other audit trails (005): not silenced by session_replication_role = replica either.
ALTER TABLE codec_access ENABLE ALWAYS TRIGGER codec_access_no_change;
ALTER TABLE codec_access ENABLE ALWAYS TRIGGER codec_access_no_truncate;

-- Erasure after retention (issue 11): each case's personal data is encrypted under a data key of its own,
-- stored here wrapped by the keyring (activities/envelope.py). Erasing a case's personal data is setting
-- its wrapped key to NULL: every ciphertext of the case, those in the append-only trail included, is then
-- unreadable for good. Rows written in clear before this migration have no key row until they are erased.

CREATE TABLE case_keys (
    -- Deferred: the intake writes the key first (it encrypts the row with it), then the case row.
    complaint_id    text PRIMARY KEY REFERENCES complaints (complaint_id) DEFERRABLE INITIALLY DEFERRED,
    wrapping_key_id text,         -- the keyring key that wraps it (an id, never a secret); NULL once erased
    wrapped_key     bytea,        -- nonce || AES-256-GCM(data key); NULL once erased
    created_at      timestamptz NOT NULL DEFAULT now(),
    erased_at       timestamptz,
    CONSTRAINT case_keys_wrapped_or_erased CHECK (
        (erased_at IS NULL AND wrapping_key_id IS NOT NULL AND wrapped_key IS NOT NULL)
        OR (erased_at IS NOT NULL AND wrapping_key_id IS NULL AND wrapped_key IS NULL))
);

-- An erased key stays erased: no role (the owner included) can put a key back.
CREATE FUNCTION case_keys_stay_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.erased_at IS NOT NULL THEN
        RAISE EXCEPTION 'case_keys: the data key of case % is erased and stays erased', OLD.complaint_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER case_keys_stay_erased BEFORE UPDATE ON case_keys
    FOR EACH ROW EXECUTE FUNCTION case_keys_stay_erased();
ALTER TABLE case_keys ENABLE ALWAYS TRIGGER case_keys_stay_erased;

-- The daily erasure looks for finished cases by when they finished.
CREATE INDEX complaints_finished_at ON complaints (closed_at) WHERE status IN ('closed', 'rejected');

COMMENT ON TABLE case_keys IS 'Per-case data keys wrapped by the keyring; a NULL key is an erased case (UU PDP 27/2022).';

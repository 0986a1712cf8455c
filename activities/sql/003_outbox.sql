-- The outbox's claim: which dispatcher is sending a row and until when. A dispatcher renews the
-- expiry while its send is alive; a finish only applies while the token is still the row's.
ALTER TABLE notification_outbox
    ADD COLUMN claim_token   uuid,
    ADD COLUMN claimed_until timestamptz;

-- 'sending': claimed by the holder of claim_token until claimed_until (then any dispatcher may take it).
ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_status_check;
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped'));
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_claim_check
    CHECK ((status = 'sending') = (claim_token IS NOT NULL) AND (claim_token IS NULL) = (claimed_until IS NULL));

-- The due-row scan walks only unfinished rows in delivery order, however many sent rows pile up.
DROP INDEX notification_outbox_due;
CREATE INDEX notification_outbox_claimable ON notification_outbox (not_before, id)
    WHERE status IN ('pending', 'sending');
-- Sends in flight per (recipient, channel): keeps each recipient's rows one after another.
CREATE INDEX notification_outbox_in_flight ON notification_outbox (recipient_id, channel, claimed_until)
    WHERE status = 'sending';

-- Erasure that survives a replay. A person who asked to be deleted is recorded here as
-- keyed hashes (HMAC-SHA256 with the operators' LEADPIPE_ERASURE_KEY) of their email and
-- phone number — never the values — and the consumer's insert skips every lead whose
-- email or phone hash is recorded, in the statement that inserts, so a message still on
-- the topic (a replay, a new consumer group, a dead letter replayed) never brings the
-- person back.

-- One row per erased email or phone number: HMAC-SHA256(key, 'email:' || lower(email))
-- or HMAC-SHA256(key, 'phone:' || phone_e164).
CREATE TABLE erasures (
    hash      bytea       PRIMARY KEY CHECK (length(hash) = 32),
    erased_at timestamptz NOT NULL DEFAULT now()
);

-- What each erasure did: when, and how many rows it removed. Not who asked, not whom.
CREATE TABLE erasure_log (
    id           bigserial   PRIMARY KEY,
    erased_at    timestamptz NOT NULL DEFAULT now(),
    rows_removed integer     NOT NULL CHECK (rows_removed >= 0)
);

-- The fingerprint of the key the hashes were made with (HMAC-SHA256 of a fixed text),
-- recorded by the first erasure: a consumer or an erasure with another key, or with
-- none, is refused instead of silently matching nobody.
CREATE TABLE erasure_key (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint bytea   NOT NULL CHECK (length(fingerprint) = 32)
);

COMMENT ON TABLE erasures IS 'Keyed hashes of erased emails and phone numbers; leads matching one are never stored again.';
COMMENT ON TABLE erasure_log IS 'One row per erasure: when, and how many rows it removed.';
COMMENT ON TABLE erasure_key IS 'Fingerprint of the erasure key the hashes were made with.';

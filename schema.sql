-- The whole SQLite schema of otpd, embedded in the binary.
--
-- Each "-- version N" block upgrades a database from version N-1 to N. The store applies
-- every block above the database's PRAGMA user_version in one transaction and then sets
-- user_version, so an upgrade either happens whole or not at all. Never edit a released
-- block: add a new one.
--
-- Times are integer milliseconds since the Unix epoch (UTC). No column ever holds an OTP
-- code or a message text: only code_hash, an HMAC keyed with the pepper file.

-- version 1
CREATE TABLE verification (
    id              TEXT PRIMARY KEY,
    appid           TEXT NOT NULL,
    recipient       TEXT NOT NULL,          -- E.164
    status          TEXT NOT NULL,          -- pending | approved | expired | canceled | max_attempts_reached | failed | blocked
    channel_request TEXT,                   -- the channel asked for, NULL for any
    sender          TEXT,                   -- the "from" asked for
    code_length     INTEGER NOT NULL,
    ttl_ms          INTEGER NOT NULL,
    code_hash       BLOB,                   -- NULL until the dispatcher draws the code
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    last_send_at    INTEGER NOT NULL,
    verified_at     INTEGER,
    ended_at        INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,   -- failed verifies, never reset by a resend
    max_attempts    INTEGER NOT NULL,
    sends           INTEGER NOT NULL DEFAULT 1,
    -- delivery of the latest send
    delivery_state   TEXT NOT NULL DEFAULT 'queued', -- queued | submitted | delivered | undelivered | expired | rejected | unknown
    delivery_channel TEXT,
    message_id       TEXT,
    submitted_at     INTEGER,
    delivered_at     INTEGER,
    delivery_error   TEXT
) STRICT;
CREATE INDEX verification_pending_recipient ON verification (appid, recipient) WHERE status = 'pending';
CREATE INDEX verification_pending_expiry ON verification (expires_at) WHERE status = 'pending';
CREATE INDEX verification_message ON verification (delivery_channel, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX verification_created ON verification (created_at);

-- One row per send that still has to reach a channel. Deleted once a channel accepted it,
-- or when it can no longer be delivered.
CREATE TABLE outbox (
    verification_id TEXT PRIMARY KEY REFERENCES verification (id) ON DELETE CASCADE,
    due_at          INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,  -- claimed by the dispatcher until then
    tries           INTEGER NOT NULL DEFAULT 0,
    exhausted       TEXT NOT NULL DEFAULT ''     -- channels that gave up on it, comma-separated
) STRICT;
CREATE INDEX outbox_due ON outbox (due_at);

CREATE TABLE api_key (
    key         TEXT PRIMARY KEY,
    appid       TEXT NOT NULL,
    secret_hash BLOB NOT NULL,                   -- SHA-256 of the secret (256 random bits)
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

CREATE TABLE idempotency (
    appid        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (appid, key)
) STRICT;
CREATE INDEX idempotency_created ON idempotency (created_at);

-- What happened to each verification, for operators (GET /otp/logs later).
CREATE TABLE event (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    verification_id TEXT NOT NULL,
    event           TEXT NOT NULL,
    detail          TEXT
) STRICT;
CREATE INDEX event_verification ON event (verification_id, id);

-- version 2
-- Rate limits and the lockout (config [limits]), here so that they hold across restarts.
-- Each row says when it stops mattering (forget_at); the sweeper deletes it then.

-- Per recipient (across apps): the latest accepted sends, for the exact sliding windows of
-- per_recipient, and the run of failed verifies of the lockout.
CREATE TABLE limit_recipient (
    recipient    TEXT PRIMARY KEY,                 -- E.164
    sends        BLOB NOT NULL,                    -- send times, 8-byte little-endian ms each, oldest first
    failures     INTEGER NOT NULL DEFAULT 0,       -- failed verifies in a row, across verifications
    last_failure INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER NOT NULL DEFAULT 0,
    forget_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX limit_recipient_forget ON limit_recipient (forget_at);

-- Sliding-window counters of per_app, per_key, per_ip and per_prefix: for each key and window
-- length, the count of the current fixed window and of the one before.
CREATE TABLE limit_counter (
    scope     TEXT NOT NULL,                       -- app | key | ip | prefix
    key       TEXT NOT NULL,                       -- the appid, API key, client IP (IPv6: its /64) or "+CC"
    window_ms INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,                    -- the current fixed window starts at bucket * window_ms
    count     INTEGER NOT NULL,
    previous  INTEGER NOT NULL,                    -- the count of fixed window bucket - 1
    forget_at INTEGER NOT NULL,                    -- (bucket + 2) * window_ms
    PRIMARY KEY (scope, key, window_ms)
) STRICT, WITHOUT ROWID;
CREATE INDEX limit_counter_forget ON limit_counter (forget_at);

-- Events about no verification (a send refused by a limit) have verification_id ''.

-- version 3
-- Webhooks ([[webhook]]): one row per (event, subscribed webhook), written in the same
-- transaction as the event, so a crash never loses one. The row keeps a copy of what the
-- payload says (the event and the verification as it was then), so a retry sends the same
-- facts and retention of `event` cannot empty it. Rows stay after they end, as the delivery log.
CREATE TABLE webhook_delivery (
    id              INTEGER PRIMARY KEY,         -- the delivery id receivers see
    webhook         TEXT NOT NULL,               -- the webhook's name in the config
    event_id        INTEGER NOT NULL,            -- event.id
    event           TEXT NOT NULL,
    at              INTEGER NOT NULL,            -- when the event happened
    verification_id TEXT NOT NULL,
    appid           TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL,               -- the verification's status right after the event
    delivery_state  TEXT NOT NULL,
    delivery_channel TEXT,
    message_id      TEXT,
    delivery_error  TEXT,
    detail          TEXT,
    state           TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | failed
    due_at          INTEGER NOT NULL,            -- next try (pending rows only)
    lease_until     INTEGER NOT NULL DEFAULT 0,  -- claimed by the sender until then
    tries           INTEGER NOT NULL DEFAULT 0,
    ended_at        INTEGER,
    last_error      TEXT
) STRICT;
CREATE INDEX webhook_delivery_due ON webhook_delivery (due_at) WHERE state = 'pending';
CREATE INDEX webhook_delivery_app ON webhook_delivery (appid, id);
CREATE INDEX webhook_delivery_ended ON webhook_delivery (ended_at) WHERE state != 'pending';

-- Every HTTP attempt of a delivery: the delivery log.
CREATE TABLE webhook_attempt (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    http_status INTEGER,                         -- NULL when no response came
    error       TEXT,                            -- why it failed, when it did
    duration_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_attempt_delivery ON webhook_attempt (delivery_id, id);
-- version 4
-- The SMS-pumping guard (config [fraud]): per number prefix and per client address, the codes
-- sent and approved in the current fixed window of `window` and in the one before, for the
-- share of codes never verified. Pruned once forget_at has passed, like limit_counter.
CREATE TABLE fraud_counter (
    scope              TEXT NOT NULL,              -- prefix | ip
    key                TEXT NOT NULL,              -- "+25571", or a client IP (IPv6: its /64)
    window_ms          INTEGER NOT NULL,
    bucket             INTEGER NOT NULL,           -- the current fixed window starts at bucket * window_ms
    sends              INTEGER NOT NULL,
    approvals          INTEGER NOT NULL,
    previous_sends     INTEGER NOT NULL,           -- of fixed window bucket - 1
    previous_approvals INTEGER NOT NULL,
    forget_at          INTEGER NOT NULL,           -- (bucket + 2) * window_ms
    PRIMARY KEY (scope, key, window_ms)
) STRICT, WITHOUT ROWID;
CREATE INDEX fraud_counter_forget ON fraud_counter (forget_at);
-- The guard keys a send was counted under (NULL: not counted), so that its approval counts
-- under the same ones.
ALTER TABLE verification ADD COLUMN fraud_prefix TEXT;
ALTER TABLE verification ADD COLUMN fraud_ip TEXT;
-- version 5
-- The management API (GET /otp/list, /otp/logs, /otp/attempts, /otp/reports). Lists are read
-- newest first with keyset pagination on (time, rowid): every index below ends in the rowid
-- implicitly, so a page is one range scan of one index, however deep.
CREATE INDEX verification_app_created ON verification (appid, created_at);
CREATE INDEX verification_app_status_created ON verification (appid, status, created_at);
CREATE INDEX verification_status_created ON verification (status, created_at);
CREATE INDEX verification_recipient_created ON verification (recipient, created_at);

-- The app of each event, so that a key sees its own app's events, including those about no
-- verification (a send refused by a limit). Filled from the verification when inserted.
ALTER TABLE event ADD COLUMN appid TEXT;
UPDATE event SET appid = (SELECT appid FROM verification WHERE verification.id = event.verification_id);
CREATE INDEX event_app_at ON event (appid, at);
CREATE INDEX event_at ON event (at);

-- Every judged verify (a code compared): GET /otp/attempts.
CREATE TABLE attempt (
    id              INTEGER PRIMARY KEY,
    verification_id TEXT NOT NULL,
    at              INTEGER NOT NULL,
    valid           INTEGER NOT NULL,           -- 1 approved, 0 not
    reason          TEXT,                       -- incorrect_code | max_attempts_reached; NULL when valid
    source          TEXT NOT NULL,              -- "unix", or the client's IP address
    api_key         TEXT                        -- the API key's id (never its secret), on TCP
) STRICT;
CREATE INDEX attempt_verification ON attempt (verification_id, id);
-- version 6
-- Retention ([store] retention): the sweeper deletes verifications that ended longer ago than
-- that (with their events and attempts), and events about no verification by their age. These
-- partial indexes hold only the rows that can ever go, so a pass that finds nothing is two
-- short index probes.
CREATE INDEX verification_ended ON verification (ended_at) WHERE status != 'pending';
CREATE INDEX event_unattached_at ON event (at) WHERE verification_id = '';

-- Admin actions (API keys created and revoked), each written in the transaction of the change
-- it records. Retention never deletes them.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,                 -- who: "cli:<login name>"
    action TEXT NOT NULL,                 -- key_created | key_revoked
    target TEXT NOT NULL,                 -- what: "<appid>/<api key id>", never a secret
    detail TEXT
) STRICT;
CREATE INDEX audit_at ON audit (at);
-- version 7
-- Delivery reports that matched no message when they came: mostly a receipt that overtook the
-- record of its own submit (the SMSC answers fast). Held here rather than in memory, so the
-- report is acknowledged to the network at once and a crash before its submit is recorded
-- loses nothing; recording the submit applies it. The sweeper deletes what nothing claimed.
CREATE TABLE held_report (
    channel    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    state      TEXT NOT NULL,                -- a delivery state, as the report gave it
    error      TEXT,
    at         INTEGER NOT NULL,             -- when the report says it happened
    held_at    INTEGER NOT NULL,             -- when it arrived
    PRIMARY KEY (channel, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX held_report_held_at ON held_report (held_at);

//! Schema migrations, applied in order at startup by every process that connects.
//!
//! The DDL is portable: ids are TEXT (UUIDs), times are BIGINT microseconds since the
//! epoch, booleans are BIGINT 0/1, JSON documents are TEXT. All pending migrations run in
//! one transaction with their version rows, so a crash leaves either all or none.

use anyhow::Context;
use sqlx::Executor;

use super::{Dialect, Store};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, INITIAL),
    (2, EVENTS_AND_WEBHOOKS),
    (3, PROVIDERS_AND_RECORDINGS),
    (4, IDEMPOTENCY_RECOVERY),
    (5, FAIR_JOBS),
    (6, JOB_INDEXES),
    (7, EVENT_STREAM),
    (8, SESSION_AGENTS),
    (9, OAUTH),
    (10, COMPLIANCE),
    (11, VOICEMAIL),
    (12, CAMPAIGNS),
    (13, INBOUND),
];

const INITIAL: &str = r#"
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE businesses (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT,
    timezone TEXT NOT NULL,
    subscription_status TEXT NOT NULL,
    included_minutes BIGINT NOT NULL,
    webhook_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users(id),
    business_id TEXT NOT NULL REFERENCES businesses(id),
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, business_id)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    business_id TEXT REFERENCES businesses(id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    name TEXT NOT NULL,
    system_prompt TEXT,
    first_message TEXT,
    voice TEXT NOT NULL,
    model TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vapi_assistant_id TEXT,
    max_duration BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX agents_business ON agents (business_id, created_at);

CREATE TABLE phone_numbers (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    agent_id TEXT REFERENCES agents(id),
    phone_number TEXT NOT NULL UNIQUE,
    vapi_phone_number_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX phone_numbers_business ON phone_numbers (business_id, created_at);

CREATE TABLE leads (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    agent_id TEXT,
    name TEXT,
    first_name TEXT,
    last_name TEXT,
    phone TEXT,
    email TEXT,
    status TEXT NOT NULL,
    source TEXT,
    score BIGINT,
    notes TEXT,
    metadata TEXT NOT NULL,
    interaction_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX leads_business ON leads (business_id, created_at);
CREATE INDEX leads_phone ON leads (business_id, phone);

CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    lead_id TEXT,
    key_id TEXT,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    direction TEXT NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT,
    name TEXT,
    context TEXT,
    first_message TEXT,
    max_duration BIGINT NOT NULL,
    webhook_url TEXT,
    webhook_events TEXT NOT NULL,
    metadata TEXT,
    variables TEXT NOT NULL,
    provider TEXT NOT NULL,
    conversation_id TEXT,
    ended_reason TEXT,
    provider_ended_reason TEXT,
    error TEXT,
    duration BIGINT,
    summary TEXT,
    transcript TEXT,
    recording_url TEXT,
    quality_dimensions TEXT,
    cost_cents BIGINT,
    scheduled_at BIGINT,
    started_at BIGINT,
    ended_at BIGINT,
    created_at BIGINT NOT NULL UNIQUE,
    updated_at BIGINT NOT NULL
);
CREATE INDEX calls_business_created ON calls (business_id, mode, created_at);
CREATE INDEX calls_conversation ON calls (conversation_id);

CREATE TABLE call_events (
    id TEXT PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls(id),
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_id, created_at);

CREATE TABLE usage_log (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    business_id TEXT,
    mode TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    method TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    call_id TEXT,
    cost_cents BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX usage_log_user ON usage_log (user_id, mode, created_at);
CREATE INDEX usage_log_call ON usage_log (call_id);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    locked_until BIGINT,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (due_at);
"#;

/// Durable events, webhook subscriptions and deliveries (every attempt a row), the
/// business secret's rotation overlap, and saved idempotent responses.
const EVENTS_AND_WEBHOOKS: &str = r#"
ALTER TABLE businesses ADD COLUMN previous_webhook_secret TEXT;
ALTER TABLE businesses ADD COLUMN previous_secret_expires_at BIGINT;

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    business_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_business ON events (business_id, mode, created_at);
CREATE INDEX events_object ON events (object_id, created_at);

CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    mode TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    is_active BIGINT NOT NULL,
    secret TEXT NOT NULL,
    disabled_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_business ON webhook_subscriptions (business_id, mode);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events(id),
    business_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    call_id TEXT,
    subscription_id TEXT,
    url TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_status_code BIGINT,
    last_error TEXT,
    next_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_call ON deliveries (call_id);
CREATE INDEX deliveries_business ON deliveries (business_id, mode, created_at);

CREATE TABLE delivery_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries(id),
    attempt BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    latency_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempt);

CREATE TABLE idempotency_keys (
    key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code BIGINT,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
"#;

/// The provider's live-call control URL; stored recordings; server-wide settings
/// (the recording-link signing key).
const PROVIDERS_AND_RECORDINGS: &str = r#"
ALTER TABLE calls ADD COLUMN provider_control_url TEXT;
ALTER TABLE calls ADD COLUMN recording_key TEXT;
ALTER TABLE calls ADD COLUMN recording_source TEXT;
ALTER TABLE calls ADD COLUMN outcome TEXT;

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

/// An idempotency claim names the call it began (written with the call) and how long
/// its request holds it, so a retry after a crash finds and finishes that call. A job
/// that can no longer succeed is kept, dead, instead of retried forever.
const IDEMPOTENCY_RECOVERY: &str = r#"
ALTER TABLE idempotency_keys ADD COLUMN call_id TEXT;
ALTER TABLE idempotency_keys ADD COLUMN locked_until BIGINT;
ALTER TABLE jobs ADD COLUMN dead_at BIGINT
"#;

/// What the worker's fair scheduling needs to know of a job without reading its
/// payload: the key of the jobs that run one after another (a call, or one object's
/// deliveries to one target), the receiver it talks to and the business it works for
/// (`jobs::Keys`). Older rows have none: the worker falls back to the payload's
/// `order` or the subject.
const FAIR_JOBS: &str = r#"
ALTER TABLE jobs ADD COLUMN order_key TEXT;
ALTER TABLE jobs ADD COLUMN target TEXT;
ALTER TABLE jobs ADD COLUMN tenant TEXT
"#;

/// A call's timers are cancelled by subject (every dial and every call's end), and
/// each lane claims only its own kinds: without these, both scanned every job row,
/// so their cost grew with the backlog.
const JOB_INDEXES: &str = r#"
CREATE INDEX jobs_subject ON jobs (subject_id, kind);
CREATE INDEX jobs_kind_due ON jobs (kind, due_at)
"#;

/// The live event stream (`events::stream`) reads events in commit order. On SQLite
/// that is `rowid` order (one writer connection commits one transaction at a time);
/// PostgreSQL's parts are in `postgres_extras`.
const EVENT_STREAM: &str = "";

/// A session remembers the browser it was opened from (the dashboard lists them).
const SESSION_AGENTS: &str = "ALTER TABLE sessions ADD COLUMN user_agent TEXT";

/// OAuth 2.1 for MCP clients (`oauth`): registered clients, grants (one user,
/// business, mode, scope set and resource each), one-time codes and tokens, all
/// secrets stored as SHA-256 hashes.
const OAUTH: &str = r#"
CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY,
    secret_hash TEXT,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE oauth_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    business_id TEXT NOT NULL REFERENCES businesses(id),
    mode TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX oauth_grants_user ON oauth_grants (user_id, created_at);

CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id),
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE oauth_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id),
    kind TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
"#;

/// Compliance (`compliance`): the do-not-call list (one entry in force per business
/// and number; removals kept with their reason), consent records, every refused dial
/// with its reason, each business's calling-hours settings; on calls, the opt-out and
/// the pre-dial decision (zone, rule, window).
const COMPLIANCE: &str = r#"
CREATE TABLE dnc_entries (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    phone TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT,
    call_id TEXT,
    created_at BIGINT NOT NULL,
    removed_at BIGINT,
    removed_reason TEXT
);
CREATE UNIQUE INDEX dnc_in_force ON dnc_entries (business_id, phone) WHERE removed_at IS NULL;
CREATE INDEX dnc_business ON dnc_entries (business_id, created_at);

CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    lead_id TEXT,
    phone TEXT,
    basis TEXT NOT NULL,
    source TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX consents_phone ON consents (business_id, phone);
CREATE INDEX consents_lead ON consents (business_id, lead_id);

CREATE TABLE dial_refusals (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    mode TEXT NOT NULL,
    phone TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    decision TEXT,
    key_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX dial_refusals_business ON dial_refusals (business_id, created_at);

CREATE TABLE compliance_settings (
    business_id TEXT PRIMARY KEY REFERENCES businesses(id),
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    quiet_days TEXT NOT NULL,
    enforce_single_calls BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

ALTER TABLE calls ADD COLUMN opt_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN compliance TEXT;
"#;

/// Voicemail: what an agent does on reaching one (leave a message or hang up) and
/// what it says; on calls, who answered and whether a message was left.
const VOICEMAIL: &str = r#"
ALTER TABLE agents ADD COLUMN voicemail_action TEXT;
ALTER TABLE agents ADD COLUMN voicemail_message TEXT;
ALTER TABLE calls ADD COLUMN answered_by TEXT;
ALTER TABLE calls ADD COLUMN voicemail_left BIGINT NOT NULL DEFAULT 0
"#;

/// Campaigns (`campaigns`): a list of contacts called by an agent inside the rules,
/// each contact once per key (`UNIQUE (campaign_id, contact_key)`), with its state,
/// attempts and calls; calls name their campaign.
const CAMPAIGNS: &str = r#"
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    mode TEXT NOT NULL,
    key_id TEXT,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id),
    status TEXT NOT NULL,
    context TEXT,
    first_message TEXT,
    variables TEXT NOT NULL,
    max_concurrency BIGINT NOT NULL,
    starts_at BIGINT,
    ends_at BIGINT,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    quiet_days TEXT NOT NULL,
    retry TEXT NOT NULL,
    require_consent TEXT,
    voicemail_action TEXT,
    voicemail_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX campaigns_business ON campaigns (business_id, mode, created_at);

CREATE TABLE campaign_contacts (
    id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    business_id TEXT NOT NULL,
    contact_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    phone TEXT NOT NULL,
    name TEXT,
    lead_id TEXT,
    variables TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    call_id TEXT,
    call_ids TEXT NOT NULL,
    outcome TEXT,
    skip_reason TEXT,
    detail TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (campaign_id, contact_key)
);
CREATE INDEX campaign_contacts_due ON campaign_contacts (campaign_id, state, next_at, seq);
CREATE INDEX campaign_contacts_phone ON campaign_contacts (campaign_id, phone);
CREATE INDEX campaign_contacts_business ON campaign_contacts (business_id, state);
CREATE INDEX campaign_contacts_call ON campaign_contacts (call_id);

ALTER TABLE calls ADD COLUMN campaign_id TEXT;
CREATE INDEX calls_campaign ON calls (campaign_id);
CREATE INDEX calls_business_status ON calls (business_id, status)
"#;

/// Inbound calls (`inbound`): the agent's inbound and outbound faces, business hours,
/// what to do out of hours and where to transfer; on calls, how an inbound call was
/// taken, the lead it created and where it was transferred (one inbound call per
/// provider conversation); timeline entries beyond status changes (tool calls);
/// voicemails; staff alert settings and every alert with its delivery outcome.
const INBOUND: &str = r#"
ALTER TABLE agents ADD COLUMN inbound_prompt TEXT;
ALTER TABLE agents ADD COLUMN outbound_prompt TEXT;
ALTER TABLE agents ADD COLUMN inbound_greeting TEXT;
ALTER TABLE agents ADD COLUMN business_hours TEXT;
ALTER TABLE agents ADD COLUMN after_hours_action TEXT;
ALTER TABLE agents ADD COLUMN transfer_destinations TEXT;
ALTER TABLE calls ADD COLUMN handling TEXT;
ALTER TABLE calls ADD COLUMN lead_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN transfer_destination TEXT;
CREATE UNIQUE INDEX calls_inbound_conversation ON calls (conversation_id) WHERE direction = 'inbound';
CREATE INDEX calls_business_direction ON calls (business_id, direction, created_at);
ALTER TABLE call_events ADD COLUMN kind TEXT;
ALTER TABLE call_events ADD COLUMN data TEXT;

CREATE TABLE voicemails (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    mode TEXT NOT NULL,
    call_id TEXT NOT NULL UNIQUE REFERENCES calls(id),
    lead_id TEXT,
    caller TEXT NOT NULL,
    transcript TEXT NOT NULL,
    summary TEXT,
    duration BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX voicemails_business ON voicemails (business_id, mode, created_at);

CREATE TABLE staff_alert_settings (
    business_id TEXT PRIMARY KEY REFERENCES businesses(id),
    enabled BIGINT NOT NULL,
    emails TEXT NOT NULL,
    webhook_url TEXT,
    events TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE staff_alerts (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id),
    mode TEXT NOT NULL,
    call_id TEXT,
    event TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX staff_alerts_business ON staff_alerts (business_id, mode, created_at)
"#;

/// PostgreSQL only, after the portable part of a migration: statements run whole (a
/// function body holds semicolons). Migration 5: new jobs, call status changes and
/// key revocations `NOTIFY` at commit, waking the worker and `?wait=` and emptying
/// the key cache on every instance (`wake::listen`).
fn postgres_extras(version: i64) -> &'static [&'static str] {
    match version {
        5 => &[
            // One notification per kind and transaction (PostgreSQL folds duplicates).
            "CREATE FUNCTION kaicalls_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_notify('kaicalls_jobs', NEW.kind); RETURN NULL; END $$",
            "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
             FOR EACH ROW EXECUTE FUNCTION kaicalls_notify_jobs()",
            "CREATE FUNCTION kaicalls_notify_call() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_notify('kaicalls_calls', NEW.id); RETURN NULL; END $$",
            "CREATE TRIGGER calls_notify AFTER UPDATE OF status ON calls
             FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
             EXECUTE FUNCTION kaicalls_notify_call()",
            "CREATE FUNCTION kaicalls_notify_key() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_notify('kaicalls_keys', NEW.id); RETURN NULL; END $$",
            "CREATE TRIGGER api_keys_notify AFTER UPDATE OF revoked_at, expires_at, scopes, business_id
             ON api_keys FOR EACH ROW EXECUTE FUNCTION kaicalls_notify_key()",
        ],
        // Events carry the writing transaction's id and a sequence: a reader that
        // takes only transactions below its snapshot's xmin (all finished) reads a
        // prefix of the commit history that never gains rows before its end.
        7 => &[
            "ALTER TABLE events ADD COLUMN tx BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)",
            "ALTER TABLE events ADD COLUMN seq BIGSERIAL",
            "CREATE INDEX events_stream ON events (tx, seq)",
            "CREATE FUNCTION kaicalls_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_notify('kaicalls_events', ''); RETURN NULL; END $$",
            "CREATE TRIGGER events_notify AFTER INSERT ON events
             FOR EACH STATEMENT EXECUTE FUNCTION kaicalls_notify_events()",
        ],
        _ => &[],
    }
}

pub async fn apply(store: &Store) -> anyhow::Result<()> {
    let mut conn = store.pool.acquire().await?;
    // Several processes may start at once against one database (two servers, or
    // `admin bootstrap` beside `serve`): one migrates while the others wait, then they
    // see its versions and skip them.
    match store.dialect {
        Dialect::Postgres => {
            conn.execute("SELECT pg_advisory_lock(7403552901)").await?;
            conn.execute("BEGIN").await?;
        }
        Dialect::Sqlite => {
            conn.execute("BEGIN IMMEDIATE").await?;
        }
    }
    let result = apply_locked(&mut conn, store.dialect).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute(end).await?;
    if store.dialect == Dialect::Postgres {
        conn.execute("SELECT pg_advisory_unlock(7403552901)")
            .await?;
    }
    result
}

async fn apply_locked(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> anyhow::Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?;
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            conn.execute(statement)
                .await
                .with_context(|| format!("migration {version} failed at: {statement}"))?;
        }
        if dialect == Dialect::Postgres {
            for statement in postgres_extras(*version) {
                conn.execute(*statement)
                    .await
                    .with_context(|| format!("migration {version} failed at: {statement}"))?;
            }
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(chrono::Utc::now().timestamp_micros())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

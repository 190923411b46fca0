//! Metering: one usage row per key-authenticated request (written by the auth
//! middleware, or by the handler itself when the row must commit with its work), the
//! `/usage` log and the `/balance` summary.

pub mod routes;

use crate::auth::KeyPrincipal;
use crate::clock::Timestamp;
use crate::ids;
use crate::store::sql::Arg;
use crate::store::{group, Store, Tx};

/// Cents per started minute of a completed live call.
pub const CENTS_PER_MINUTE: i64 = 5;

/// Set on a response whose handler already wrote its usage row in its own transaction.
#[derive(Clone, Copy)]
pub struct UsageRecorded;

/// Set on a response that concerns a call, so its usage row links to it.
#[derive(Clone)]
pub struct UsageCallId(pub String);

pub struct Entry<'a> {
    pub endpoint: String,
    pub method: &'a str,
    pub status_code: u16,
    pub call_id: Option<&'a str>,
    pub cost_cents: i64,
}

/// `/api/v1/calls` → `/v1/calls` (the reference's form).
pub fn endpoint_of(path: &str) -> String {
    path.strip_prefix("/api").unwrap_or(path).to_string()
}

/// The cost of a live call of `duration_secs`: every started minute is billed.
pub fn call_cost_cents(duration_secs: i64) -> i64 {
    (duration_secs.max(0) + 59) / 60 * CENTS_PER_MINUTE
}

const INSERT: &str = "INSERT INTO usage_log (id, key_id, user_id, business_id, mode, endpoint, method, status_code, call_id, cost_cents, created_at)";
const COLUMNS: usize = 11;

fn row(key: &KeyPrincipal, entry: &Entry<'_>, now: Timestamp) -> Vec<Arg> {
    vec![
        ids::new_id().into(),
        key.key_id.as_str().into(),
        key.tenant.user_id.as_str().into(),
        key.key_business_id.as_deref().into(),
        key.tenant.mode.as_str().into(),
        entry.endpoint.as_str().into(),
        entry.method.into(),
        i64::from(entry.status_code).into(),
        entry.call_id.into(),
        entry.cost_cents.into(),
        now.micros().into(),
    ]
}

/// Writes the usage row of a request through the group commit (`store::group`):
/// returns once it is committed, so a request answered after this has its row.
pub async fn record(
    store: &Store,
    key: &KeyPrincipal,
    entry: &Entry<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    store
        .insert_grouped(INSERT, COLUMNS, row(key, entry, now))
        .await
}

/// Writes the usage row inside `tx`, for a request whose row commits with its work.
pub async fn record_in(
    tx: &mut Tx,
    key: &KeyPrincipal,
    entry: &Entry<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    let sql = group::statement(INSERT, COLUMNS, [row(key, entry, now)]);
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

/// The usage row of a call a campaign placed: the campaign creator's, as
/// `POST /v1/campaigns` with the call's id (its cost set when the call ends).
pub async fn record_campaign_call(
    tx: &mut Tx,
    campaign: &crate::campaigns::Campaign,
    call_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    let row = CallRow {
        key_id: &campaign.key_id,
        user_id: &campaign.user_id,
        business_id: &campaign.business_id,
        mode: campaign.mode,
        endpoint: "/v1/campaigns",
        call_id,
    };
    record_call_row(tx, &row, now).await
}

/// The endpoint inbound calls are metered under.
pub const INBOUND_ENDPOINT: &str = "/v1/inbound-calls";

/// Who a call nobody's request created is metered to, and under which endpoint.
pub struct CallRow<'a> {
    pub key_id: &'a str,
    pub user_id: &'a str,
    pub business_id: &'a str,
    pub mode: crate::auth::api_key::Mode,
    pub endpoint: &'a str,
    pub call_id: &'a str,
}

/// The usage row of a call nobody's request created (a campaign's, an inbound call, a
/// callback an agent scheduled during one): metered to `key_id` (the sandbox key, or
/// `number:<id>` for the number that was called) and the user, under `endpoint`; its
/// cost is set when the call ends.
pub async fn record_call_row(tx: &mut Tx, r: &CallRow<'_>, now: Timestamp) -> sqlx::Result<()> {
    let row: Vec<Arg> = vec![
        ids::new_id().into(),
        r.key_id.into(),
        r.user_id.into(),
        r.business_id.into(),
        r.mode.as_str().into(),
        r.endpoint.into(),
        "POST".into(),
        Arg::Int(201),
        r.call_id.into(),
        Arg::Int(0),
        now.micros().into(),
    ];
    group::statement(INSERT, COLUMNS, [row])
        .query()
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets the cost on the usage row of the request that created the call.
pub async fn set_call_cost(tx: &mut Tx, call_id: &str, cost_cents: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE usage_log SET cost_cents = $1 WHERE call_id = $2 AND method = 'POST' AND endpoint IN ('/v1/calls', '/v1/campaigns', '/v1/inbound-calls')")
        .bind(cost_cents)
        .bind(call_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cost_bills_started_minutes() {
        assert_eq!(super::call_cost_cents(0), 0);
        assert_eq!(super::call_cost_cents(1), 5);
        assert_eq!(super::call_cost_cents(60), 5);
        assert_eq!(super::call_cost_cents(127), 15);
    }
}

//! Operations endpoints and metrics: `/healthz` (the process answers; no database),
//! `/readyz` (the database answers), `/metrics` (Prometheus text format).
//!
//! Metrics are recorded where things happen, through the `metrics` facade, into the
//! one process-wide Prometheus recorder installed here:
//! - `kaicalls_http_requests_total{method,route,status}` and
//!   `kaicalls_http_request_duration_seconds{method,route}` (`http::request_id_and_log`;
//!   `route` is the matched route, never the raw path);
//! - `kaicalls_call_transitions_total{status}` (`calls::repo::save_state`);
//! - `kaicalls_webhook_attempts_total{outcome}` and
//!   `kaicalls_webhook_attempt_duration_seconds` (`webhooks::delivery`);
//! - `kaicalls_jobs_total{kind,outcome}` and `kaicalls_job_lag_seconds{kind}` (the
//!   time from due to started; `jobs::worker`);
//! - read at each scrape: `kaicalls_jobs_pending{kind}`, `kaicalls_jobs_due{kind}`
//!   (due and not yet done: the lag's backlog), `kaicalls_webhook_backlog` (deliveries
//!   not yet done), `kaicalls_db_pool_connections{state, pool}`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use sqlx::Row;

use crate::app::AppState;

/// Seconds: from a millisecond to the webhook timeout and beyond.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (every histogram with `BUCKETS`).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may exist only in tests that install their own.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Drains the histograms' recent samples into their buckets every few seconds, so
/// memory stays flat between scrapes (the recorder leaves this to its owner).
pub fn spawn_upkeep() {
    tokio::spawn(async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            handle().run_upkeep();
        }
    });
}

/// `GET /healthz`: the process is alive and serving. Touches nothing else.
pub async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: ready for traffic when the database answers; 503 otherwise (the
/// cause is logged, not sent).
pub async fn readyz(State(app): State<AppState>) -> Response {
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(&app.store.pool)
        .await
    {
        Ok(_) => axum::Json(json!({"status": "ready"})).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readyz: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: everything recorded so far, plus the gauges read now.
pub async fn metrics(State(app): State<AppState>) -> Response {
    let handle = handle();
    if let Err(err) = scrape_gauges(&app).await {
        tracing::warn!(error = %err, "metrics: could not read the database gauges");
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

async fn scrape_gauges(app: &AppState) -> sqlx::Result<()> {
    // Writers and readers are one pool on PostgreSQL; on SQLite the readers are their
    // own (`store`), reported with `pool="reader"`.
    let pools = [("writer", &app.store.pool), ("reader", app.store.reader())];
    for (name, pool) in pools {
        let idle = pool.num_idle() as f64;
        metrics::gauge!("kaicalls_db_pool_connections", "state" => "idle", "pool" => name)
            .set(idle);
        metrics::gauge!("kaicalls_db_pool_connections", "state" => "busy", "pool" => name)
            .set(pool.size() as f64 - idle);
    }
    let pool = app.store.reader();
    // The jobs table holds only work not yet done: small, and indexed by due time.
    let now = app.clock.now().micros();
    let rows = sqlx::query(
        "SELECT kind, COUNT(*), SUM(CASE WHEN due_at <= $1 THEN 1 ELSE 0 END) FROM jobs
         WHERE dead_at IS NULL GROUP BY kind",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for kind in crate::jobs::Kind::ALL {
        let row = rows.iter().find(|r| r.get::<String, _>(0) == kind.as_str());
        let (pending, due) = row.map_or((0, 0), |r| (r.get::<i64, _>(1), r.get::<i64, _>(2)));
        metrics::gauge!("kaicalls_jobs_pending", "kind" => kind.as_str()).set(pending as f64);
        metrics::gauge!("kaicalls_jobs_due", "kind" => kind.as_str()).set(due as f64);
        if kind == crate::jobs::Kind::WebhookDelivery {
            metrics::gauge!("kaicalls_webhook_backlog").set(pending as f64);
        }
    }
    Ok(())
}

//! The dashboard's pages and form posts. Each reads and writes through `Ctx::api`
//! (the API's own handlers, as the signed-in user) and renders the answer.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::render::{
    self, alert, bar_chart, notice, page, public_page, stacked_chart, status, text, time,
};
use super::{Answer, Ctx, Fields, Form, MODE_COOKIE};
use crate::app::AppState;
use crate::auth::account::{self, SignupBody};
use crate::auth::scope::Scope;
use crate::auth::sessions::{self, ClientIp};
use crate::auth::AuthOutcome;
use crate::events::EVENT_TYPES;

pub(super) fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub(super) fn with_status(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    response
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Only a path of ours is a place to return to (no open redirect).
fn local(next: Option<&str>) -> &str {
    match next {
        // Browsers drop tabs and line breaks from URLs ("/\t/evil" is "//evil"): only
        // visible ASCII passes.
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.chars().all(|c| c.is_ascii_graphic()) =>
        {
            n
        }
        _ => "/dashboard",
    }
}

/// Fixed messages a redirect can ask a page to show (`?notice=`).
pub(super) fn notice_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "key_revoked" => "The key is revoked: the API refuses it from now on.",
        "secret_rotated" => "The webhook secret is rotated; the old one also signs for 24 hours.",
        "webhook_created" => "Subscription created.",
        "webhook_deleted" => "Subscription deleted.",
        "test_sent" => "A signed webhook.test is on its way.",
        "resent" => "The event is queued for delivery again, with the same webhook-id.",
        "saved" => "Saved.",
        "app_revoked" => "The app is disconnected: its tokens no longer work.",
        "dnc_added" => "The number is on the do-not-call list: no key or campaign dials it.",
        "dnc_removed" => "The number is off the list, with your reason kept.",
        "number_saved" => "Phone number saved.",
        "password_changed" => "Password changed. Your other sessions are signed out.",
        "session_ended" => "Session ended.",
        "call_ended" => "The call is ending.",
        "campaign_created" => "Campaign created.",
        "campaign_started" => "The campaign is dialing.",
        "campaign_paused" => "Paused: no new calls start; calls in progress finish.",
        "campaign_resumed" => "Resumed where it stopped.",
        "campaign_canceled" => "Canceled: pending contacts will not be called.",
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
pub struct Notice {
    pub(super) notice: Option<String>,
}

// ---------------------------------------------------------------- sign up, in, out

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

fn signup_form(values: &SignupBody, error: Option<&str>) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        (alert(error))
        form.stack method="post" action="/signup" {
            label { "Email" input type="email" name="email" autocomplete="email" required value=(v(&values.email)); }
            label { "Password (at least 8 characters)" input type="password" name="password" autocomplete="new-password" minlength="8" required; }
            label { "Business name" input type="text" name="business_name" autocomplete="organization" required value=(v(&values.business_name)); }
            label { "Business phone (E.164, optional)" input type="tel" name="business_phone" placeholder="+15125550100" value=(v(&values.business_phone)); }
            label { "Time zone"
                select name="timezone" {
                    @for tz in ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix", "Europe/London", "Europe/Berlin", "Australia/Sydney", "UTC"] {
                        option value=(tz) selected[values.timezone.as_deref() == Some(tz)] { (tz) }
                    }
                }
            }
            button type="submit" { "Create account" }
        }
        p { "Already have an account? " a href="/login" { "Sign in" } }
    }
}

pub async fn signup_page() -> Response {
    public_page(
        StatusCode::OK,
        "Create your KaiCalls account",
        signup_form(&SignupBody::default(), None),
    )
}

pub async fn signup(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(body): Form<SignupBody>,
) -> Response {
    match account::sign_up(&app, &ip, account::user_agent(&headers), &body).await {
        Ok((made, cookie)) => {
            let body = html! {
                p.notice role="status" { "Your account, business and agent Kai (calling from " (made.phone_number) ") are ready." }
                h2 { "Your test key" }
                p { "Test keys place simulated calls: nothing rings, nothing is billed. Copy it now: it is shown only once." }
                p { code.secret id="new-key" { (made.test_key) } " " button type="button" data-copy="new-key" { "Copy" } }
                h2 { "Place your first call" }
                pre { "curl -X POST " (app.public_url) "/api/v1/calls \\\n  -H \"Authorization: Bearer " (made.test_key) "\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{\"agent_id\": \"" (made.agent_id) "\", \"to\": \"+15125551234\", \"name\": \"John Smith\"}'" }
                p { a.button href="/dashboard/calls/new" { "Place a test call from the dashboard" } " " a href="/dashboard" { "Go to the dashboard" } }
            };
            let response = public_page(StatusCode::CREATED, "Welcome to KaiCalls", body);
            with_cookie(
                with_cookie(response, &cookie),
                &format!("{MODE_COOKIE}=test; Path=/; SameSite=Lax"),
            )
        }
        Err(err) => {
            let status = err.status();
            public_page(
                status,
                "Create your KaiCalls account",
                signup_form(&body, Some(&err.to_string())),
            )
        }
    }
}

fn login_form(email: &str, next: &str, error: Option<&str>) -> Markup {
    html! {
        (alert(error))
        form.stack method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { "Email" input type="email" name="email" autocomplete="username" required value=(email); }
            label { "Password" input type="password" name="password" autocomplete="current-password" required; }
            button type="submit" { "Sign in" }
        }
        p { "New to KaiCalls? " a href="/signup" { "Create an account" } }
    }
}

pub async fn login_page(Query(q): Query<NextQuery>) -> Response {
    public_page(
        StatusCode::OK,
        "Sign in to KaiCalls",
        login_form("", local(q.next.as_deref()), None),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

pub async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local(form.next.as_deref()).to_string();
    let email = form.email.clone().unwrap_or_default();
    match sessions::log_in(
        &app,
        &ip,
        account::user_agent(&headers),
        form.email,
        form.password,
    )
    .await
    {
        Ok((_, cookie)) => with_cookie(see_other(&next), &cookie),
        Err(err) => public_page(
            err.status(),
            "Sign in to KaiCalls",
            login_form(&email, &next, Some(&err.to_string())),
        ),
    }
}

pub async fn logout(
    State(app): State<AppState>,
    axum::Extension(outcome): axum::Extension<AuthOutcome>,
) -> Response {
    if let AuthOutcome::Session(session) = outcome {
        let _ = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(&session.session_id)
            .execute(&app.store.pool)
            .await;
    }
    with_cookie(see_other("/login"), sessions::CLEAR_COOKIE)
}

#[derive(Deserialize)]
pub struct ModeForm {
    mode: Option<String>,
    back: Option<String>,
}

pub async fn switch_mode(_ctx: Ctx, Form(form): Form<ModeForm>) -> Response {
    let mode = if form.mode.as_deref() == Some("live") {
        "live"
    } else {
        "test"
    };
    with_cookie(
        see_other(local(form.back.as_deref())),
        &format!("{MODE_COOKIE}={mode}; Path=/; SameSite=Lax; Max-Age=31536000"),
    )
}

// ---------------------------------------------------------------- overview

pub async fn overview(ctx: Ctx) -> Response {
    let balance = ctx.api(Method::GET, "/balance", None).await;
    let usage = ctx.api(Method::GET, "/usage?limit=500", None).await;
    let stats = call_stats(&ctx, 14).await.unwrap_or_default();
    let mut by_endpoint: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
    for row in usage.body["usage"].as_array().into_iter().flatten() {
        let k = (
            row["method"].as_str().unwrap_or("").to_string(),
            row["endpoint"].as_str().unwrap_or("").to_string(),
            row["status_code"].as_i64().unwrap_or(0),
        );
        *by_endpoint.entry(k).or_default() += 1;
    }
    let outcomes: Vec<(String, i64)> = stats
        .outcomes
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let bad: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| k == "failed" || k == "canceled")
        .map(|(i, _)| i)
        .collect();
    let body = html! {
        div.grid {
            @for b in balance.body["businesses"].as_array().into_iter().flatten() {
                section.card aria-label=(format!("Balance of {}", b["business_name"].as_str().unwrap_or(""))) {
                    h2 { (text(&b["business_name"])) }
                    @let used = b["minutes_used"].as_i64().unwrap_or(0);
                    @let included = b["included_minutes"].as_i64().unwrap_or(0);
                    label { "Live minutes used: " (used) " of " (included)
                        meter min="0" max=(included.max(1)) value=(used) { (used) " of " (included) }
                    }
                    p.muted { "Test calls are free and never count. Plan: " (text(&b["subscription_status"])) ", " (text(&b["phone_numbers"])) " phone number(s)." }
                }
            }
            section.card {
                h2 { "Cost (" (ctx.mode.as_str()) ", last 14 days)" }
                p { strong { (format!("${:.2}", stats.cost_cents as f64 / 100.0)) } " for " (stats.total) " call(s), " (stats.minutes) " minute(s)" }
                p { a.button href="/dashboard/calls/new" { "Place a call" } }
            }
        }
        section.card {
            h2 { "Calls per day" }
            (stacked_chart("calls-per-day", "Calls per day by how they ended, last 14 days (UTC)", &stats.days, &[
                ("Completed", "bar", stats.completed_per_day.clone()),
                ("Failed or canceled", "bar-bad", stats.failed_per_day.clone()),
                ("In progress", "bar-open", stats.open_per_day.clone()),
            ]))
        }
        section.card {
            h2 { "Outcomes" }
            @if outcomes.is_empty() {
                p.muted { "No finished calls yet." }
            } @else {
                (bar_chart("outcomes", "Finished calls by outcome, last 14 days", &outcomes, &bad))
                @let series: Vec<(&str, &str, Vec<i64>)> = stats
                    .outcomes_per_day
                    .iter()
                    .zip(SERIES_CLASSES)
                    .map(|((outcome, per_day), class)| (outcome.as_str(), class, per_day.clone()))
                    .collect();
                (stacked_chart("outcomes-per-day", "Finished calls per day by outcome (UTC)", &stats.days, &series))
            }
        }
        section.card {
            h2 { "API requests by endpoint and status" }
            @if by_endpoint.is_empty() {
                p.muted { "No API requests with a key yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Method" } th scope="col" { "Endpoint" } th scope="col" { "Status" } th scope="col" { "Requests" } } }
                    tbody {
                        @for ((method, endpoint, code), count) in &by_endpoint {
                            tr { td { (method) } td { code { (endpoint) } } td { (code) } td { (count) } }
                        }
                    }
                } }
                p.muted { "The last 500 requests of " (ctx.mode.as_str()) " keys." }
            }
        }
    };
    page(&ctx, "Overview", body)
}

/// The colours of a chart's series, in order (`app.css`).
const SERIES_CLASSES: [&str; 6] = [
    "series-0", "series-1", "series-2", "series-3", "series-4", "series-5",
];

#[derive(Default)]
struct CallStats {
    /// The days charted (`MM-DD`), and per day the calls by how they ended.
    days: Vec<String>,
    completed_per_day: Vec<i64>,
    failed_per_day: Vec<i64>,
    open_per_day: Vec<i64>,
    outcomes: BTreeMap<String, i64>,
    /// Per outcome (the most frequent first, at most six), finished calls per day.
    outcomes_per_day: Vec<(String, Vec<i64>)>,
    total: i64,
    minutes: i64,
    cost_cents: i64,
}

/// Calls of the tenant's mode over the last `days`, by day and by outcome.
async fn call_stats(ctx: &Ctx, days: i64) -> anyhow::Result<CallStats> {
    use crate::store::row::Columns;
    let tenant = ctx.tenant();
    let now = ctx.app.clock.now();
    let today = chrono::DateTime::from_timestamp_micros(now.micros())
        .unwrap_or_default()
        .date_naive();
    let start = today - chrono::Duration::days(days - 1);
    let start_micros = start
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros();
    let mut sql = crate::store::sql::Sql::new(
        "SELECT created_at, status, outcome, duration, cost_cents FROM calls WHERE 1 = 1",
    );
    sql.push_list(" AND business_id IN (?)", &tenant.business_ids)
        .push(" AND mode = ?", tenant.mode.as_str())
        .push(" AND created_at >= ?", start_micros);
    let rows = sql.query().fetch_all(ctx.app.store.reader()).await?;
    let mut stats = CallStats::default();
    let mut outcome_days: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut per_day: BTreeMap<chrono::NaiveDate, [i64; 3]> = (0..days)
        .map(|d| (start + chrono::Duration::days(d), [0; 3]))
        .collect();
    for row in &rows {
        let r = Columns(row);
        let created = r.time("created_at")?;
        let day = chrono::DateTime::from_timestamp_micros(created.micros())
            .unwrap_or_default()
            .date_naive();
        let status: String = r.get("status")?;
        let ended = match status.as_str() {
            "completed" => 0,
            "failed" | "canceled" => 1,
            _ => 2,
        };
        per_day.entry(day).or_default()[ended] += 1;
        let outcome: Option<String> = r.get("outcome")?;
        if matches!(status.as_str(), "completed" | "failed" | "canceled") {
            let key = match status.as_str() {
                "completed" => outcome.unwrap_or_else(|| "completed".into()),
                other => other.to_string(),
            };
            *stats.outcomes.entry(key.clone()).or_default() += 1;
            let index = (day - start).num_days().clamp(0, days - 1) as usize;
            outcome_days
                .entry(key)
                .or_insert_with(|| vec![0; days as usize])[index] += 1;
        }
        let duration: Option<i64> = r.get("duration")?;
        stats.minutes += duration.map_or(0, |d| (d + 59) / 60);
        let cost: Option<i64> = r.get("cost_cents")?;
        stats.cost_cents += cost.unwrap_or(0);
        stats.total += 1;
    }
    let mut ranked: Vec<(String, Vec<i64>)> = outcome_days.into_iter().collect();
    ranked.sort_by_key(|(_, per_day)| std::cmp::Reverse(per_day.iter().sum::<i64>()));
    ranked.truncate(SERIES_CLASSES.len());
    stats.outcomes_per_day = ranked;
    for (day, [completed, failed, open]) in per_day {
        stats.days.push(day.format("%m-%d").to_string());
        stats.completed_per_day.push(completed);
        stats.failed_per_day.push(failed);
        stats.open_per_day.push(open);
    }
    Ok(stats)
}

// ---------------------------------------------------------------- calls

#[derive(Deserialize, Default)]
pub struct CallsFilter {
    agent_id: Option<String>,
    status: Option<String>,
    direction: Option<String>,
    after: Option<String>,
    /// A date (`YYYY-MM-DD`, UTC): calls of that day and later.
    since: Option<String>,
    /// A date: calls of that day and earlier.
    until: Option<String>,
}

/// The instant a dashboard date filter starts (`days` after the date), for the API.
fn day_start(date: &str, days: i64) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    Some(format!("{}T00:00:00Z", date + chrono::Duration::days(days)))
}

const CALL_STATUSES: [&str; 6] = [
    "queued",
    "ringing",
    "in_progress",
    "completed",
    "failed",
    "canceled",
];

pub(super) async fn agent_options(ctx: &Ctx) -> Vec<(String, String, String)> {
    let agents = ctx.api(Method::GET, "/agents", None).await;
    agents.body["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["id"].as_str().unwrap_or("").to_string(),
                a["name"].as_str().unwrap_or("").to_string(),
                a["phone_number"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub async fn calls(ctx: Ctx, Query(f): Query<CallsFilter>) -> Response {
    // The filters, as this page's query and as the API's.
    let mut filters: Vec<(&str, String)> = vec![];
    for (name, value) in [
        ("agent_id", &f.agent_id),
        ("status", &f.status),
        ("direction", &f.direction),
        ("since", &f.since),
        ("until", &f.until),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            filters.push((name, v.clone()));
        }
    }
    let mut query: Vec<(&str, String)> = vec![("limit", "25".into())];
    for (name, value) in &filters {
        match *name {
            "since" => query.extend(day_start(value, 0).map(|t| ("created_after", t))),
            "until" => query.extend(day_start(value, 1).map(|t| ("created_before", t))),
            _ => query.push((name, value.clone())),
        }
    }
    if let Some(after) = f.after.as_ref().filter(|a| !a.is_empty()) {
        query.push(("after", after.clone()));
    }
    let qs = |pairs: &[(&str, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let list = ctx
        .api(Method::GET, &format!("/calls?{}", qs(&query)), None)
        .await;
    let agents = agent_options(&ctx).await;
    let rows: Vec<&Value> = list.body["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let next = if list.body["has_more"] == true {
        rows.last()
            .and_then(|c| c["created_at"].as_str())
            .map(|after| {
                let mut params = filters.clone();
                params.push(("after", after.to_string()));
                format!("/dashboard/calls?{}", qs(&params))
            })
    } else {
        None
    };
    let body = html! {
        (alert((!list.ok()).then(|| list.message()).as_deref()))
        p { a.button href="/dashboard/calls/new" { "Place a call" } }
        form.filters method="get" action="/dashboard/calls" role="search" aria-label="Filter calls" {
            label { "Agent"
                select name="agent_id" {
                    option value="" { "All agents" }
                    @for (id, name, _) in &agents { option value=(id) selected[f.agent_id.as_deref() == Some(id.as_str())] { (name) } }
                }
            }
            label { "Status"
                select name="status" {
                    option value="" { "Any status" }
                    @for s in CALL_STATUSES { option value=(s) selected[f.status.as_deref() == Some(s)] { (s.replace('_', " ")) } }
                }
            }
            label { "Direction"
                select name="direction" {
                    option value="" { "Both directions" }
                    @for d in ["inbound", "outbound"] { option value=(d) selected[f.direction.as_deref() == Some(d)] { (d) } }
                }
            }
            label { "From (date, UTC)" input type="date" name="since" value=(f.since.clone().unwrap_or_default()); }
            label { "To (date, UTC)" input type="date" name="until" value=(f.until.clone().unwrap_or_default()); }
            button type="submit" { "Filter" }
        }
        p.muted { "Showing " (ctx.mode.as_str()) " calls; the list updates as calls progress." }
        div id="live" data-stream=(format!("/api/v1/events/stream?mode={}", ctx.mode.as_str())) aria-live="polite" {
            div.table-wrap { table id="calls" {
                caption.visually-hidden { "Calls, newest first" }
                thead { tr { th scope="col" { "Created" } th scope="col" { "Direction" } th scope="col" { "Caller / called" } th scope="col" { "Name" } th scope="col" { "Agent" } th scope="col" { "Status" } th scope="col" { "Duration" } th scope="col" { "Outcome" } } }
                tbody {
                    @for c in &rows {
                        tr data-call-id=(c["id"].as_str().unwrap_or("")) {
                            td { a href=(format!("/dashboard/calls/{}", c["id"].as_str().unwrap_or(""))) { (time(&c["created_at"])) } }
                            td { (text(&c["direction"])) }
                            td { @if c["direction"] == "inbound" { (text(&c["from"])) } @else { (text(&c["to"])) } }
                            td { (text(&c["name"])) }
                            td { (text(&c["agent_name"])) }
                            td { (status(c["status"].as_str().unwrap_or(""))) }
                            td { @if let Some(d) = c["duration"].as_i64() { (d) " s" } @else { span.muted { "—" } } }
                            td { (text(&c["outcome"])) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="8" { "No calls yet. " a href="/dashboard/calls/new" { "Place one" } "." } } }
                }
            } }
        }
        nav.pager aria-label="Pages" {
            @if f.after.is_some() { a href="/dashboard/calls" { "Newest" } }
            @if let Some(next) = &next { a href=(next) { "Older calls" } }
        }
    };
    page(&ctx, "Calls", body)
}

#[derive(Deserialize, Default)]
pub struct CallForm {
    agent_id: Option<String>,
    to: Option<String>,
    name: Option<String>,
    context: Option<String>,
    first_message: Option<String>,
}

/// The simulator's sandbox numbers, offered with a test key.
const SANDBOX: &[(&str, &str)] = &[
    ("+15125551234", "Answers and completes"),
    ("+15005550001", "No answer"),
    ("+15005550002", "Busy"),
    ("+15005550003", "Invalid number"),
    ("+15005550004", "Voicemail"),
    ("+15005550006", "Long conversation"),
];

fn call_form(
    ctx: &Ctx,
    agents: &[(String, String, String)],
    form: &CallForm,
    error: Option<&str>,
) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        (alert(error))
        @if ctx.mode == crate::auth::api_key::Mode::Live {
            p.error role="note" { "You are viewing live data: this call rings a real phone and is billed. Switch to test data for a simulated call." }
        }
        form.stack method="post" action="/dashboard/calls" {
            label { "Agent"
                select name="agent_id" required {
                    @for (id, name, number) in agents {
                        option value=(id) selected[form.agent_id.as_deref() == Some(id.as_str())] { (name) @if !number.is_empty() { " (" (number) ")" } }
                    }
                }
            }
            label { "Number to call (E.164)"
                input type="tel" name="to" required placeholder="+15125551234" list="sandbox-numbers" value=(v(&form.to));
            }
            @if ctx.mode == crate::auth::api_key::Mode::Test {
                datalist id="sandbox-numbers" {
                    @for (number, what) in SANDBOX { option value=(number) { (what) } }
                }
                p.muted { "Sandbox numbers: " @for (i, (number, what)) in SANDBOX.iter().enumerate() { @if i > 0 { ", " } code { (number) } " " (what.to_lowercase()) } "." }
            }
            label { "Customer name" input type="text" name="name" value=(v(&form.name)); }
            label { "Context for the agent" textarea name="context" { (v(&form.context)) } }
            label { "First message" input type="text" name="first_message" value=(v(&form.first_message)); }
            button type="submit" { "Place call" }
        }
    }
}

pub async fn new_call(ctx: Ctx) -> Response {
    let agents = agent_options(&ctx).await;
    let form = CallForm {
        to: Some("+15125551234".into()),
        ..CallForm::default()
    };
    let body = call_form(&ctx, &agents, &form, None);
    page(&ctx, "Place a call", body)
}

pub async fn place_call(ctx: Ctx, Form(form): Form<CallForm>) -> Response {
    let mut body = json!({});
    for (name, value) in [
        ("agent_id", &form.agent_id),
        ("to", &form.to),
        ("name", &form.name),
        ("context", &form.context),
        ("first_message", &form.first_message),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.trim().is_empty()) {
            body[name] = json!(v.trim());
        }
    }
    let made = ctx.api(Method::POST, "/calls", Some(body)).await;
    match made.body["id"].as_str() {
        Some(id) if made.ok() => see_other(&format!("/dashboard/calls/{id}")),
        _ => {
            let agents = agent_options(&ctx).await;
            let markup = call_form(&ctx, &agents, &form, Some(&made.message()));
            with_status(page(&ctx, "Place a call", markup), made.status)
        }
    }
}

pub async fn call(ctx: Ctx, Path(id): Path<String>, Query(n): Query<Notice>) -> Response {
    let call = ctx
        .api(Method::GET, &format!("/calls?id={}", enc(&id)), None)
        .await;
    if !call.ok() {
        return render::error_page(call.status, "Call not found", &call.message());
    }
    let c = &call.body;
    let deliveries = ctx
        .api(
            Method::GET,
            &format!("/event-deliveries?call_id={}&limit=100", enc(&id)),
            None,
        )
        .await;
    let finished = matches!(
        c["status"].as_str(),
        Some("completed" | "failed" | "canceled")
    );
    let body = html! {
        (notice(notice_text(n.notice.as_deref())))
        div id="live" data-stream=(format!("/api/v1/events/stream?mode={}&call_id={}", ctx.mode.as_str(), enc(&id))) {
            section.card aria-label="Call" {
                p { (status(c["status"].as_str().unwrap_or(""))) " " (text(&c["to"])) " · " (text(&c["name"])) " · agent " (text(&c["agent_name"])) }
                h2 { "Timeline" }
                ol.timeline id="timeline" {
                    @for e in c["events"].as_array().into_iter().flatten() {
                        li { (status(e["status"].as_str().unwrap_or(""))) " " (time(&e["created_at"])) }
                    }
                }
                dl.facts {
                    dt { "Call id" } dd { code { (id) } }
                    dt { "From" } dd { (text(&c["from"])) }
                    dt { "Duration" } dd { @if let Some(d) = c["duration"].as_i64() { (d) " seconds" } @else { span.muted { "—" } } }
                    dt { "Outcome" } dd id="outcome" { (text(&c["outcome"])) }
                    dt { "Ended reason" } dd { (text(&c["ended_reason"])) }
                    dt { "Answered by" } dd id="answered-by" { (text(&c["answered_by"])) @if c["voicemail_left"] == true { " · message left" } }
                    @if c["opt_out"] == true {
                        dt { "Opted out" } dd id="opt-out" { "Asked not to be called again: " a href="/dashboard/dnc" { "on the do-not-call list" } }
                    }
                    @if c["scheduled_at"].is_string() {
                        dt { "Scheduled for" } dd { (time(&c["scheduled_at"])) }
                    }
                    @if let Some(d) = c["compliance"].as_object() {
                        dt { "Calling hours" } dd id="calling-hours" {
                            (d.get("window").and_then(Value::as_str).unwrap_or(""))
                            " in " (d.get("zones").and_then(Value::as_array).map(|z| z.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default())
                            " (" (d.get("zone_source").and_then(Value::as_str).unwrap_or("")) "); local time then "
                            (d.get("local_time").and_then(Value::as_str).unwrap_or(""))
                            @if d.get("sandbox") == Some(&Value::Bool(true)) { " · sandbox number, not enforced" }
                            @else if d.get("enforced") == Some(&Value::Bool(false)) { " · not enforced for single calls" }
                        }
                    }
                    dt { "Cost" } dd { @if let Some(cents) = c["cost_cents"].as_i64() { (format!("${:.2}", cents as f64 / 100.0)) } @else { span.muted { "—" } } }
                    dt { "Mode" } dd { (text(&c["mode"])) }
                }
                @if !finished {
                    form.inline method="post" action=(format!("/dashboard/calls/{}/end", enc(&id))) data-confirm="End this call now?" {
                        button.danger type="submit" { "End call" }
                    }
                }
            }
            section.card aria-labelledby="summary-h" {
                h2 id="summary-h" { "Summary" }
                p id="summary" { (text(&c["summary"])) }
            }
            section.card aria-labelledby="recording-h" {
                h2 id="recording-h" { "Recording" }
                @if let Some(url) = c["recording_url"].as_str() {
                    audio id="recording" controls preload="metadata" src=(url) { a href=(url) { "Download the recording" } }
                    p { a href=(url) { "Download" } }
                } @else {
                    p.muted { "No recording yet." }
                }
            }
            section.card aria-labelledby="quality-h" {
                h2 id="quality-h" { "Quality" }
                @if let Some(q) = c["quality_dimensions"].as_object() {
                    div id="quality" {
                        @for (dimension, score) in q {
                            @let score = score.as_i64().unwrap_or(0);
                            label { (dimension.replace('_', " ")) ": " (score) " / 100"
                                meter min="0" max="100" low="50" high="80" optimum="100" value=(score) { (score) }
                            }
                        }
                    }
                } @else {
                    p.muted { "Scored when the call ends." }
                }
            }
            section.card aria-labelledby="transcript-h" {
                h2 id="transcript-h" { "Transcript" }
                div.transcript id="transcript" {
                    @for t in c["transcript"].as_array().into_iter().flatten() {
                        @let role = t["role"].as_str().unwrap_or("");
                        p class=(role) { strong { (if role == "agent" { "Agent" } else { "Customer" }) ": " } (text(&t["text"])) }
                    }
                    @if c["transcript"].as_array().is_none_or(|t| t.is_empty()) { p.muted { "No transcript yet." } }
                }
            }
            div.grid {
                section.card aria-labelledby="vars-h" {
                    h2 id="vars-h" { "Enrichment variables" }
                    dl.facts {
                        @for (k, v) in c["variables"].as_object().into_iter().flatten() { dt { (k) } dd { (text(v)) } }
                    }
                }
                section.card aria-labelledby="meta-h" {
                    h2 id="meta-h" { "Context and metadata" }
                    dl.facts {
                        dt { "Context" } dd { (text(&c["context"])) }
                        dt { "First message" } dd { (text(&c["first_message"])) }
                        dt { "Metadata" } dd { @if c["metadata"].is_null() { span.muted { "—" } } @else { code { (c["metadata"].to_string()) } } }
                        dt { "Webhook URL" } dd { (text(&c["webhook_url"])) }
                    }
                }
            }
            section.card aria-labelledby="deliveries-h" {
                h2 id="deliveries-h" { "Webhook deliveries" }
                (deliveries_table(&deliveries, true))
            }
        }
    };
    page(&ctx, "Call", body)
}

fn deliveries_table(deliveries: &Answer, resend: bool) -> Markup {
    let rows: Vec<&Value> = deliveries.body["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    html! {
        @if rows.is_empty() {
            p.muted { "No webhook deliveries." }
        } @else {
            div.table-wrap { table id="deliveries" {
                thead { tr { th scope="col" { "Event" } th scope="col" { "URL" } th scope="col" { "Status" } th scope="col" { "Attempts" } @if resend { th scope="col" { "Resend" } } } }
                tbody {
                    @for d in rows {
                        tr {
                            td { (text(&d["event_type"])) br; code.muted { (text(&d["webhook_id"])) } }
                            td { (text(&d["url"])) }
                            td { (status(d["status"].as_str().unwrap_or(""))) }
                            td {
                                ol {
                                    @for a in d["attempts"].as_array().into_iter().flatten() {
                                        li { (time(&a["created_at"])) " → "
                                            @if let Some(code) = a["status_code"].as_i64() { "HTTP " (code) } @else { (text(&a["error"])) }
                                            " (" (text(&a["latency_ms"])) " ms)" }
                                    }
                                }
                                @if d["attempts"].as_array().is_none_or(|a| a.is_empty()) { span.muted { "Not attempted yet" } }
                            }
                            @if resend {
                                td {
                                    form.inline method="post" action=(format!("/dashboard/events/{}/resend", enc(d["event_id"].as_str().unwrap_or("")))) {
                                        input type="hidden" name="back" value=(format!("/dashboard/calls/{}", d["call_id"].as_str().unwrap_or("")));
                                        button.secondary type="submit" aria-label=(format!("Resend {}", d["event_type"].as_str().unwrap_or("event"))) { "Resend" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

#[derive(Deserialize)]
pub struct BackForm {
    back: Option<String>,
}

pub async fn resend(
    ctx: Ctx,
    Path(event_id): Path<String>,
    Form(form): Form<BackForm>,
) -> Response {
    let done = ctx
        .api(
            Method::POST,
            "/events/replay",
            Some(json!({ "event_id": event_id })),
        )
        .await;
    if !done.ok() {
        return render::error_page(done.status, "Could not resend", &done.message());
    }
    let back = local(form.back.as_deref());
    see_other(&format!("{back}?notice=resent"))
}

pub async fn end_call(ctx: Ctx, Path(id): Path<String>) -> Response {
    let done = ctx
        .api(Method::POST, &format!("/calls/end?id={}", enc(&id)), None)
        .await;
    if !done.ok() {
        return render::error_page(done.status, "Could not end the call", &done.message());
    }
    see_other(&format!("/dashboard/calls/{}?notice=call_ended", enc(&id)))
}

// ---------------------------------------------------------------- API keys

/// The scopes a new key gets unless others are chosen (the reference's defaults).
const DEFAULT_SCOPES: [&str; 4] = ["agents:read", "numbers:read", "calls:read", "calls:write"];

async fn businesses(ctx: &Ctx) -> Vec<(String, String)> {
    let balance = ctx.api(Method::GET, "/balance", None).await;
    balance.body["businesses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            (
                b["business_id"].as_str().unwrap_or("").to_string(),
                b["business_name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn keys_page(
    ctx: &Ctx,
    created: Option<&Value>,
    error: Option<&str>,
    notice_code: Option<&str>,
) -> Response {
    let keys = ctx.api_as_session(Method::GET, "/keys", None).await;
    let businesses = businesses(ctx).await;
    let name_of = |id: &Value| {
        id.as_str()
            .and_then(|id| businesses.iter().find(|(b, _)| b == id))
            .map_or_else(|| "All businesses".to_string(), |(_, n)| n.clone())
    };
    let body = html! {
        (notice(notice_text(notice_code)))
        (alert(error))
        @if let Some(made) = created {
            section.card role="status" aria-labelledby="new-key-h" {
                h2 id="new-key-h" { "Your new key" }
                p { "Copy it now: it is never shown again." }
                p { code.secret id="new-key" { (text(&made["key"])) } " " button type="button" data-copy="new-key" { "Copy" } }
            }
        }
        section.card aria-labelledby="keys-h" {
            h2 id="keys-h" { "Keys" }
            div.table-wrap { table id="keys" {
                thead { tr { th scope="col" { "Prefix" } th scope="col" { "Name" } th scope="col" { "Scopes" } th scope="col" { "Business" } th scope="col" { "Mode" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "Expires" } th scope="col" { "State" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for k in keys.body["keys"].as_array().into_iter().flatten() {
                        @let active = k["is_active"] == true;
                        tr data-key-id=(k["id"].as_str().unwrap_or("")) {
                            td { code { (text(&k["prefix"])) "…" } }
                            td { (text(&k["name"])) }
                            td { (k["scopes"].as_array().map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                            td { (name_of(&k["business_id"])) }
                            td { (text(&k["mode"])) }
                            td { (time(&k["created_at"])) }
                            td { (time(&k["last_used_at"])) }
                            td { (time(&k["expires_at"])) }
                            td { @if active { "Active" } @else if k["revoked_at"].is_null() { "Expired" } @else { "Revoked" } }
                            td {
                                @if active {
                                    form.inline method="post" action=(format!("/dashboard/keys/{}/revoke", enc(k["id"].as_str().unwrap_or("")))) data-confirm="Revoke this key? Requests with it are refused at once." {
                                        button.danger type="submit" aria-label=(format!("Revoke {}", k["name"].as_str().unwrap_or("key"))) { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
        section.card aria-labelledby="create-h" {
            h2 id="create-h" { "Create a key" }
            form.stack method="post" action="/dashboard/keys" {
                label { "Name" input type="text" name="name" required placeholder="CRM integration"; }
                fieldset {
                    legend { "Scopes" }
                    @for scope in Scope::ALL {
                        @let s = scope.to_string();
                        label { input type="checkbox" name="scopes" value=(s) checked[DEFAULT_SCOPES.contains(&s.as_str())]; code { (s) } }
                    }
                }
                label { "Business"
                    select name="business_id" {
                        option value="" { "All my businesses" }
                        @for (id, name) in &businesses { option value=(id) { (name) } }
                    }
                }
                label { "Mode"
                    select name="mode" {
                        option value="test" selected[ctx.mode == crate::auth::api_key::Mode::Test] { "Test (simulated calls, free)" }
                        option value="live" selected[ctx.mode == crate::auth::api_key::Mode::Live] { "Live (real calls)" }
                    }
                }
                label { "Expires (optional)" input type="date" name="expires"; }
                button type="submit" { "Create key" }
            }
        }
    };
    let mut response = page(ctx, "API keys", body);
    if created.is_some() {
        *response.status_mut() = StatusCode::CREATED;
    }
    response
}

pub async fn keys(ctx: Ctx, Query(n): Query<Notice>) -> Response {
    keys_page(&ctx, None, None, n.notice.as_deref()).await
}

pub async fn create_key(ctx: Ctx, Form(fields): Form<Fields>) -> Response {
    let get = |name: &str| fields.one(name);
    let scopes = fields.all("scopes");
    let mut body = json!({ "name": get("name"), "scopes": scopes, "mode": get("mode").unwrap_or_else(|| "test".into()) });
    if let Some(b) = get("business_id") {
        body["business_id"] = json!(b);
    }
    if let Some(date) = get("expires") {
        body["expires_at"] = json!(format!("{date}T23:59:59Z"));
    }
    let made = ctx.api_as_session(Method::POST, "/keys", Some(body)).await;
    if made.ok() {
        keys_page(&ctx, Some(&made.body), None, None).await
    } else {
        with_status(
            keys_page(&ctx, None, Some(&made.message()), None).await,
            made.status,
        )
    }
}

pub async fn revoke_key(ctx: Ctx, Path(id): Path<String>) -> Response {
    let done = ctx
        .api_as_session(Method::DELETE, &format!("/keys?id={}", enc(&id)), None)
        .await;
    if !done.ok() {
        return render::error_page(done.status, "Could not revoke the key", &done.message());
    }
    see_other("/dashboard/keys?notice=key_revoked")
}

// ---------------------------------------------------------------- webhooks

pub async fn webhooks(ctx: Ctx, Query(n): Query<Notice>) -> Response {
    webhooks_page(&ctx, n.notice.as_deref(), None, None).await
}

async fn webhooks_page(
    ctx: &Ctx,
    notice_code: Option<&str>,
    error: Option<&str>,
    new_secret: Option<&str>,
) -> Response {
    let secret = ctx.api(Method::GET, "/webhooks/secret", None).await;
    let subs = ctx.api(Method::GET, "/webhooks", None).await;
    let deliveries = ctx
        .api(Method::GET, "/event-deliveries?limit=25", None)
        .await;
    let body = html! {
        (notice(notice_text(notice_code)))
        (alert(error))
        @if let Some(s) = new_secret {
            section.card role="status" {
                h2 { "The new subscription's secret" }
                p { "Copy it now: it is shown once." }
                p { code.secret id="sub-secret" { (s) } " " button type="button" data-copy="sub-secret" { "Copy" } }
            }
        }
        section.card aria-labelledby="secret-h" {
            h2 id="secret-h" { "Business webhook secret" }
            p { "Signs per-call webhooks (" code { "webhook_url" } ") with Standard Webhooks signatures." }
            details {
                summary { "Reveal the secret" }
                p { code.secret id="business-secret" { (text(&secret.body["webhook_secret"])) } " " button type="button" data-copy="business-secret" { "Copy" } }
            }
            form method="post" action="/dashboard/webhooks/secret" data-confirm="Rotate the secret? The old one keeps signing for 24 hours." {
                button.secondary type="submit" { "Rotate secret" }
            }
        }
        section.card aria-labelledby="subs-h" {
            h2 id="subs-h" { "Subscriptions (" (ctx.mode.as_str()) ")" }
            @let list: Vec<&Value> = subs.body["webhooks"].as_array().into_iter().flatten().collect();
            @if list.is_empty() { p.muted { "No subscriptions." } }
            @else {
                div.table-wrap { table id="subscriptions" {
                    thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Description" } th scope="col" { "Active" } th scope="col" { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for w in list {
                            tr {
                                td { (text(&w["url"])) }
                                td { (w["events"].as_array().map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                                td { (text(&w["description"])) }
                                td { @if w["is_active"] == true { "Yes" } @else { "No" } }
                                td {
                                    form.inline method="post" action=(format!("/dashboard/webhooks/{}/test", enc(w["id"].as_str().unwrap_or("")))) { button.secondary type="submit" { "Send test" } }
                                    " "
                                    form.inline method="post" action=(format!("/dashboard/webhooks/{}/delete", enc(w["id"].as_str().unwrap_or("")))) data-confirm="Delete this subscription?" { button.danger type="submit" { "Delete" } }
                                }
                            }
                        }
                    }
                } }
            }
            h3 { "Subscribe" }
            form.stack method="post" action="/dashboard/webhooks" {
                label { "Endpoint URL" input type="url" name="webhook_url" required placeholder="https://example.com/hooks/kaicalls"; }
                fieldset {
                    legend { "Events" }
                    @for t in EVENT_TYPES.iter().filter(|t| **t != "webhook.test") {
                        label { input type="checkbox" name="events" value=(t) checked[*t == "call.completed" || *t == "call.failed"]; code { (t) } }
                    }
                }
                label { "Description" input type="text" name="description"; }
                button type="submit" { "Create subscription" }
            }
        }
        section.card aria-labelledby="recent-h" {
            h2 id="recent-h" { "Recent deliveries" }
            (deliveries_table(&deliveries, false))
        }
    };
    page(ctx, "Webhooks", body)
}

pub async fn create_webhook(ctx: Ctx, Form(fields): Form<Fields>) -> Response {
    let get = |name: &str| fields.one(name);
    let events = fields.all("events");
    let body = json!({ "webhook_url": get("webhook_url"), "events": events, "description": get("description") });
    let made = ctx.api(Method::POST, "/webhooks", Some(body)).await;
    if made.ok() {
        webhooks_page(
            &ctx,
            Some("webhook_created"),
            None,
            made.body["webhook_secret"].as_str(),
        )
        .await
    } else {
        with_status(
            webhooks_page(&ctx, None, Some(&made.message()), None).await,
            made.status,
        )
    }
}

pub async fn rotate_secret(ctx: Ctx) -> Response {
    let done = ctx.api(Method::POST, "/webhooks/secret/rotate", None).await;
    if !done.ok() {
        return render::error_page(done.status, "Could not rotate the secret", &done.message());
    }
    see_other("/dashboard/webhooks?notice=secret_rotated")
}

pub async fn test_webhook(ctx: Ctx, Path(id): Path<String>) -> Response {
    let done = ctx
        .api(Method::POST, "/webhooks/test", Some(json!({ "id": id })))
        .await;
    if !done.ok() {
        return render::error_page(done.status, "Could not send the test", &done.message());
    }
    see_other("/dashboard/webhooks?notice=test_sent")
}

pub async fn delete_webhook(ctx: Ctx, Path(id): Path<String>) -> Response {
    let done = ctx
        .api(Method::DELETE, &format!("/webhooks?id={}", enc(&id)), None)
        .await;
    if !done.ok() {
        return render::error_page(
            done.status,
            "Could not delete the subscription",
            &done.message(),
        );
    }
    see_other("/dashboard/webhooks?notice=webhook_deleted")
}

// ---------------------------------------------------------------- agents and numbers

#[derive(Deserialize, Default)]
pub struct AgentForm {
    id: Option<String>,
    name: Option<String>,
    first_message: Option<String>,
    system_prompt: Option<String>,
    voice: Option<String>,
    vapi_assistant_id: Option<String>,
    max_duration: Option<String>,
}

fn agent_form(agent: &Value, error: Option<&str>) -> Markup {
    let s = |k: &str| agent[k].as_str().unwrap_or("").to_string();
    let voice = if agent["voice"].is_null() || agent["voice"] == json!({}) {
        String::new()
    } else {
        agent["voice"].to_string()
    };
    html! {
        (alert(error))
        form.stack method="post" action="/dashboard/agents" {
            @if let Some(id) = agent["id"].as_str() { input type="hidden" name="id" value=(id); }
            label { "Name" input type="text" name="name" required value=(s("name")); }
            label { "Greeting (first message)" input type="text" name="first_message" value=(s("first_message")); }
            label { "System prompt" textarea name="system_prompt" { (s("system_prompt")) } }
            label { "Voice (JSON, e.g. {\"provider\": \"11labs\", \"voiceId\": \"sarah\"})" input type="text" name="voice" value=(voice); }
            label { "Vapi assistant id" input type="text" name="vapi_assistant_id" value=(s("vapi_assistant_id")); }
            label { "Maximum call length (seconds)" input type="number" name="max_duration" min="10" max="3600" value=(agent["max_duration"].as_i64().map(|d| d.to_string()).unwrap_or_default()); }
            button type="submit" { @if agent["id"].is_string() { "Save agent" } @else { "Create agent" } }
        }
    }
}

pub async fn agents(ctx: Ctx, Query(n): Query<Notice>) -> Response {
    agents_page(&ctx, n.notice.as_deref(), None).await
}

async fn agents_page(ctx: &Ctx, notice_code: Option<&str>, error: Option<&str>) -> Response {
    let agents = ctx.api(Method::GET, "/agents", None).await;
    let numbers = ctx.api(Method::GET, "/phone-numbers", None).await;
    let list: Vec<&Value> = agents.body["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let body = html! {
        (notice(notice_text(notice_code)))
        (alert(error))
        section.card aria-labelledby="agents-h" {
            h2 id="agents-h" { "Agents" }
            div.table-wrap { table id="agents" {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Number" } th scope="col" { "Greeting" } th scope="col" { "Vapi assistant" } } }
                tbody {
                    @for a in &list {
                        tr {
                            td { a href=(format!("/dashboard/agents/{}", a["id"].as_str().unwrap_or(""))) { (text(&a["name"])) } }
                            td { (text(&a["phone_number"])) }
                            td { (text(&a["first_message"])) }
                            td { (text(&a["vapi_assistant_id"])) }
                        }
                    }
                }
            } }
        }
        section.card aria-labelledby="new-agent-h" {
            h2 id="new-agent-h" { "New agent" }
            (agent_form(&json!({}), None))
        }
        section.card aria-labelledby="numbers-h" {
            h2 id="numbers-h" { "Phone numbers" }
            div.table-wrap { table id="numbers" {
                thead { tr { th scope="col" { "Number" } th scope="col" { "Agent" } th scope="col" { "Vapi number id" } } }
                tbody {
                    @for p in numbers.body["phone_numbers"].as_array().or_else(|| numbers.body["numbers"].as_array()).into_iter().flatten() {
                        tr {
                            td { (text(&p["phone_number"])) }
                            td { (list.iter().find(|a| a["id"] == p["agent_id"]).map(|a| a["name"].as_str().unwrap_or("").to_string()).unwrap_or_else(|| "—".into())) }
                            td { (text(&p["vapi_phone_number_id"])) }
                        }
                    }
                }
            } }
            h3 { "Register or reassign a number" }
            form.stack method="post" action="/dashboard/numbers" {
                label { "Number (E.164)" input type="tel" name="phone_number" required placeholder="+15125550123"; }
                label { "Agent"
                    select name="agent_id" {
                        @for a in &list { option value=(a["id"].as_str().unwrap_or("")) { (text(&a["name"])) } }
                    }
                }
                label { "Vapi phone number id (optional)" input type="text" name="vapi_phone_number_id"; }
                button type="submit" { "Save number" }
            }
        }
    };
    page(ctx, "Agents & numbers", body)
}

pub async fn agent(ctx: Ctx, Path(id): Path<String>) -> Response {
    let agent = ctx
        .api(Method::GET, &format!("/agents?id={}", enc(&id)), None)
        .await;
    if !agent.ok() {
        return render::error_page(agent.status, "Agent not found", &agent.message());
    }
    let a = agent
        .body
        .get("agent")
        .cloned()
        .unwrap_or(agent.body.clone());
    let title = format!("Agent {}", a["name"].as_str().unwrap_or(""));
    let body = agent_form(&a, None);
    page(&ctx, &title, body)
}

pub async fn save_agent(ctx: Ctx, Form(form): Form<AgentForm>) -> Response {
    let mut body = json!({});
    for (name, value) in [
        ("id", &form.id),
        ("name", &form.name),
        ("first_message", &form.first_message),
        ("system_prompt", &form.system_prompt),
        ("vapi_assistant_id", &form.vapi_assistant_id),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.trim().is_empty()) {
            body[name] = json!(v.trim());
        }
    }
    if let Some(voice) = form.voice.as_ref().filter(|v| !v.trim().is_empty()) {
        match serde_json::from_str::<Value>(voice) {
            Ok(v) => body["voice"] = v,
            Err(e) => {
                return agents_page(&ctx, None, Some(&format!("voice must be JSON: {e}"))).await
            }
        }
    }
    if let Some(d) = form.max_duration.as_ref().filter(|v| !v.trim().is_empty()) {
        match d.trim().parse::<i64>() {
            Ok(d) => body["max_duration"] = json!(d),
            Err(_) => {
                return agents_page(
                    &ctx,
                    None,
                    Some("max_duration must be a whole number of seconds"),
                )
                .await
            }
        }
    }
    let method = if form.id.as_deref().is_some_and(|i| !i.is_empty()) {
        Method::PATCH
    } else {
        Method::POST
    };
    let done = ctx.api(method, "/agents", Some(body)).await;
    if done.ok() {
        see_other("/dashboard/agents?notice=saved")
    } else {
        with_status(
            agents_page(&ctx, None, Some(&done.message())).await,
            done.status,
        )
    }
}

#[derive(Deserialize)]
pub struct NumberForm {
    phone_number: Option<String>,
    agent_id: Option<String>,
    vapi_phone_number_id: Option<String>,
}

pub async fn assign_number(ctx: Ctx, Form(form): Form<NumberForm>) -> Response {
    let mut body = json!({ "phone_number": form.phone_number, "agent_id": form.agent_id });
    if let Some(v) = form.vapi_phone_number_id.filter(|v| !v.trim().is_empty()) {
        body["vapi_phone_number_id"] = json!(v);
    }
    let done = ctx.api(Method::POST, "/phone-numbers", Some(body)).await;
    if done.ok() {
        see_other("/dashboard/agents?notice=number_saved")
    } else {
        with_status(
            agents_page(&ctx, None, Some(&done.message())).await,
            done.status,
        )
    }
}

// ---------------------------------------------------------------- leads

#[derive(Deserialize, Default)]
pub struct LeadsFilter {
    status: Option<String>,
    source: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    notice: Option<String>,
}

const LEAD_FIELDS: [&str; 7] = [
    "name", "phone", "email", "status", "source", "score", "notes",
];

fn lead_form(lead: &Value, error: Option<&str>) -> Markup {
    let s = |k: &str| match &lead[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    html! {
        (alert(error))
        form.stack method="post" action="/dashboard/leads" {
            @if let Some(id) = lead["id"].as_str() { input type="hidden" name="id" value=(id); }
            label { "Name" input type="text" name="name" value=(s("name")); }
            label { "Phone (E.164)" input type="tel" name="phone" value=(s("phone")); }
            label { "Email" input type="email" name="email" value=(s("email")); }
            label { "Status" input type="text" name="status" value=(s("status")) placeholder="new"; }
            label { "Source" input type="text" name="source" value=(s("source")); }
            label { "Score (0–100)" input type="number" name="score" min="0" max="100" value=(s("score")); }
            label { "Notes" textarea name="notes" { (s("notes")) } }
            button type="submit" { @if lead["id"].is_string() { "Save lead" } @else { "Create lead" } }
        }
    }
}

async fn leads_page(
    ctx: &Ctx,
    f: &LeadsFilter,
    error: Option<&str>,
    report: Option<Markup>,
) -> Response {
    let mut params = vec!["limit=100".to_string()];
    for (name, value) in [
        ("status", &f.status),
        ("source", &f.source),
        ("phone", &f.phone),
        ("email", &f.email),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            params.push(format!("{name}={}", enc(v)));
        }
    }
    let leads = ctx
        .api(Method::GET, &format!("/leads?{}", params.join("&")), None)
        .await;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let body = html! {
        (notice(notice_text(f.notice.as_deref())))
        (alert(error))
        @if !leads.ok() { (alert(Some(&leads.message()))) }
        @if let Some(report) = report { (report) }
        form.filters method="get" action="/dashboard/leads" role="search" aria-label="Filter leads" {
            label { "Status" input type="text" name="status" value=(v(&f.status)); }
            label { "Source" input type="text" name="source" value=(v(&f.source)); }
            label { "Phone" input type="tel" name="phone" value=(v(&f.phone)); }
            label { "Email" input type="email" name="email" value=(v(&f.email)); }
            button type="submit" { "Filter" }
        }
        div.table-wrap { table id="leads" {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Phone" } th scope="col" { "Email" } th scope="col" { "Status" } th scope="col" { "Source" } th scope="col" { "Score" } th scope="col" { "Calls" } } }
            tbody {
                @for l in leads.body["leads"].as_array().into_iter().flatten() {
                    tr {
                        td { a href=(format!("/dashboard/leads/{}", l["id"].as_str().unwrap_or(""))) { (text(&l["name"])) } }
                        td { (text(&l["phone"])) }
                        td { (text(&l["email"])) }
                        td { (text(&l["status"])) }
                        td { (text(&l["source"])) }
                        td { (text(&l["score"])) }
                        td { (text(&l["interaction_count"])) }
                    }
                }
            }
        } }
        div.grid {
            section.card aria-labelledby="new-lead-h" {
                h2 id="new-lead-h" { "New lead" }
                (lead_form(&json!({}), None))
            }
            section.card aria-labelledby="import-h" {
                h2 id="import-h" { "Import a CSV" }
                p { "A header row naming the columns (" @for (i, f) in LEAD_FIELDS.iter().enumerate() { @if i > 0 { ", " } code { (f) } } "), then one lead per row. Each row is checked on its own: the report lists every row refused and why." }
                form.stack method="post" action="/dashboard/leads/import" {
                    label { "CSV file" input type="file" accept=".csv,text/csv" data-fills="csv"; }
                    label { "CSV text" textarea id="csv" name="csv" required placeholder="name,phone,email\nJane Doe,+15125550101,jane@example.com" {} }
                    button type="submit" { "Import leads" }
                }
            }
        }
    };
    page(ctx, "Leads", body)
}

pub async fn leads(ctx: Ctx, Query(f): Query<LeadsFilter>) -> Response {
    leads_page(&ctx, &f, None, None).await
}

pub async fn lead(ctx: Ctx, Path(id): Path<String>) -> Response {
    let lead = ctx
        .api(Method::GET, &format!("/leads?id={}", enc(&id)), None)
        .await;
    if !lead.ok() {
        return render::error_page(lead.status, "Lead not found", &lead.message());
    }
    let l = lead.body.get("lead").cloned().unwrap_or(lead.body.clone());
    let title = format!("Lead {}", l["name"].as_str().unwrap_or(""));
    page(&ctx, &title, lead_form(&l, None))
}

/// A lead's fields from form or CSV values: empty ones are left out, a score is a number.
fn lead_body(get: impl Fn(&str) -> Option<String>) -> Result<Value, String> {
    let mut body = json!({});
    for field in LEAD_FIELDS {
        if let Some(v) = get(field)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            if field == "score" {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("score must be a whole number, not '{v}'"))?;
                body[field] = json!(n);
            } else {
                body[field] = json!(v);
            }
        }
    }
    Ok(body)
}

pub async fn save_lead(ctx: Ctx, Form(fields): Form<Fields>) -> Response {
    let get = |name: &str| fields.one(name);
    let mut body = match lead_body(get) {
        Ok(body) => body,
        Err(e) => return leads_page(&ctx, &LeadsFilter::default(), Some(&e), None).await,
    };
    let method = match &get("id") {
        Some(id) => {
            body["id"] = json!(id);
            Method::PATCH
        }
        None => Method::POST,
    };
    let done = ctx.api(method, "/leads", Some(body)).await;
    if done.ok() {
        see_other("/dashboard/leads?notice=saved")
    } else {
        let response = leads_page(&ctx, &LeadsFilter::default(), Some(&done.message()), None).await;
        with_status(response, done.status)
    }
}

/// Splits CSV text into rows of fields (quotes, doubled quotes, commas and line
/// breaks inside quotes).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r| !(r.len() == 1 && r[0].trim().is_empty()));
    rows
}

#[derive(Deserialize)]
pub struct ImportForm {
    csv: Option<String>,
}

pub async fn import_leads(ctx: Ctx, Form(form): Form<ImportForm>) -> Response {
    let rows = parse_csv(form.csv.as_deref().unwrap_or(""));
    let Some((header, data)) = rows.split_first() else {
        return leads_page(
            &ctx,
            &LeadsFilter::default(),
            Some("The CSV is empty: it needs a header row and at least one lead."),
            None,
        )
        .await;
    };
    let columns: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if let Some(unknown) = columns.iter().find(|c| !LEAD_FIELDS.contains(&c.as_str())) {
        let message = format!(
            "Unknown column '{unknown}': the columns are {}",
            LEAD_FIELDS.join(", ")
        );
        return leads_page(&ctx, &LeadsFilter::default(), Some(&message), None).await;
    }
    if data.len() > 1000 {
        return leads_page(
            &ctx,
            &LeadsFilter::default(),
            Some("At most 1,000 rows per import."),
            None,
        )
        .await;
    }
    let mut created = 0;
    let mut refused: Vec<(usize, String)> = vec![];
    for (i, row) in data.iter().enumerate() {
        // Row numbers as a spreadsheet shows them: the header is row 1.
        let line = i + 2;
        let get = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|p| row.get(p).cloned())
        };
        let body = match lead_body(get) {
            Ok(body) => body,
            Err(e) => {
                refused.push((line, e));
                continue;
            }
        };
        let done = ctx.api(Method::POST, "/leads", Some(body)).await;
        if done.ok() {
            created += 1;
        } else {
            let param = done.body["error"]["param"]
                .as_str()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            refused.push((line, format!("{}{param}", done.message())));
        }
    }
    let report = html! {
        section.card id="import-report" role="status" aria-labelledby="report-h" {
            h2 id="report-h" { "Import report" }
            p { (created) " lead(s) imported, " (refused.len()) " row(s) refused." }
            @if !refused.is_empty() {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Row" } th scope="col" { "Why it was refused" } } }
                    tbody { @for (line, why) in &refused { tr { td { (line) } td { (why) } } } }
                } }
            }
        }
    };
    leads_page(&ctx, &LeadsFilter::default(), None, Some(report)).await
}

// ---------------------------------------------------------------- settings

// ----------------------------------------------------------------- do not call

pub async fn dnc(ctx: Ctx, Query(n): Query<Notice>) -> Response {
    dnc_page(&ctx, n.notice.as_deref(), None).await
}

async fn dnc_page(ctx: &Ctx, notice_code: Option<&str>, error: Option<&str>) -> Response {
    let listed = ctx.api(Method::GET, "/dnc?limit=200", None).await;
    let refusals = ctx
        .api(Method::GET, "/compliance/refusals?limit=25", None)
        .await;
    let body = html! {
        (notice(notice_text(notice_code)))
        (alert(error))
        section.card aria-labelledby="dnc-add-h" {
            h2 id="dnc-add-h" { "Add a number" }
            p { "Listed numbers are never dialed, by any key or campaign. Customers who ask on a call not to be called again are added by themselves." }
            form.stack method="post" action="/dashboard/dnc" {
                label { "Phone number (E.164)" input type="tel" name="phone" placeholder="+15125551234" required; }
                label { "Reason" input type="text" name="reason" maxlength="500"; }
                button type="submit" { "Add to the list" }
            }
        }
        section.card aria-labelledby="dnc-h" {
            h2 id="dnc-h" { "Do-not-call list" }
            @let entries: Vec<&Value> = listed.body["entries"].as_array().into_iter().flatten().collect();
            @if entries.is_empty() { p.muted { "No numbers are listed." } }
            @else {
                div.table-wrap { table id="dnc" {
                    thead { tr { th scope="col" { "Number" } th scope="col" { "Source" } th scope="col" { "Reason" } th scope="col" { "Since" } th scope="col" { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for e in entries {
                            tr {
                                td { (text(&e["phone"])) }
                                td { (text(&e["source"])) @if let Some(call) = e["call_id"].as_str() { " · " a href=(format!("/dashboard/calls/{}", enc(call))) { "the call" } } }
                                td { (text(&e["reason"])) }
                                td { (time(&e["created_at"])) }
                                td {
                                    form.inline method="post" action="/dashboard/dnc/remove" {
                                        input type="hidden" name="phone" value=(e["phone"].as_str().unwrap_or(""));
                                        label.visually-hidden for=(format!("why-{}", e["id"].as_str().unwrap_or(""))) { "Why it may be called again" }
                                        input type="text" name="reason" id=(format!("why-{}", e["id"].as_str().unwrap_or(""))) placeholder="Why it may be called" required;
                                        " "
                                        button.danger type="submit" { "Remove " span.visually-hidden { (text(&e["phone"])) } }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
        section.card aria-labelledby="refused-h" {
            h2 id="refused-h" { "Refused dials (" (ctx.mode.as_str()) ")" }
            @let list: Vec<&Value> = refusals.body["refusals"].as_array().into_iter().flatten().collect();
            @if list.is_empty() { p.muted { "No dial has been refused." } }
            @else {
                div.table-wrap { table id="refusals" {
                    thead { tr { th scope="col" { "Number" } th scope="col" { "Rule" } th scope="col" { "Why" } th scope="col" { "When" } } }
                    tbody {
                        @for r in list {
                            tr { td { (text(&r["phone"])) } td { (text(&r["reason"])) } td { (text(&r["message"])) } td { (time(&r["created_at"])) } }
                        }
                    }
                } }
            }
        }
    };
    page(ctx, "Do not call", body)
}

#[derive(Deserialize)]
pub struct DncForm {
    phone: Option<String>,
    reason: Option<String>,
}

pub async fn add_dnc(ctx: Ctx, Form(form): Form<DncForm>) -> Response {
    let body =
        json!({ "phone": form.phone, "reason": form.reason.filter(|r| !r.trim().is_empty()) });
    let done = ctx.api(Method::POST, "/dnc", Some(body)).await;
    if done.ok() {
        see_other("/dashboard/dnc?notice=dnc_added")
    } else {
        with_status(
            dnc_page(&ctx, None, Some(&done.message())).await,
            done.status,
        )
    }
}

pub async fn remove_dnc(ctx: Ctx, Form(form): Form<DncForm>) -> Response {
    let path = format!(
        "/dnc?phone={}&reason={}",
        enc(form.phone.as_deref().unwrap_or("")),
        enc(form.reason.as_deref().unwrap_or(""))
    );
    let done = ctx.api(Method::DELETE, &path, None).await;
    if done.ok() {
        see_other("/dashboard/dnc?notice=dnc_removed")
    } else {
        with_status(
            dnc_page(&ctx, None, Some(&done.message())).await,
            done.status,
        )
    }
}

pub async fn settings(ctx: Ctx, Query(n): Query<Notice>) -> Response {
    settings_page(&ctx, n.notice.as_deref(), None).await
}

async fn settings_page(ctx: &Ctx, notice_code: Option<&str>, error: Option<&str>) -> Response {
    let sessions = ctx
        .api_as_session(Method::GET, "/auth/sessions", None)
        .await;
    let body = html! {
        (notice(notice_text(notice_code)))
        (alert(error))
        section.card aria-labelledby="password-h" {
            h2 id="password-h" { "Change password" }
            form.stack method="post" action="/dashboard/settings/password" {
                label { "Current password" input type="password" name="current_password" autocomplete="current-password" required; }
                label { "New password (at least 8 characters)" input type="password" name="new_password" autocomplete="new-password" minlength="8" required; }
                button type="submit" { "Change password" }
            }
        }
        section.card aria-labelledby="sessions-h" {
            h2 id="sessions-h" { "Signed-in sessions" }
            div.table-wrap { table id="sessions" {
                thead { tr { th scope="col" { "Browser" } th scope="col" { "Signed in" } th scope="col" { "Expires" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for s in sessions.body["sessions"].as_array().into_iter().flatten() {
                        tr {
                            td { (text(&s["user_agent"])) @if s["current"] == true { " " strong { "(this browser)" } } }
                            td { (time(&s["created_at"])) }
                            td { (time(&s["expires_at"])) }
                            td {
                                form.inline method="post" action=(format!("/dashboard/settings/sessions/{}/end", enc(s["id"].as_str().unwrap_or("")))) data-confirm="Sign this session out?" {
                                    button.danger type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
            } }
        }
        (super::consent::connected_apps(ctx).await)
    };
    page(ctx, "Settings", body)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: Option<String>,
    new_password: Option<String>,
}

pub async fn change_password(ctx: Ctx, Form(form): Form<PasswordForm>) -> Response {
    let body =
        json!({ "current_password": form.current_password, "new_password": form.new_password });
    let done = ctx
        .api_as_session(Method::POST, "/auth/password", Some(body))
        .await;
    if done.ok() {
        see_other("/dashboard/settings?notice=password_changed")
    } else {
        with_status(
            settings_page(&ctx, None, Some(&done.message())).await,
            done.status,
        )
    }
}

pub async fn end_session(ctx: Ctx, Path(id): Path<String>) -> Response {
    let done = ctx
        .api_as_session(
            Method::DELETE,
            &format!("/auth/sessions?id={}", enc(&id)),
            None,
        )
        .await;
    if !done.ok() {
        return render::error_page(done.status, "Could not end the session", &done.message());
    }
    if id == ctx.session.session_id {
        return with_cookie(see_other("/login"), sessions::CLEAR_COOKIE);
    }
    see_other("/dashboard/settings?notice=session_ended")
}

#[cfg(test)]
mod tests {
    use super::{local, parse_csv};

    #[test]
    fn only_our_own_paths_are_places_to_return_to() {
        assert_eq!(
            local(Some("/dashboard/calls?status=failed")),
            "/dashboard/calls?status=failed"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example",
            "/ /x",
        ] {
            assert_eq!(local(Some(bad)), "/dashboard", "{bad:?}");
        }
        assert_eq!(local(None), "/dashboard");
    }

    #[test]
    fn csv_rows_keep_quoted_commas_quotes_and_line_breaks() {
        let rows =
            parse_csv("name,notes\r\n\"Doe, Jane\",\"said \"\"hi\"\"\nthen left\"\nBob,\n\n");
        assert_eq!(
            rows,
            vec![
                vec!["name".to_string(), "notes".to_string()],
                vec![
                    "Doe, Jane".to_string(),
                    "said \"hi\"\nthen left".to_string()
                ],
                vec!["Bob".to_string(), String::new()],
            ]
        );
    }
}

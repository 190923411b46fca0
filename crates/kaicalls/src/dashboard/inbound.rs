//! The inbound page (`/dashboard/inbound`): the voicemails callers left (with a
//! player), the staff alert settings and the alerts sent with their outcome, and in
//! test mode the sandbox's simulated caller. Every part is the API's answers
//! (`/voicemails`, `/staff-alerts`, `/staff-alerts/settings`,
//! `/sandbox/inbound-calls`).

use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{enc, notice_text, see_other, with_status, Notice};
use super::render::{alert, notice, page, status, text, time};
use super::{Ctx, Form};
use crate::alerts::EVENTS;
use crate::auth::api_key::Mode;

/// The simulated callers the ring form offers.
const CALLERS: &[(&str, &str)] = &[
    ("+15125550177", "A caller (a new lead, or a known one)"),
    ("+15005550101", "Asks for a person (transfer)"),
    ("+15005550102", "Leaves a voicemail"),
    ("+15005550103", "Asks not to be called again"),
    ("+15005550104", "Asks for a callback"),
    ("+15005550100", "Hangs up at once"),
];

pub async fn inbound(ctx: Ctx, Query(n): Query<Notice>) -> Response {
    inbound_page(&ctx, n.notice.as_deref(), None).await
}

async fn inbound_page(ctx: &Ctx, notice_code: Option<&str>, error: Option<&str>) -> Response {
    let voicemails = ctx.api(Method::GET, "/voicemails?limit=25", None).await;
    let settings = ctx.api(Method::GET, "/staff-alerts/settings", None).await;
    let sent = ctx.api(Method::GET, "/staff-alerts?limit=25", None).await;
    let numbers = ctx.api(Method::GET, "/phone-numbers", None).await;
    let calls = ctx
        .api(Method::GET, "/calls?direction=inbound&limit=10", None)
        .await;
    let s = &settings.body;
    let chosen = |e: &str| {
        s["events"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x == e))
    };
    let emails = s["emails"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let ours: Vec<&str> = numbers.body["phone_numbers"]
        .as_array()
        .or(numbers.body["numbers"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|n| n["phone_number"].as_str())
        .collect();
    let body = html! {
        (notice(notice_text(notice_code)))
        (alert(error))
        @if ctx.mode == Mode::Test {
            section.card aria-labelledby="ring-h" {
                h2 id="ring-h" { "Ring the sandbox" }
                p { "A simulated caller rings one of your numbers: your agent answers and the conversation plays through KaiCalls like a real call." }
                form.stack method="post" action="/dashboard/inbound/ring" {
                    label { "Your number"
                        select name="to" required {
                            @for n in &ours { option value=(n) { (n) } }
                        }
                    }
                    label { "Caller"
                        select name="from" {
                            @for (number, what) in CALLERS { option value=(number) { (number) " — " (what) } }
                        }
                    }
                    button type="submit" { "Ring" }
                }
            }
        }
        section.card aria-labelledby="inbound-h" {
            h2 id="inbound-h" { "Recent inbound calls" }
            @let list: Vec<&Value> = calls.body["calls"].as_array().into_iter().flatten().collect();
            @if list.is_empty() { p.muted { "Nobody has called yet." } }
            @else {
                div.table-wrap { table id="inbound-calls" {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Caller" } th scope="col" { "Status" } th scope="col" { "Outcome" } th scope="col" { "Transferred to" } } }
                    tbody {
                        @for c in list {
                            tr {
                                td { a href=(format!("/dashboard/calls/{}", enc(c["id"].as_str().unwrap_or("")))) { (time(&c["created_at"])) } }
                                td { (text(&c["from"])) }
                                td { (status(c["status"].as_str().unwrap_or(""))) }
                                td { (text(&c["outcome"])) }
                                td { (text(&c["transfer_destination"])) }
                            }
                        }
                    }
                } }
            }
        }
        section.card aria-labelledby="vm-h" {
            h2 id="vm-h" { "Voicemails" }
            @let list: Vec<&Value> = voicemails.body["voicemails"].as_array().into_iter().flatten().collect();
            @if list.is_empty() { p.muted { "No voicemails." } }
            @else {
                ul.voicemails {
                    @for v in list {
                        li.card {
                            p { strong { (text(&v["caller"])) } " · " (time(&v["created_at"])) " · " a href=(format!("/dashboard/calls/{}", enc(v["call_id"].as_str().unwrap_or("")))) { "the call" } }
                            blockquote { (text(&v["transcript"])) }
                            @if let Some(summary) = v["summary"].as_str() { p.muted { (summary) } }
                            @if let Some(url) = v["recording_url"].as_str() {
                                audio controls preload="none" src=(url) aria-label=(format!("Voicemail from {}", v["caller"].as_str().unwrap_or(""))) {}
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="alerts-h" {
            h2 id="alerts-h" { "Staff alerts" }
            p { "Tell your staff when an inbound call brings a new lead, asks for a callback, needs a follow-up, or leaves a voicemail." }
            form.stack method="post" action="/dashboard/inbound/alerts" {
                label.check { input type="checkbox" name="enabled" value="true" checked[s["enabled"] == true]; " Send alerts" }
                label { "Email recipients (comma separated)" input type="text" name="emails" value=(emails) placeholder="intake@example.com"; }
                label { "Webhook URL" input type="url" name="webhook_url" value=(s["webhook_url"].as_str().unwrap_or("")) placeholder="https://example.com/alerts"; }
                fieldset {
                    legend { "Alert on" }
                    @for e in EVENTS {
                        label { input type="checkbox" name=(format!("event_{e}")) value="true" checked[chosen(e)]; " " (e.replace('_', " ")) }
                    }
                }
                button type="submit" { "Save alert settings" }
            }
            @let list: Vec<&Value> = sent.body["alerts"].as_array().into_iter().flatten().collect();
            @if !list.is_empty() {
                div.table-wrap { table id="staff-alerts" {
                    caption { "Alerts sent" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "To" } th scope="col" { "Outcome" } } }
                    tbody {
                        @for a in list {
                            tr {
                                td { (time(&a["created_at"])) }
                                td { (text(&a["event"])) }
                                td { (text(&a["recipient"])) }
                                td { (text(&a["status"])) @if let Some(e) = a["error"].as_str() { " — " (e) } }
                            }
                        }
                    }
                } }
            }
        }
    };
    page(ctx, "Inbound", body)
}

#[derive(Deserialize, Default)]
pub struct RingForm {
    to: Option<String>,
    from: Option<String>,
}

pub async fn ring(ctx: Ctx, Form(form): Form<RingForm>) -> Response {
    let done = ctx
        .api(
            Method::POST,
            "/sandbox/inbound-calls",
            Some(json!({ "to": form.to, "from": form.from })),
        )
        .await;
    match done.body["id"].as_str() {
        Some(id) if done.ok() => see_other(&format!("/dashboard/calls/{}", enc(id))),
        _ => with_status(
            inbound_page(&ctx, None, Some(&done.message())).await,
            done.status,
        ),
    }
}

/// The alert settings form: checkboxes arrive only when ticked.
#[derive(Deserialize, Default)]
pub struct AlertsForm {
    enabled: Option<String>,
    emails: Option<String>,
    webhook_url: Option<String>,
    event_new_lead: Option<String>,
    event_callback_requested: Option<String>,
    event_follow_up: Option<String>,
    event_voicemail: Option<String>,
}

pub async fn save_alerts(ctx: Ctx, Form(form): Form<AlertsForm>) -> Response {
    let emails: Vec<String> = form
        .emails
        .unwrap_or_default()
        .split([',', ';', ' ', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect();
    let ticked = [
        ("new_lead", &form.event_new_lead),
        ("callback_requested", &form.event_callback_requested),
        ("follow_up", &form.event_follow_up),
        ("voicemail", &form.event_voicemail),
    ];
    let events: Vec<&str> = ticked
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(e, _)| *e)
        .collect();
    let body = json!({
        "enabled": form.enabled.is_some(),
        "emails": emails,
        "webhook_url": form.webhook_url.unwrap_or_default(),
        "events": events,
    });
    let done = ctx
        .api(Method::PATCH, "/staff-alerts/settings", Some(body))
        .await;
    if done.ok() {
        see_other("/dashboard/inbound?notice=saved")
    } else {
        with_status(
            inbound_page(&ctx, None, Some(&done.message())).await,
            done.status,
        )
    }
}

//! The campaign pages: the list and the form that creates one (contacts from a CSV
//! or a lead filter), and one campaign's page — its progress live from the event
//! stream, pause / resume / cancel, the contacts with their attempts, calls, outcomes
//! and skip reasons. Every page is the campaigns API's answers.

use axum::extract::{Path, Query};
use axum::http::Method;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{agent_options, enc, notice_text, parse_csv, see_other, with_status, Notice};
use super::render::{alert, notice, page, status, text, time};
use super::{Ctx, Form};

/// The create form's fields.
#[derive(Deserialize, Default)]
pub struct CampaignForm {
    name: Option<String>,
    agent_id: Option<String>,
    context: Option<String>,
    max_concurrency: Option<String>,
    max_attempts: Option<String>,
    require_consent: Option<String>,
    /// `csv` or `leads`.
    source: Option<String>,
    csv: Option<String>,
    lead_status: Option<String>,
    start: Option<String>,
}

fn counts_row(c: &Value) -> Markup {
    let n = |k: &str| c["counts"][k].as_i64().unwrap_or(0);
    html! {
        td { (n("total")) } td { (n("pending")) } td { (n("dialing")) } td { (n("completed")) }
        td { (n("failed")) } td { (n("skipped")) } td { (n("exhausted")) }
    }
}

fn form_markup(
    agents: &[(String, String, String)],
    f: &CampaignForm,
    error: Option<&str>,
) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        section.card aria-labelledby="new-campaign-h" {
            h2 id="new-campaign-h" { "New campaign" }
            (alert(error))
            p { "Calls stay inside each recipient's local calling hours (8:00 to 21:00, stricter states too), skip the do-not-call list and retry unanswered calls." }
            form.stack method="post" action="/dashboard/campaigns" {
                label { "Name" input type="text" name="name" maxlength="200" required value=(v(&f.name)); }
                label { "Agent"
                    select name="agent_id" required {
                        @for (id, name, number) in agents {
                            option value=(id) selected[f.agent_id.as_deref() == Some(id.as_str())] { (name) @if !number.is_empty() { " (" (number) ")" } }
                        }
                    }
                }
                label { "Context (use {{name}} and your CSV's columns)" textarea name="context" rows="3" maxlength="10000" { (v(&f.context)) } }
                label { "Calls at once" input type="number" name="max_concurrency" min="1" max="1000" value=(f.max_concurrency.clone().unwrap_or_else(|| "10".into())); }
                label { "Attempts per contact (no answer, busy)" input type="number" name="max_attempts" min="1" max="10" value=(f.max_attempts.clone().unwrap_or_else(|| "3".into())); }
                label { "Require consent"
                    select name="require_consent" {
                        option value="" { "No" }
                        @for basis in crate::compliance::BASES {
                            option value=(basis) selected[f.require_consent.as_deref() == Some(basis)] { (basis) }
                        }
                    }
                }
                fieldset {
                    legend { "Contacts" }
                    label { input type="radio" name="source" value="csv" checked[f.source.as_deref() != Some("leads")]; " From a CSV (columns: to, name, key; the others become variables)" }
                    label.block { "CSV file" input type="file" accept=".csv,text/csv" data-fills="campaign-csv"; }
                    label.block { "CSV" textarea id="campaign-csv" name="csv" rows="5" placeholder="to,name,appointment\n+15125551234,Ann Lee,Tuesday 2pm" { (v(&f.csv)) } }
                    label { input type="radio" name="source" value="leads" checked[f.source.as_deref() == Some("leads")]; " From my leads" }
                    label.block { "Lead status (empty: every lead)" input type="text" name="lead_status" placeholder="new" value=(v(&f.lead_status)); }
                }
                label.check { input type="checkbox" name="start" value="1" checked[f.start.is_some()]; " Start dialing now" }
                button type="submit" { "Create campaign" }
            }
        }
    }
}

async fn list_page(
    ctx: &Ctx,
    notice_code: Option<&str>,
    form: &CampaignForm,
    error: Option<&str>,
) -> Response {
    let listed = ctx.api(Method::GET, "/campaigns?limit=100", None).await;
    let agents = agent_options(ctx).await;
    let body = html! {
        (notice(notice_text(notice_code)))
        @if ctx.mode == crate::auth::api_key::Mode::Live {
            p.error role="note" { "You are viewing live data: a started campaign rings real phones and is billed." }
        }
        section.card aria-labelledby="campaigns-h" {
            h2 id="campaigns-h" { "Campaigns" }
            @let list: Vec<&Value> = listed.body["campaigns"].as_array().into_iter().flatten().collect();
            @if list.is_empty() { p.muted { "No campaign yet." } }
            @else {
                div.table-wrap { table id="campaigns" {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Contacts" } th scope="col" { "Pending" }
                        th scope="col" { "Dialing" } th scope="col" { "Completed" } th scope="col" { "Failed" } th scope="col" { "Skipped" }
                        th scope="col" { "Exhausted" } th scope="col" { "Created" }
                    } }
                    tbody {
                        @for c in list {
                            tr {
                                td { a href=(format!("/dashboard/campaigns/{}", enc(c["id"].as_str().unwrap_or("")))) { (text(&c["name"])) } }
                                td { (status(c["status"].as_str().unwrap_or(""))) }
                                (counts_row(c))
                                td { (time(&c["created_at"])) }
                            }
                        }
                    }
                } }
            }
        }
        (form_markup(&agents, form, error))
    };
    page(ctx, "Campaigns", body)
}

pub async fn list(ctx: Ctx, Query(n): Query<Notice>) -> Response {
    list_page(&ctx, n.notice.as_deref(), &CampaignForm::default(), None).await
}

/// Contacts from CSV rows: `to`/`phone`, `name`, `key`, `lead_id`; other columns are
/// the contact's variables.
fn contacts_of(csv: &str) -> Result<Vec<Value>, String> {
    let rows = parse_csv(csv);
    let Some((header, data)) = rows.split_first() else {
        return Err("The CSV is empty: it needs a header row and at least one contact.".into());
    };
    let columns: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !columns.iter().any(|c| c == "to" || c == "phone") {
        return Err("The CSV needs a `to` (or `phone`) column.".into());
    }
    let mut out = vec![];
    for row in data {
        let mut contact = serde_json::Map::new();
        let mut variables = serde_json::Map::new();
        for (column, cell) in columns.iter().zip(row) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            match column.as_str() {
                "to" | "phone" => {
                    contact.insert("to".into(), json!(cell));
                }
                "name" | "key" | "lead_id" => {
                    contact.insert(column.clone(), json!(cell));
                }
                other => {
                    variables.insert(other.to_string(), json!(cell));
                }
            }
        }
        if !variables.is_empty() {
            contact.insert("variables".into(), Value::Object(variables));
        }
        out.push(Value::Object(contact));
    }
    Ok(out)
}

pub async fn create(ctx: Ctx, Form(form): Form<CampaignForm>) -> Response {
    let number = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
    let mut body = json!({
        "name": form.name,
        "agent_id": form.agent_id,
        "context": form.context.as_deref().map(str::trim).filter(|c| !c.is_empty()),
        "max_concurrency": number(&form.max_concurrency),
        "retry": {"max_attempts": number(&form.max_attempts)},
        "require_consent": form.require_consent.as_deref().filter(|c| !c.is_empty()),
        "start": form.start.is_some(),
    });
    if form.source.as_deref() == Some("leads") {
        let status = form
            .lead_status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        body["lead_filter"] = json!({ "status": status.map(|s| vec![s]) });
    } else {
        match contacts_of(form.csv.as_deref().unwrap_or("")) {
            Ok(contacts) => body["contacts"] = json!(contacts),
            Err(message) => return list_page(&ctx, None, &form, Some(&message)).await,
        }
    }
    let done = ctx.api(Method::POST, "/campaigns", Some(body)).await;
    if done.ok() {
        let id = done.body["id"].as_str().unwrap_or("");
        see_other(&format!(
            "/dashboard/campaigns/{}?notice=campaign_created",
            enc(id)
        ))
    } else {
        with_status(
            list_page(&ctx, None, &form, Some(&done.message())).await,
            done.status,
        )
    }
}

pub async fn detail(ctx: Ctx, Path(id): Path<String>, Query(n): Query<Notice>) -> Response {
    detail_page(&ctx, &id, n.notice.as_deref(), None).await
}

async fn detail_page(
    ctx: &Ctx,
    id: &str,
    notice_code: Option<&str>,
    error: Option<&str>,
) -> Response {
    let qs = format!("?id={}", enc(id));
    let campaign = ctx.api(Method::GET, &format!("/campaigns{qs}"), None).await;
    if !campaign.ok() {
        return with_status(
            page(
                ctx,
                "Campaign",
                html! { (alert(Some(&campaign.message()))) },
            ),
            campaign.status,
        );
    }
    let contacts = ctx
        .api(
            Method::GET,
            &format!("/campaigns/contacts{qs}&limit=500"),
            None,
        )
        .await;
    let c = &campaign.body;
    let state = c["status"].as_str().unwrap_or("");
    let action = |name: &str, label: &str, danger: bool| {
        html! {
            @let to = format!("/dashboard/campaigns/{}/{name}", enc(id));
            @if danger {
                form.inline method="post" action=(to) data-confirm="Cancel this campaign? Pending contacts will not be called." {
                    button.danger type="submit" { (label) }
                }
            } @else {
                form.inline method="post" action=(to) { button type="submit" { (label) } }
            }
        }
    };
    let body = html! {
        (notice(notice_text(notice_code)))
        (alert(error))
        div id="live" data-stream=(format!("/api/v1/events/stream?mode={}", ctx.mode.as_str())) aria-live="polite" {
            section.card aria-labelledby="campaign-h" {
                h2 id="campaign-h" { (text(&c["name"])) " " (status(state)) }
                div.actions {
                    @if state == "draft" { (action("start", "Start", false)) }
                    @if state == "running" || state == "scheduled" { (action("pause", "Pause", false)) }
                    @if state == "paused" { (action("resume", "Resume", false)) }
                    @if !matches!(state, "completed" | "canceled") { (action("cancel", "Cancel", true)) }
                }
                dl.facts {
                    dt { "Calls at once" } dd { (text(&c["max_concurrency"])) }
                    dt { "Calling window" } dd { (text(&c["window_start"])) "–" (text(&c["window_end"])) " recipient's local time" }
                    dt { "Attempts" } dd { (text(&c["retry"]["max_attempts"])) " (retried: " (c["retry"]["retry_on"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) ")" }
                    @if let Some(basis) = c["require_consent"].as_str() { dt { "Consent required" } dd { (basis) } }
                    @if !c["ends_at"].is_null() { dt { "Ends" } dd { (time(&c["ends_at"])) } }
                }
                div.table-wrap { table id="campaign-counts" {
                    thead { tr {
                        th scope="col" { "Contacts" } th scope="col" { "Pending" } th scope="col" { "Dialing" } th scope="col" { "Completed" }
                        th scope="col" { "Failed" } th scope="col" { "Skipped" } th scope="col" { "Exhausted" }
                    } }
                    tbody { tr { (counts_row(c)) } }
                } }
                @if let Some(reasons) = c["skip_reasons"].as_object().filter(|r| !r.is_empty()) {
                    p id="skip-reasons" { "Skipped: " @for (i, (reason, n)) in reasons.iter().enumerate() { @if i > 0 { ", " } (reason) " " (n) } }
                }
            }
            section.card aria-labelledby="contacts-h" {
                h2 id="contacts-h" { "Contacts" }
                @let list: Vec<&Value> = contacts.body["contacts"].as_array().into_iter().flatten().collect();
                @if list.is_empty() { p.muted { "No contacts." } }
                @else {
                    div.table-wrap { table id="contacts" {
                        thead { tr {
                            th scope="col" { "Number" } th scope="col" { "Name" } th scope="col" { "State" } th scope="col" { "Attempts" }
                            th scope="col" { "Outcome" } th scope="col" { "Skip reason" } th scope="col" { "Calls" }
                        } }
                        tbody {
                            @for k in list {
                                tr {
                                    td { (text(&k["to"])) } td { (text(&k["name"])) }
                                    td { (status(k["state"].as_str().unwrap_or(""))) }
                                    td { (text(&k["attempts"])) } td { (text(&k["outcome"])) }
                                    td title=(k["detail"].as_str().unwrap_or("")) { (text(&k["skip_reason"])) }
                                    td {
                                        @for (i, call) in k["call_ids"].as_array().into_iter().flatten().filter_map(Value::as_str).enumerate() {
                                            @if i > 0 { " " }
                                            a href=(format!("/dashboard/calls/{}", enc(call))) { "call " (i + 1) }
                                        }
                                    }
                                }
                            }
                        }
                    } }
                }
            }
        }
    };
    page(ctx, "Campaign", body)
}

pub async fn action(ctx: Ctx, Path((id, action)): Path<(String, String)>) -> Response {
    if !matches!(action.as_str(), "start" | "pause" | "resume" | "cancel") {
        return see_other(&format!("/dashboard/campaigns/{}", enc(&id)));
    }
    let path = format!("/campaigns/{action}?id={}", enc(&id));
    let done = ctx.api(Method::POST, &path, None).await;
    if done.ok() {
        let code = match action.as_str() {
            "start" => "campaign_started",
            "pause" => "campaign_paused",
            "resume" => "campaign_resumed",
            _ => "campaign_canceled",
        };
        see_other(&format!("/dashboard/campaigns/{}?notice={code}", enc(&id)))
    } else {
        with_status(
            detail_page(&ctx, &id, None, Some(&done.message())).await,
            done.status,
        )
    }
}

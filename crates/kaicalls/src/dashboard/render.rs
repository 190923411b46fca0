//! The pieces every page is made of: the layout, badges, times, charts, errors.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use super::Ctx;
use crate::auth::api_key::Mode;

/// The navigation: path, label.
const NAV: &[(&str, &str)] = &[
    ("/dashboard", "Overview"),
    ("/dashboard/calls", "Calls"),
    ("/dashboard/agents", "Agents & numbers"),
    ("/dashboard/leads", "Leads"),
    ("/dashboard/campaigns", "Campaigns"),
    ("/dashboard/inbound", "Inbound"),
    ("/dashboard/webhooks", "Webhooks"),
    ("/dashboard/dnc", "Do not call"),
    ("/dashboard/keys", "API keys"),
    ("/dashboard/settings", "Settings"),
];

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · KaiCalls" }
        link rel="icon" href="data:,";
        link rel="stylesheet" href="/dashboard/assets/app.css";
        script src="/dashboard/assets/app.js" defer {}
    }
}

/// A signed-in page: header with navigation, mode switch and sign-out; `body` in main.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Response {
    let section = NAV
        .iter()
        .filter(|(path, _)| {
            ctx.here == *path
                || (*path != "/dashboard" && ctx.here.starts_with(&format!("{path}/")))
                || ctx.here.starts_with(&format!("{path}?"))
        })
        .map(|(path, _)| *path)
        .next_back();
    let other = match ctx.mode {
        Mode::Test => "live",
        Mode::Live => "test",
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/dashboard" { "KaiCalls" }
                    nav.main aria-label="Main" {
                        ul {
                            @for (path, label) in NAV {
                                li {
                                    @if section == Some(*path) {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        form.inline method="post" action="/dashboard/mode" {
                            input type="hidden" name="mode" value=(other);
                            input type="hidden" name="back" value=(ctx.here);
                            span class=(format!("mode-{}", ctx.mode.as_str())) {
                                @match ctx.mode { Mode::Test => "Test data", Mode::Live => "Live data" }
                            }
                            " "
                            button type="submit" { "View " (other) " data" }
                        }
                        span { (ctx.email) }
                        form.inline method="post" action="/logout" {
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    super::secure(Html(markup.into_string()).into_response())
}

/// A page for someone not signed in (sign-in, sign-up).
pub fn public_page(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                main id="main" class="auth" {
                    p { a href="/" { strong { "KaiCalls" } } }
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    super::secure((status, Html(markup.into_string())).into_response())
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    public_page(
        status,
        title,
        html! {
            p.error role="alert" { (message) }
            p { a href="/dashboard" { "Back to the dashboard" } }
        },
    )
}

/// An error box (role alert) when there is a message.
pub fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.error role="alert" { (message) }
        }
    }
}

/// A notice box (role status) when there is one.
pub fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.notice role="status" { (message) }
        }
    }
}

pub fn status(status: &str) -> Markup {
    html! { span class=(format!("status status-{status}")) { (status.replace('_', " ")) } }
}

/// An RFC 3339 time as `2026-12-03 10:31:20 UTC`, in a `<time>` element.
pub fn time(value: &Value) -> Markup {
    match value.as_str() {
        Some(t) => {
            let shown = chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| {
                    d.with_timezone(&chrono::Utc)
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string()
                })
                .unwrap_or_else(|_| t.to_string());
            html! { time datetime=(t) { (shown) } }
        }
        None => html! { span.muted { "—" } },
    }
}

/// A JSON value as text (strings without quotes; absent as a dash).
pub fn text(value: &Value) -> Markup {
    match value {
        Value::Null => html! { span.muted { "—" } },
        Value::String(s) if s.is_empty() => html! { span.muted { "—" } },
        Value::String(s) => html! { (s) },
        other => html! { (other.to_string()) },
    }
}

/// A bar chart: one bar per (label, value), as an SVG image with a text alternative.
pub fn bar_chart(id: &str, caption: &str, bars: &[(String, i64)], bad: &[usize]) -> Markup {
    let width = 640.0;
    let height = 180.0;
    let top = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let slot = width / bars.len().max(1) as f64;
    let summary = bars
        .iter()
        .map(|(label, value)| format!("{label}: {value}"))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        figure.chart id=(id) {
            svg viewBox=(format!("0 0 {width} {}", height + 30.0)) role="img" aria-labelledby=(format!("{id}-title")) {
                title id=(format!("{id}-title")) { (caption) ": " (summary) }
                @for (i, (label, value)) in bars.iter().enumerate() {
                    @let h = (*value as f64 / top) * (height - 20.0);
                    @let x = i as f64 * slot + slot * 0.15;
                    rect class=(if bad.contains(&i) { "bar bar-bad" } else { "bar" })
                        x=(format!("{x:.1}")) y=(format!("{:.1}", height - h)) width=(format!("{:.1}", slot * 0.7)) height=(format!("{h:.1}")) {}
                    text.axis x=(format!("{:.1}", x + slot * 0.35)) y=(format!("{:.1}", height - h - 4.0)) text-anchor="middle" { (value) }
                    text.axis x=(format!("{:.1}", x + slot * 0.35)) y=(format!("{:.1}", height + 16.0)) text-anchor="middle" { (label) }
                }
            }
            figcaption { (caption) }
        }
    }
}

/// One stacked bar: its x, its segments bottom up (class, y, height), its top.
type Stack<'a> = (f64, Vec<(&'a str, f64, f64)>, f64);

/// Stacked bars: per label, one segment per series (name, CSS class, values), with a
/// legend and a text alternative.
pub fn stacked_chart(
    id: &str,
    caption: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<i64>)],
) -> Markup {
    let width = 640.0;
    let height = 180.0;
    let totals: Vec<i64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|(_, _, v)| v.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let top = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = width / labels.len().max(1) as f64;
    let summary = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let parts = series
                .iter()
                .map(|(name, _, v)| {
                    format!("{} {}", v.get(i).copied().unwrap_or(0), name.to_lowercase())
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("{label}: {parts}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    // Per label: where its bar sits, its segments bottom up (class, y, height), and
    // the top of the stack.
    let bars: Vec<Stack> = (0..labels.len())
        .map(|i| {
            let x = i as f64 * slot + slot * 0.15;
            let mut base = height;
            let segments = series
                .iter()
                .map(|(_, class, values)| {
                    let h = (values.get(i).copied().unwrap_or(0) as f64 / top) * (height - 20.0);
                    base -= h;
                    (*class, base, h)
                })
                .collect();
            (x, segments, base)
        })
        .collect();
    html! {
        figure.chart id=(id) {
            svg viewBox=(format!("0 0 {width} {}", height + 30.0)) role="img" aria-labelledby=(format!("{id}-title")) {
                title id=(format!("{id}-title")) { (caption) ": " (summary) }
                @for (i, (x, segments, top_y)) in bars.iter().enumerate() {
                    @for (class, y, h) in segments {
                        rect class=(class) x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", slot * 0.7)) height=(format!("{h:.1}")) {}
                    }
                    @if totals[i] > 0 {
                        text.axis x=(format!("{:.1}", x + slot * 0.35)) y=(format!("{:.1}", top_y - 4.0)) text-anchor="middle" { (totals[i]) }
                    }
                    text.axis x=(format!("{:.1}", x + slot * 0.35)) y=(format!("{:.1}", height + 16.0)) text-anchor="middle" { (labels[i]) }
                }
            }
            figcaption {
                (caption) ". "
                @for (name, class, _) in series {
                    span.legend { svg.swatch viewBox="0 0 10 10" aria-hidden="true" { rect class=(class) width="10" height="10" {} } " " (name) " " }
                }
            }
        }
    }
}

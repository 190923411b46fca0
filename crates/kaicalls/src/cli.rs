//! Client commands of the `kaicalls` binary: `call`, `calls list|get|end`,
//! `agents list`, `campaigns create|list|get|pause|resume|cancel`,
//! `events listen [--forward-to URL]`, through the `kaicalls-client`
//! crate. Tables for people, `--json`
//! for scripts. Exit codes: 0 done, 1 error (API or network), 3 the call ended
//! without completing (failed or canceled).

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use kaicalls_client::{Call, CreateCall, KaiCalls};

#[derive(Args, Clone)]
pub struct ClientArgs {
    /// API key (kc_live_… or kc_test_…).
    #[arg(long, env = "KAICALLS_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// The KaiCalls server.
    #[arg(
        long,
        env = "KAICALLS_BASE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub base_url: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Args)]
pub struct CallArgs {
    /// The number to call, E.164 (e.g. +15125551234).
    pub to: String,
    /// The agent that places the call.
    #[arg(long)]
    pub agent: String,
    /// The customer's name.
    #[arg(long)]
    pub name: Option<String>,
    /// What the call is about.
    #[arg(long)]
    pub context: Option<String>,
    /// The agent's opening line.
    #[arg(long)]
    pub first_message: Option<String>,
    /// A lead in your CRM.
    #[arg(long)]
    pub lead: Option<String>,
    /// Maximum duration in seconds.
    #[arg(long)]
    pub max_duration: Option<i64>,
    /// Follow the call to its end, showing its progress.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand)]
pub enum CallsCommand {
    /// List recent calls.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one call.
    Get {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Hang up or cancel a call.
    End {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Ring one of your numbers as a simulated caller (test keys): the agent answers
    /// and a scripted conversation plays. Magic callers: +15005550100 hangs up at once,
    /// +15005550101 asks for a person (transfer), +15005550102 leaves a voicemail,
    /// +15005550103 asks not to be called again, +15005550104 asks for a callback; any
    /// other number is an intake conversation.
    Ring {
        /// One of your numbers (E.164).
        #[arg(long)]
        to: String,
        /// The caller (E.164).
        #[arg(long)]
        from: String,
        /// Wait for the call to end and show it.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum VoicemailsCommand {
    /// List the voicemails callers left, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum AgentsCommand {
    /// List agents.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum CampaignsCommand {
    /// Create a campaign from a CSV file of contacts (a header row naming `to`, and
    /// optionally `name`, `key`, `lead_id`; other columns become the contact's
    /// variables).
    Create {
        /// The campaign's name.
        #[arg(long)]
        name: String,
        /// The agent that calls.
        #[arg(long)]
        agent: String,
        /// The contacts' CSV file (`-` for stdin).
        #[arg(long)]
        contacts: String,
        /// What each call is about ({{variables}} filled per contact).
        #[arg(long)]
        context: Option<String>,
        /// Calls at once.
        #[arg(long)]
        max_concurrency: Option<i64>,
        /// Attempts per contact when unanswered or busy.
        #[arg(long)]
        max_attempts: Option<i64>,
        /// Only contacts with consent of this basis on record.
        #[arg(long)]
        require_consent: Option<String>,
        /// When to stop (ISO 8601).
        #[arg(long)]
        ends_at: Option<String>,
        /// Start dialing now (otherwise a draft).
        #[arg(long)]
        start: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List campaigns.
    List {
        /// Only this status (draft, scheduled, running, paused, completed, canceled).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one campaign and its counters.
    Get {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop new dials (calls in progress finish).
    Pause {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Go on where a paused campaign stopped.
    Resume {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// End it: pending contacts are canceled.
    Cancel {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Print events as they happen (resuming after a dropped connection without
    /// losing one); with --forward-to, also POST each one to a local URL as a signed
    /// webhook, like a real delivery.
    Listen {
        /// Where to POST each event's webhook payload (e.g. http://localhost:3000/hooks).
        #[arg(long)]
        forward_to: Option<String>,
        /// Only these event types (comma-separated, e.g. call.completed,call.failed).
        #[arg(long)]
        events: Option<String>,
        /// Only this call's events.
        #[arg(long)]
        call_id: Option<String>,
        /// Start after this event id instead of now.
        #[arg(long)]
        after: Option<String>,
        /// The whsec_… secret forwarded requests are signed with; by default the
        /// business webhook secret (GET /api/v1/webhooks/secret, needs webhooks:read).
        #[arg(long, env = "KAICALLS_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn client(args: &ClientArgs) -> KaiCalls {
    KaiCalls::with_base_url(&args.api_key, &args.base_url)
}

fn fail(err: kaicalls_client::Error) -> i32 {
    match &err.param {
        Some(param) => eprintln!(
            "error: {} ({}): {} [param: {param}]",
            err.code, err.status, err.message
        ),
        None => eprintln!("error: {} ({}): {}", err.code, err.status, err.message),
    }
    1
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn call_line(call: &Call) -> String {
    format!(
        "{:<36}  {:<11}  {:>5}  {:<16}  {}",
        call.id,
        call.status,
        call.duration.map_or("-".into(), |d| format!("{d}s")),
        call.to.as_deref().unwrap_or("-"),
        call.created_at
    )
}

fn show_call(call: &Call) {
    println!("id          {}", call.id);
    println!("status      {}", call.status);
    if let Some(reason) = &call.ended_reason {
        println!("ended       {reason}");
    }
    if let Some(d) = call.duration {
        println!("duration    {d}s");
    }
    println!("to          {}", call.to.as_deref().unwrap_or("-"));
    if let Some(summary) = &call.summary {
        println!("summary     {summary}");
    }
    if let Some(url) = &call.recording_url {
        println!("recording   {url}");
    }
}

fn exit_for(call: &Call) -> i32 {
    match call.status.as_str() {
        "failed" | "canceled" => 3,
        _ => 0,
    }
}

pub async fn call(args: CallArgs) -> i32 {
    let kai = client(&args.client);
    let mut request = CreateCall::new(&args.agent, &args.to);
    request.name = args.name;
    request.context = args.context;
    request.first_message = args.first_message;
    request.lead_id = args.lead;
    request.max_duration = args.max_duration;
    let call = match kai.create_call(&request).await {
        Ok(call) => call,
        Err(err) => return fail(err),
    };
    if !args.wait {
        if args.client.json {
            print_json(&call);
        } else {
            println!("{}", call_line(&call));
        }
        return 0;
    }
    let show_progress = !args.client.json;
    let mut last = String::new();
    let done = kai
        .wait_call_with(&call.id, Duration::from_secs(3 * 3600), |c| {
            if show_progress && c.status != last {
                last = c.status.clone();
                eprint!("\r{} … {:<12}", c.id, c.status);
                let _ = std::io::stderr().flush();
            }
        })
        .await;
    if show_progress {
        eprintln!();
    }
    match done {
        Ok(done) => {
            if args.client.json {
                print_json(&done);
            } else {
                show_call(&done);
            }
            exit_for(&done)
        }
        Err(err) => fail(err),
    }
}

pub async fn calls(command: CallsCommand) -> i32 {
    match command {
        CallsCommand::List { limit, client: c } => match client(&c).list_calls(limit, None).await {
            Ok(page) if c.json => {
                print_json(&page.calls);
                0
            }
            Ok(page) => {
                println!(
                    "{:<36}  {:<11}  {:>5}  {:<16}  created",
                    "id", "status", "dur", "to"
                );
                for call in &page.calls {
                    println!("{}", call_line(call));
                }
                0
            }
            Err(err) => fail(err),
        },
        CallsCommand::Get { id, client: c } => match client(&c).get_call(&id).await {
            Ok(call) => {
                if c.json {
                    print_json(&call)
                } else {
                    show_call(&call)
                }
                0
            }
            Err(err) => fail(err),
        },
        CallsCommand::End { id, client: c } => match client(&c).end_call(&id).await {
            Ok(call) => {
                if c.json {
                    print_json(&call)
                } else {
                    show_call(&call)
                }
                0
            }
            Err(err) => fail(err),
        },
    }
}

pub async fn agents(command: AgentsCommand) -> i32 {
    let AgentsCommand::List { client: c } = command;
    match client(&c).list_agents().await {
        Ok(agents) if c.json => {
            print_json(&agents);
            0
        }
        Ok(agents) => {
            println!("{:<36}  {:<20}  phone", "id", "name");
            for a in &agents {
                let text = |k: &str| a[k].as_str().unwrap_or("-").to_string();
                println!(
                    "{:<36}  {:<20}  {}",
                    text("id"),
                    text("name"),
                    text("phone_number")
                );
            }
            0
        }
        Err(err) => fail(err),
    }
}

/// Contacts from CSV text: the header names the columns.
pub fn contacts_from_csv(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or("the CSV file is empty")?
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if !header.iter().any(|h| h == "to" || h == "phone") {
        return Err("the CSV header must name a `to` (or `phone`) column".into());
    }
    let mut out = Vec::new();
    for line in lines {
        let mut row = serde_json::Map::new();
        let mut variables = serde_json::Map::new();
        for (column, cell) in header.iter().zip(line.split(',')) {
            let cell = cell.trim().trim_matches('"').to_string();
            if cell.is_empty() {
                continue;
            }
            match column.as_str() {
                "to" | "phone" => row.insert("to".into(), cell.into()),
                "name" | "key" | "lead_id" => row.insert(column.clone(), cell.into()),
                other => variables.insert(other.to_string(), cell.into()),
            };
        }
        if !variables.is_empty() {
            row.insert("variables".into(), variables.into());
        }
        out.push(serde_json::Value::Object(row));
    }
    Ok(out)
}

fn campaign_line(c: &serde_json::Value) -> String {
    let n = |k: &str| c["counts"][k].as_i64().unwrap_or(0);
    format!(
        "{:<36}  {:<9}  {:>5}  {:>7}  {:>7}  {:>7}  {}",
        c["id"].as_str().unwrap_or("-"),
        c["status"].as_str().unwrap_or("-"),
        n("total"),
        n("pending"),
        n("dialing"),
        n("completed"),
        c["name"].as_str().unwrap_or("-"),
    )
}

const CAMPAIGN_HEADER: &str =
    "id                                    status     total  pending  dialing  completed  name";

fn show_campaign(c: &serde_json::Value, json: bool) {
    if json {
        print_json(c);
        return;
    }
    println!("{CAMPAIGN_HEADER}");
    println!("{}", campaign_line(c));
    let counts = &c["counts"];
    println!(
        "failed {}  skipped {}  exhausted {}  expired {}  canceled {}",
        counts["failed"],
        counts["skipped"],
        counts["exhausted"],
        counts["expired"],
        counts["canceled"]
    );
    if let Some(reasons) = c["skip_reasons"].as_object().filter(|r| !r.is_empty()) {
        let list: Vec<String> = reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("skipped because: {}", list.join(", "));
    }
}

pub async fn sandbox(command: SandboxCommand) -> i32 {
    let SandboxCommand::Ring {
        to,
        from,
        wait,
        client: c,
    } = command;
    let kai = client(&c);
    let call = match kai.sandbox_ring(&to, &from).await {
        Ok(call) => call,
        Err(err) => return fail(err),
    };
    let call = if wait {
        match kai.wait_call(&call.id, Duration::from_secs(3600)).await {
            Ok(done) => done,
            Err(err) => return fail(err),
        }
    } else {
        call
    };
    if c.json {
        print_json(&call);
    } else if wait {
        show_call(&call);
        if let Some(dest) = call
            .extra
            .get("transfer_destination")
            .and_then(|d| d.as_str())
        {
            println!("transferred {dest}");
        }
    } else {
        println!("{}", call_line(&call));
    }
    0
}

pub async fn voicemails(command: VoicemailsCommand) -> i32 {
    let VoicemailsCommand::List { limit, client: c } = command;
    match client(&c)
        .list_voicemails(&[("limit", limit.to_string())])
        .await
    {
        Ok(page) if c.json => {
            print_json(&page["voicemails"]);
            0
        }
        Ok(page) => {
            for vm in page["voicemails"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<16}  {}",
                    vm["created_at"].as_str().unwrap_or(""),
                    vm["caller"].as_str().unwrap_or(""),
                    vm["transcript"].as_str().unwrap_or("")
                );
            }
            0
        }
        Err(err) => fail(err),
    }
}

pub async fn campaigns(command: CampaignsCommand) -> i32 {
    let (answer, json) = match command {
        CampaignsCommand::Create {
            name,
            agent,
            contacts,
            context,
            max_concurrency,
            max_attempts,
            require_consent,
            ends_at,
            start,
            client: c,
        } => {
            let text = if contacts == "-" {
                let mut buf = String::new();
                match std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf) {
                    Ok(_) => buf,
                    Err(e) => {
                        eprintln!("error: reading stdin: {e}");
                        return 1;
                    }
                }
            } else {
                match std::fs::read_to_string(&contacts) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("error: reading {contacts}: {e}");
                        return 1;
                    }
                }
            };
            let rows = match contacts_from_csv(&text) {
                Ok(rows) => rows,
                Err(e) => {
                    eprintln!("error: {contacts}: {e}");
                    return 1;
                }
            };
            let mut body = serde_json::json!({
                "name": name,
                "agent_id": agent,
                "contacts": rows,
                "context": context,
                "max_concurrency": max_concurrency,
                "require_consent": require_consent,
                "ends_at": ends_at,
                "start": start,
            });
            if let Some(n) = max_attempts {
                body["retry"] = serde_json::json!({ "max_attempts": n });
            }
            if let Some(map) = body.as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
            (client(&c).create_campaign(&body).await, c.json)
        }
        CampaignsCommand::List {
            status,
            limit,
            client: c,
        } => {
            let mut filters = vec![("limit", limit.to_string())];
            if let Some(s) = status {
                filters.push(("status", s));
            }
            match client(&c).list_campaigns(&filters).await {
                Ok(page) if c.json => {
                    print_json(&page["campaigns"]);
                    return 0;
                }
                Ok(page) => {
                    println!("{CAMPAIGN_HEADER}");
                    for campaign in page["campaigns"].as_array().into_iter().flatten() {
                        println!("{}", campaign_line(campaign));
                    }
                    return 0;
                }
                Err(err) => return fail(err),
            }
        }
        CampaignsCommand::Get { id, client: c } => (client(&c).get_campaign(&id).await, c.json),
        CampaignsCommand::Pause { id, client: c } => {
            (client(&c).campaign_action(&id, "pause").await, c.json)
        }
        CampaignsCommand::Resume { id, client: c } => {
            (client(&c).campaign_action(&id, "resume").await, c.json)
        }
        CampaignsCommand::Cancel { id, client: c } => {
            (client(&c).campaign_action(&id, "cancel").await, c.json)
        }
    };
    match answer {
        Ok(campaign) => {
            show_campaign(&campaign, json);
            0
        }
        Err(err) => fail(err),
    }
}

pub async fn events(command: EventsCommand) -> i32 {
    let EventsCommand::Listen {
        forward_to,
        events,
        call_id,
        after,
        secret,
        client: c,
    } = command;
    let kai = client(&c);
    let secret = match (&forward_to, secret) {
        (None, _) => None,
        (Some(_), Some(secret)) => Some(secret),
        (Some(_), None) => match kai.webhook_secret().await {
            Ok(v) => v["webhook_secret"].as_str().map(str::to_string),
            Err(err) => {
                eprintln!("error: forwarding needs a secret to sign with: pass --secret whsec_… or use a key with webhooks:read");
                return fail(err);
            }
        },
    };
    let mut stream = kai.stream_events();
    if let Some(types) = &events {
        let types: Vec<&str> = types.split(',').map(str::trim).collect();
        stream = stream.event_types(&types);
    }
    if let Some(id) = call_id {
        stream = stream.call_id(id);
    }
    if let Some(id) = after {
        stream = stream.after(id);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    match &forward_to {
        Some(url) => eprintln!("Ready! Forwarding events to {url} (Ctrl-C to stop)"),
        None => eprintln!("Ready! Listening for events (Ctrl-C to stop)"),
    }
    loop {
        let event = match stream.next().await {
            Ok(Some(event)) => event,
            Ok(None) => return 0,
            Err(err) => return fail(err),
        };
        if c.json {
            print_json(&event);
        } else {
            println!(
                "{}  --> {} [{}] {} {}",
                event.created_at, event.kind, event.id, event.object_type, event.object_id
            );
        }
        let (Some(url), Some(secret)) = (&forward_to, &secret) else {
            let _ = std::io::stdout().flush();
            continue;
        };
        let body = event.data.to_string();
        let msg_id = kaicalls::events::webhook_id(&event.id, Some("cli"));
        let timestamp = chrono::Utc::now().timestamp();
        let outcome = http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                kaicalls::webhooks::signing::sign(secret, &msg_id, timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        match outcome {
            Ok(resp) if !c.json => println!(
                "{}  <-- [{}] POST {url} [{}]",
                event.created_at,
                resp.status().as_u16(),
                event.id
            ),
            Ok(_) => {}
            Err(err) => eprintln!(
                "{}  <-- forwarding {} to {url} failed: {err}",
                event.created_at, event.id
            ),
        }
        let _ = std::io::stdout().flush();
    }
}

//! Client commands of the `kaicalls` binary: `call`, `calls list|get|end`,
//! `agents list`, `events listen [--forward-to URL]`, through the `kaicalls-client`
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
pub enum AgentsCommand {
    /// List agents.
    List {
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

//! The `kaicalls` command line: `serve`, `migrate`, `admin bootstrap`,
//! `admin create-user`.

mod cli;

use clap::{Parser, Subcommand};
use kaicalls::admin::{self, BootstrapInput};
use kaicalls::clock::{Clock, SystemClock};
use kaicalls::config::{DbArgs, ServeArgs};
use kaicalls::store::Store;

#[derive(Parser)]
#[command(
    name = "kaicalls",
    version,
    about = "KaiCalls: give your AI agent a phone.",
    long_about = "KaiCalls: give your AI agent a phone.\n\nStart with `kaicalls serve --demo`: it creates a demo tenant on an empty database, prints its keys and a ready-to-paste curl, and serves the API on http://127.0.0.1:8080 (SQLite file kaicalls.db, built-in call simulator)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server and the call worker.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit (serve also applies them at start).
    Migrate(DbArgs),
    /// Place a call (client; reads KAICALLS_API_KEY and KAICALLS_BASE_URL).
    Call(Box<cli::CallArgs>),
    /// List, show or end calls (client).
    #[command(subcommand)]
    Calls(cli::CallsCommand),
    /// List agents (client).
    #[command(subcommand)]
    Agents(cli::AgentsCommand),
    /// Create, list, show, pause, resume or cancel campaigns (client).
    #[command(subcommand)]
    Campaigns(cli::CampaignsCommand),
    /// The sandbox: ring one of your numbers as a simulated caller (client, test keys).
    #[command(subcommand)]
    Sandbox(cli::SandboxCommand),
    /// List the voicemails callers left (client).
    #[command(subcommand)]
    Voicemails(cli::VoicemailsCommand),
    /// Follow the live event stream, or forward it to a local URL (client).
    #[command(subcommand)]
    Events(cli::EventsCommand),
    /// Serve MCP (Model Context Protocol) over stdio for desktop AI clients (Claude
    /// Desktop, Cursor): its tools use the KaiCalls server at KAICALLS_BASE_URL with
    /// KAICALLS_API_KEY. Logs go to stderr.
    Mcp(McpArgs),
    /// Print the OpenAPI document (what /api/v1/openapi.json serves).
    Openapi,
    /// Administrative commands against the database.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(clap::Args)]
struct McpArgs {
    /// API key (kc_live_… or kc_test_…).
    #[arg(long, env = "KAICALLS_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The KaiCalls server.
    #[arg(
        long,
        env = "KAICALLS_BASE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    base_url: String,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user (or reuse one by email), a business, an agent "Kai" with a phone
    /// number, and a live and a test key with scope `*`.
    Bootstrap {
        #[command(flatten)]
        db: DbArgs,
        /// The dashboard user's email (an existing user gets another business).
        #[arg(long)]
        email: String,
        /// The dashboard user's password (at least 8 characters).
        #[arg(long)]
        password: String,
        /// The business's name.
        #[arg(long)]
        business: String,
        /// The business's office phone, E.164.
        #[arg(long)]
        business_phone: Option<String>,
        /// The business's IANA time zone (used for `time_of_day`).
        #[arg(long, default_value = "America/Chicago")]
        timezone: String,
        /// Print one JSON object: user_id, business_id, agent_id, phone_number_id,
        /// phone_number, live_key, test_key, webhook_secret.
        #[arg(long)]
        json: bool,
    },
    /// List the jobs that failed for good (dead), as JSON lines: id, kind, subject_id,
    /// attempts, last_error, dead_at.
    DeadJobs {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create a dashboard user.
    CreateUser {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// Print {"user_id": …}.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // Client commands speak for themselves and exit with their own codes.
    let cli = match cli.command {
        Command::Call(args) => std::process::exit(cli::call(*args).await),
        Command::Calls(command) => std::process::exit(cli::calls(command).await),
        Command::Agents(command) => std::process::exit(cli::agents(command).await),
        Command::Campaigns(command) => std::process::exit(cli::campaigns(command).await),
        Command::Events(command) => std::process::exit(cli::events(command).await),
        Command::Sandbox(command) => std::process::exit(cli::sandbox(command).await),
        Command::Voicemails(command) => std::process::exit(cli::voicemails(command).await),
        command => Cli { command },
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run(cli).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = SystemClock::default();
    match cli.command {
        Command::Serve(args) => kaicalls::server::serve(*args).await,
        Command::Mcp(args) => kaicalls::mcp::stdio::run(&args.base_url, &args.api_key).await,
        Command::Call(_)
        | Command::Calls(_)
        | Command::Agents(_)
        | Command::Campaigns(_)
        | Command::Sandbox(_)
        | Command::Voicemails(_)
        | Command::Events(_) => Ok(()),
        Command::Openapi => {
            use std::io::Write;
            let text = serde_json::to_string_pretty(&kaicalls::http::openapi::document())?;
            // A reader that stops early (`kaicalls openapi | cmp - openapi.json`) is
            // not an error of ours.
            match writeln!(std::io::stdout(), "{text}") {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
        Command::Migrate(db) => {
            Store::connect(&db.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin(AdminCommand::Bootstrap {
            db,
            email,
            password,
            business,
            business_phone,
            timezone,
            json,
        }) => {
            let store = Store::connect(&db.database_url).await?;
            let out = admin::bootstrap(
                &store,
                clock.now(),
                &BootstrapInput {
                    email: &email,
                    password: &password,
                    business: &business,
                    business_phone: business_phone.as_deref(),
                    timezone: &timezone,
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&out)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
        Command::Admin(AdminCommand::DeadJobs { db }) => {
            let store = Store::connect(&db.database_url).await?;
            for job in kaicalls::jobs::dead(&store).await? {
                println!("{}", serde_json::to_string(&job)?);
            }
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser {
            db,
            email,
            password,
            json,
        }) => {
            let store = Store::connect(&db.database_url).await?;
            let id = admin::create_user(&store, clock.now(), &email, &password).await?;
            if json {
                println!("{}", serde_json::json!({ "user_id": id }));
            } else {
                println!("created user {id}");
            }
            Ok(())
        }
    }
}

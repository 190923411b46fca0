//! Configuration (SPEC §2): flags override environment variables, which override
//! defaults. clap's `env` support gives exactly that order.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "KAICALLS_DATABASE_URL",
        default_value = "sqlite://kaicalls.db"
    )]
    pub database_url: String,

    /// Database connections: PostgreSQL's pool, or SQLite's read-only connections
    /// beside its one writer (at most 8).
    #[arg(long, env = "KAICALLS_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Api,
    Worker,
    All,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// What this instance does: `api` serves the API (jobs run elsewhere), `worker`
    /// runs jobs (and serves only /healthz, /readyz and /metrics), `all` both.
    #[arg(long, env = "KAICALLS_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,

    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "KAICALLS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Redis URL: per-key rate limits shared by every instance using it (unset: each
    /// process keeps its own).
    #[arg(long, env = "KAICALLS_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Public base URL of this server, used in recording URLs. Default: http://{bind}.
    #[arg(long, env = "KAICALLS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// `Host` names `/api/mcp` serves, comma separated (DNS-rebinding guard). Default:
    /// the public URL's host, localhost, 127.0.0.1 and ::1. Empty: any host.
    #[arg(long, env = "KAICALLS_MCP_ALLOWED_HOSTS")]
    pub mcp_allowed_hosts: Option<String>,

    /// Browser origins `/api/mcp` serves, comma separated (requests without `Origin`
    /// always are). Default: the public URL's origin.
    #[arg(long, env = "KAICALLS_MCP_ALLOWED_ORIGINS")]
    pub mcp_allowed_origins: Option<String>,

    /// Seconds an OAuth access token (MCP clients) lives; refresh tokens rotate.
    #[arg(long, env = "KAICALLS_OAUTH_ACCESS_TOKEN_SECS", default_value_t = 3600)]
    pub oauth_access_token_secs: i64,

    /// Simulated seconds per wall-clock second for the built-in call simulator.
    #[arg(long, env = "KAICALLS_SIM_SPEED", default_value_t = 10.0)]
    pub sim_speed: f64,

    /// Webhook retry delays in seconds, comma separated.
    #[arg(
        long,
        env = "KAICALLS_WEBHOOK_RETRY_SCHEDULE",
        default_value = "5,300,1800,7200,18000,36000,36000",
        hide = true
    )]
    pub webhook_retry_schedule: String,

    /// Allow live-mode webhooks to private addresses (test-mode calls always may).
    #[arg(
        long,
        env = "KAICALLS_ALLOW_PRIVATE_WEBHOOKS",
        default_value_t = false,
        value_parser = clap::builder::BoolishValueParser::new(),
        hide = true
    )]
    pub allow_private_webhooks: bool,

    /// The SMTP server staff alert emails leave through (none: email alerts fail,
    /// recorded as such; webhook alerts still go).
    #[arg(long, env = "KAICALLS_SMTP_HOST")]
    pub smtp_host: Option<String>,

    #[arg(long, env = "KAICALLS_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,

    #[arg(long, env = "KAICALLS_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    #[arg(long, env = "KAICALLS_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// `starttls` (required before credentials), `tls` (implicit, port 465) or `none`
    /// (a local relay).
    #[arg(long, env = "KAICALLS_SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: String,

    /// The sender of staff alert emails.
    #[arg(
        long,
        env = "KAICALLS_SMTP_FROM",
        default_value = "KaiCalls <alerts@kaicalls.localhost>"
    )]
    pub smtp_from: String,

    /// Seconds a client has to send a request's headers (then the connection closes).
    #[arg(long, env = "KAICALLS_HEADER_TIMEOUT_SECS", default_value_t = 10.0)]
    pub header_timeout_secs: f64,

    /// Seconds a client has to send a request's body (then 408 request_timeout).
    #[arg(long, env = "KAICALLS_BODY_TIMEOUT_SECS", default_value_t = 30.0)]
    pub body_timeout_secs: f64,

    /// Seconds between heartbeats (an SSE comment) on an idle event stream.
    #[arg(
        long,
        env = "KAICALLS_EVENTS_HEARTBEAT_SECS",
        default_value_t = 15.0,
        hide = true
    )]
    pub events_heartbeat_secs: f64,

    /// Connections open at once; beyond it new connections wait in the backlog.
    #[arg(long, env = "KAICALLS_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Seconds an Idempotency-Key's request holds it; after a crash, a retry takes
    /// the key over once this has passed.
    #[arg(
        long,
        env = "KAICALLS_IDEMPOTENCY_LEASE_SECS",
        default_value_t = crate::calls::idempotency::DEFAULT_LEASE_SECS,
        hide = true
    )]
    pub idempotency_lease_secs: f64,

    /// POST /api/v1/calls requests per key per minute.
    #[arg(
        long,
        env = "KAICALLS_RATE_LIMIT_CALLS_PER_MIN",
        default_value_t = 60,
        hide = true
    )]
    pub rate_limit_calls_per_min: u32,

    /// Other requests per key per minute.
    #[arg(
        long,
        env = "KAICALLS_RATE_LIMIT_READS_PER_MIN",
        default_value_t = 300,
        hide = true
    )]
    pub rate_limit_reads_per_min: u32,

    /// Call-lane jobs (provider events, timers) running at once.
    #[arg(long, env = "KAICALLS_CALL_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub call_concurrency: u32,

    /// Webhook deliveries in flight at once.
    #[arg(long, env = "KAICALLS_WEBHOOK_CONCURRENCY", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub webhook_concurrency: u32,

    /// Live calls one business may have at once, single and campaign calls together
    /// (campaigns stop short of it by KAICALLS_CAMPAIGN_RESERVED_SLOTS).
    #[arg(long, env = "KAICALLS_CAMPAIGN_BUSINESS_CONCURRENCY", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub campaign_business_concurrency: i64,
    /// Slots of a business's live calls campaigns leave free for single calls.
    #[arg(long, env = "KAICALLS_CAMPAIGN_RESERVED_SLOTS", default_value_t = 50, value_parser = clap::value_parser!(i64).range(0..=100_000))]
    pub campaign_reserved_slots: i64,
    /// Live campaign calls the campaigns of one API key may have at once.
    #[arg(long, env = "KAICALLS_CAMPAIGN_KEY_CONCURRENCY", default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub campaign_key_concurrency: i64,
    /// Webhook deliveries in flight at once to one receiver (a URL's scheme, host and
    /// port): a slow or dead receiver holds at most this many.
    #[arg(long, env = "KAICALLS_WEBHOOK_TARGET_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub webhook_target_concurrency: u32,

    /// Webhook deliveries in flight at once for one business.
    #[arg(long, env = "KAICALLS_WEBHOOK_TENANT_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub webhook_tenant_concurrency: u32,

    /// Vapi API key; unset means live calls use the simulator.
    #[arg(long, env = "KAICALLS_VAPI_API_KEY", hide_env_values = true)]
    pub vapi_api_key: Option<String>,

    /// Vapi's API base URL.
    #[arg(long, env = "KAICALLS_VAPI_BASE_URL", default_value = crate::voice::vapi::DEFAULT_BASE_URL)]
    pub vapi_base_url: String,

    /// The shared secret Vapi sends back with its server messages (required with
    /// KAICALLS_VAPI_API_KEY).
    #[arg(long, env = "KAICALLS_VAPI_WEBHOOK_SECRET", hide_env_values = true)]
    pub vapi_webhook_secret: Option<String>,

    /// Seconds after a Vapi call should have ended (or Vapi said it ended) before
    /// asking Vapi for it, in case its messages were lost.
    #[arg(
        long,
        env = "KAICALLS_VAPI_RECONCILE_GRACE_SECS",
        default_value_t = 60.0,
        hide = true
    )]
    pub vapi_reconcile_grace_secs: f64,

    /// Base URL of an OpenAI-compatible API (…/v1) to analyze calls with; unset means
    /// the built-in analyzer.
    #[arg(long, env = "KAICALLS_ANALYZER_URL")]
    pub analyzer_url: Option<String>,

    /// API key for KAICALLS_ANALYZER_URL.
    #[arg(long, env = "KAICALLS_ANALYZER_API_KEY", hide_env_values = true)]
    pub analyzer_api_key: Option<String>,

    /// The model KAICALLS_ANALYZER_URL is asked to use.
    #[arg(long, env = "KAICALLS_ANALYZER_MODEL", default_value = "gpt-4o-mini")]
    pub analyzer_model: String,

    /// Directory where call recordings are stored.
    #[arg(
        long,
        env = "KAICALLS_RECORDINGS_DIR",
        default_value = "kaicalls-recordings"
    )]
    pub recordings_dir: String,

    /// Store recordings in this S3 (or S3-compatible) bucket instead of the directory.
    /// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "KAICALLS_RECORDINGS_S3_BUCKET")]
    pub recordings_s3_bucket: Option<String>,

    /// Endpoint of an S3-compatible service (e.g. http://127.0.0.1:9000).
    #[arg(long, env = "KAICALLS_RECORDINGS_S3_ENDPOINT")]
    pub recordings_s3_endpoint: Option<String>,

    /// The bucket's region.
    #[arg(
        long,
        env = "KAICALLS_RECORDINGS_S3_REGION",
        default_value = "us-east-1"
    )]
    pub recordings_s3_region: String,

    /// How long a recording link stays valid, in seconds.
    #[arg(long, env = "KAICALLS_RECORDING_LINK_TTL_SECS", default_value_t = 7 * 24 * 3600)]
    pub recording_link_ttl_secs: i64,

    /// On an empty database, create a demo owner, business, agent and keys, and print
    /// them with a ready-to-paste curl.
    #[arg(long, env = "KAICALLS_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,
}

impl ServeArgs {
    /// How staff alert emails leave, when configured.
    pub fn smtp(&self) -> Option<crate::alerts::SmtpConfig> {
        self.smtp_host
            .as_ref()
            .map(|host| crate::alerts::SmtpConfig {
                host: host.clone(),
                port: self.smtp_port,
                username: self.smtp_username.clone(),
                password: self.smtp_password.clone(),
                tls: self.smtp_tls.trim().to_ascii_lowercase(),
                from: self.smtp_from.clone(),
            })
    }

    pub fn connection_limits(&self) -> anyhow::Result<crate::http::serve::ConnectionLimits> {
        let secs = |name: &str, v: f64| {
            anyhow::ensure!(
                v.is_finite() && v > 0.0,
                "{name} must be a positive number of seconds"
            );
            Ok(std::time::Duration::from_secs_f64(v))
        };
        Ok(crate::http::serve::ConnectionLimits {
            header_timeout: secs("KAICALLS_HEADER_TIMEOUT_SECS", self.header_timeout_secs)?,
            body_timeout: secs("KAICALLS_BODY_TIMEOUT_SECS", self.body_timeout_secs)?,
            max_connections: self.max_connections,
        })
    }

    pub fn call_limits(&self) -> crate::jobs::worker::Limits {
        let jobs = self.call_concurrency as usize;
        crate::jobs::worker::Limits {
            jobs,
            per_target: jobs,
            per_tenant: jobs,
        }
    }

    pub fn webhook_limits(&self) -> crate::jobs::worker::Limits {
        crate::jobs::worker::Limits {
            jobs: self.webhook_concurrency as usize,
            per_target: self.webhook_target_concurrency as usize,
            per_tenant: self.webhook_tenant_concurrency as usize,
        }
    }

    pub fn rate_limits(&self) -> crate::http::rate_limit::Limits {
        crate::http::rate_limit::Limits {
            calls_per_min: self.rate_limit_calls_per_min,
            reads_per_min: self.rate_limit_reads_per_min,
        }
    }
}

//! `kaicalls serve`: wires the store, the engine, the worker and the HTTP router, and
//! runs them until SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::admin::{self, BootstrapInput};
use crate::app::AppState;
use crate::auth::sessions::LoginThrottle;
use crate::calls::engine::Engine;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Role, ServeArgs};
use crate::http::rate_limit::RateLimiter;
use crate::jobs::worker::Worker;
use crate::recordings::links::RecordingLinks;
use crate::recordings::{Copier, RecordingStore, S3Config};
use crate::store::settings;
use crate::store::{redact_url, Dialect, Store};
use crate::voice::chat_analyzer::ChatAnalyzer;
use crate::voice::simulator::Simulator;
use crate::voice::vapi::Vapi;
use crate::webhooks::delivery::{parse_schedule, Deliverer};
use crate::{http, ids, tenancy};

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    crate::telemetry::spawn_upkeep();
    let store = Store::connect_sized(
        &args.db.database_url,
        crate::store::PoolSize(args.db.database_pool_size),
    )
    .await?;
    if store.dialect == Dialect::Postgres {
        // Jobs enqueued and calls changed by any instance wake this one.
        crate::wake::listen(args.db.database_url.clone());
    }
    let clock: SharedClock = Arc::new(SystemClock::default());
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();

    let mut limiter = RateLimiter::new(args.rate_limits());
    if let Some(url) = &args.redis_url {
        limiter = limiter.with_redis(url).await?;
        tracing::info!("rate limits are shared through Redis");
    }
    let signing_key =
        settings::get_or_create(&store, "recording_link_key", || ids::random_base62(48)).await?;
    let links = RecordingLinks::new(&signing_key, &public_url, args.recording_link_ttl_secs);
    let recordings = match &args.recordings_s3_bucket {
        Some(bucket) => RecordingStore::s3(&S3Config {
            bucket,
            endpoint: args.recordings_s3_endpoint.as_deref(),
            region: &args.recordings_s3_region,
        })?,
        None => RecordingStore::local(&args.recordings_dir)?,
    };
    tracing::info!(location = %recordings.location, "recordings storage");
    let simulator = Arc::new(Simulator::new(args.sim_speed));
    let mut engine = Engine::new(store.clone(), clock.clone(), simulator, links.clone())
        .with_campaign_limits(crate::campaigns::runner::Limits {
            business: args.campaign_business_concurrency,
            reserved_for_single_calls: args.campaign_reserved_slots,
            key: args.campaign_key_concurrency,
        });
    match (&args.vapi_api_key, &args.vapi_webhook_secret) {
        (None, _) => {
            tracing::info!("KAICALLS_VAPI_API_KEY is not set: live calls use the built-in simulator")
        }
        (Some(_), None) => anyhow::bail!(
            "KAICALLS_VAPI_API_KEY is set but KAICALLS_VAPI_WEBHOOK_SECRET is not: Vapi's server messages could not be authenticated"
        ),
        (Some(key), Some(secret)) => {
            let vapi = Vapi::new(&args.vapi_base_url, key, &public_url, secret)?;
            let events_url = format!("{public_url}{}", crate::voice::vapi::EVENTS_PATH);
            tracing::info!(base_url = %args.vapi_base_url, %events_url, "live calls go through Vapi");
            engine = engine.with_vapi(Arc::new(vapi), args.vapi_reconcile_grace_secs);
        }
    }
    if let Some(url) = &args.analyzer_url {
        let chat = ChatAnalyzer::new(url, args.analyzer_api_key.as_deref(), &args.analyzer_model)?;
        tracing::info!(analyzer_url = %url, model = %args.analyzer_model, "calls are analyzed by a chat-completions model");
        engine = engine.with_chat_analyzer(Arc::new(chat));
    }
    if let Some(smtp) = &args.smtp_host {
        tracing::info!(host = %smtp, port = args.smtp_port, tls = %args.smtp_tls, "staff alert emails go through SMTP");
    }
    let notifier = crate::alerts::Notifier::new(args.smtp(), args.allow_private_webhooks)?;
    let engine = Arc::new(engine.with_alerts(Arc::new(notifier)));
    let state = AppState {
        store: store.clone(),
        clock: clock.clone(),
        engine: engine.clone(),
        limiter: Arc::new(limiter),
        key_cache: Arc::default(),
        login_throttle: Arc::new(LoginThrottle::default()),
        links,
        recordings: recordings.clone(),
        public_url: public_url.clone().into(),
        allow_private_webhooks: args.allow_private_webhooks,
        idempotency_lease_secs: args.idempotency_lease_secs,
        mcp: Arc::new(crate::mcp::http::Settings::new(
            &public_url,
            args.mcp_allowed_hosts.as_deref(),
            args.mcp_allowed_origins.as_deref(),
            args.oauth_access_token_secs,
        )),
        events: crate::events::stream::Hub::new(
            store.clone(),
            Duration::from_secs_f64(args.events_heartbeat_secs),
        ),
    };

    if args.demo && tenancy::count_users(&store).await? == 0 {
        print_demo(&store, &state, &public_url).await?;
    }

    let deliverer = Deliverer::new(
        store.clone(),
        clock.clone(),
        parse_schedule(&args.webhook_retry_schedule)?,
        args.allow_private_webhooks,
    )?;
    let mut worker = Worker::new(
        engine,
        Arc::new(deliverer),
        Arc::new(Copier::new(store.clone(), recordings)?),
    );
    worker.call_limits = args.call_limits();
    worker.webhook_limits = args.webhook_limits();
    let worker = Arc::new(worker);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let worker = (args.role != Role::Api).then(|| tokio::spawn(worker.run(stopping)));
    let limits = args.connection_limits()?;
    let events = state.events.clone();
    let app = match args.role {
        Role::Worker => http::ops_router(state),
        Role::Api | Role::All => http::router(state),
    };
    // The line scripts and tests wait for; it carries the real port when bind used 0.
    println!("KaiCalls listening on http://{addr}");
    tracing::info!(role = ?args.role, database = %redact_url(&args.db.database_url), %public_url, sim_speed = args.sim_speed, "serving");
    // On SIGTERM or Ctrl-C: stop accepting, let requests in flight finish, then
    // stop the worker, which lets its running jobs finish and gives back the rest.
    let shutdown = async move {
        shutdown_signal().await;
        // Open event streams end at once instead of holding the drain.
        events.close();
    };
    http::serve::serve(listener, app, limits, shutdown).await?;
    let _ = stop.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn print_demo(store: &Store, state: &AppState, public_url: &str) -> anyhow::Result<()> {
    let password = crate::ids::random_base62(16);
    let out = admin::bootstrap(
        store,
        state.clock.now(),
        &BootstrapInput {
            email: "demo@kaicalls.local",
            password: &password,
            business: "Demo Business",
            business_phone: Some("+15125550100"),
            timezone: "America/Chicago",
        },
    )
    .await?;
    println!(
        r#"
KaiCalls demo tenant created.

  Dashboard login   demo@kaicalls.local / {password}
  Live key          {live}
  Test key          {test}
  Agent             {agent} (calls from {number})
  Webhook secret    {secret}

Place your first call (in another terminal):

  curl -X POST {public_url}/api/v1/calls \
    -H "Authorization: Bearer {live}" \
    -H "Content-Type: application/json" \
    -d '{{"agent_id": "{agent}", "to": "+15125551234", "name": "John Smith", "context": "Confirm appointment for tomorrow at 2pm"}}'

Then check the result:

  curl "{public_url}/api/v1/calls?id=CALL_ID" -H "Authorization: Bearer {live}"
"#,
        live = out.live_key,
        test = out.test_key,
        agent = out.agent_id,
        number = out.phone_number,
        secret = out.webhook_secret,
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

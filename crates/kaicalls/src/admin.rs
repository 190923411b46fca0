//! Admin commands: `admin bootstrap` (a ready-to-call tenant in one step) and
//! `admin create-user`. They work on the same database `serve` uses, also while it
//! runs.

use anyhow::Context;
use serde::Serialize;

use crate::agents::{self, Agent};
use crate::auth::api_key::Mode;
use crate::auth::password;
use crate::auth::scope::{Scope, Scopes};
use crate::clock::Timestamp;
use crate::keys::{self, NewKeySpec};
use crate::numbers::{self, PhoneNumber};
use crate::phone::E164;
use crate::store::{is_unique_violation, Store, Tx};
use crate::{ids, tenancy};

pub struct BootstrapInput<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub business: &'a str,
    pub business_phone: Option<&'a str>,
    pub timezone: &'a str,
}

/// The JSON `admin bootstrap --json` prints (SPEC §3).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct BootstrapOutput {
    pub user_id: String,
    pub business_id: String,
    pub agent_id: String,
    pub phone_number_id: String,
    pub phone_number: String,
    pub live_key: String,
    pub test_key: String,
    pub webhook_secret: String,
}

fn validate(input: &BootstrapInput) -> anyhow::Result<()> {
    anyhow::ensure!(
        input.email.contains('@'),
        "--email must be an email address"
    );
    anyhow::ensure!(
        input.password.chars().count() >= password::MIN_LEN,
        "--password must be at least {} characters",
        password::MIN_LEN
    );
    anyhow::ensure!(
        !input.business.trim().is_empty(),
        "--business must not be empty"
    );
    if let Some(phone) = input.business_phone {
        E164::parse(phone).map_err(|m| anyhow::anyhow!("--business-phone: {m}"))?;
    }
    input
        .timezone
        .parse::<chrono_tz::Tz>()
        .map_err(|_| anyhow::anyhow!("--timezone: unknown IANA time zone '{}'", input.timezone))?;
    Ok(())
}

/// Creates (or reuses, by email) a user, then a business with an agent "Kai", a phone
/// number for it, a live and a test key with scope `*`.
pub async fn bootstrap(
    store: &Store,
    now: Timestamp,
    input: &BootstrapInput<'_>,
) -> anyhow::Result<BootstrapOutput> {
    validate(input)?;
    let (out, mut keys) = set_up(store, now, input, &[Mode::Live, Mode::Test]).await?;
    let test_key = keys.pop().expect("a test key");
    let live_key = keys.pop().expect("a live key");
    Ok(BootstrapOutput {
        live_key,
        test_key,
        ..out
    })
}

/// A new user's business, agent "Kai", its number and a key of each of `modes`
/// (`/signup`, and `bootstrap` for an existing user or a new one). The keys are
/// answered in the order asked, and not in the output.
pub async fn set_up(
    store: &Store,
    now: Timestamp,
    input: &BootstrapInput<'_>,
    modes: &[Mode],
) -> anyhow::Result<(BootstrapOutput, Vec<String>)> {
    let existing = tenancy::find_user_by_email(store, input.email).await?;
    let password_hash = match existing {
        Some(_) => None,
        None => Some(password::hash(input.password)?),
    };
    // A random demo number can collide with one already registered: try again.
    for _ in 0..20 {
        let mut tx = store.begin().await?;
        let user_id = match (&existing, &password_hash) {
            (Some(user), _) => user.id.clone(),
            (None, Some(hash)) => tenancy::insert_user(&mut tx, input.email, hash, now).await?,
            (None, None) => unreachable!("a new user always has a password hash"),
        };
        match bootstrap_business(&mut tx, &user_id, input, now, modes).await {
            Ok(out) => {
                tx.commit().await?;
                return Ok(out);
            }
            Err(err)
                if err
                    .downcast_ref::<sqlx::Error>()
                    .is_some_and(is_unique_violation) =>
            {
                continue
            }
            Err(err) => return Err(err),
        }
    }
    anyhow::bail!("could not allocate a unique phone number for the agent")
}

async fn bootstrap_business(
    tx: &mut Tx,
    user_id: &str,
    input: &BootstrapInput<'_>,
    now: Timestamp,
    modes: &[Mode],
) -> anyhow::Result<(BootstrapOutput, Vec<String>)> {
    let business = tenancy::insert_business(
        tx,
        user_id,
        &tenancy::NewBusiness {
            name: input.business.trim(),
            phone: input.business_phone,
            timezone: input.timezone,
        },
        now,
    )
    .await?;
    let agent = Agent {
        system_prompt: Some(format!(
            "You are Kai, a friendly and professional phone assistant for {}. Be concise, confirm details, and be kind.",
            business.name
        )),
        first_message: Some(format!(
            "Hi, this is Kai from {}. Do you have a minute?",
            business.name
        )),
        ..Agent::new(&business.id, "Kai", now)
    };
    agents::save(tx, &agent, true).await?;
    let number = PhoneNumber {
        id: ids::new_id(),
        business_id: business.id.clone(),
        agent_id: Some(agent.id.clone()),
        phone_number: demo_number(),
        vapi_phone_number_id: None,
        created_at: now,
    };
    numbers::insert(tx, &number).await?;
    let new_key = |mode: Mode| NewKeySpec {
        user_id,
        business_id: None,
        name: match mode {
            Mode::Live => "Live key",
            Mode::Test => "Test key",
        },
        scopes: Scopes::new(vec![Scope::All]),
        mode,
        expires_at: None,
    };
    let mut made = Vec::with_capacity(modes.len());
    for mode in modes {
        made.push(keys::insert(tx, new_key(*mode), now).await?.1);
    }
    let out = BootstrapOutput {
        user_id: user_id.to_string(),
        business_id: business.id,
        agent_id: agent.id,
        phone_number_id: number.id,
        phone_number: number.phone_number,
        live_key: String::new(),
        test_key: String::new(),
        webhook_secret: business.webhook_secret,
    };
    Ok((out, made))
}

/// A number in Austin's 512 area with a 555 exchange: valid, and not anyone's.
fn demo_number() -> String {
    use rand::Rng;
    format!("+1512555{:04}", rand::thread_rng().gen_range(0..10_000))
}

pub async fn create_user(
    store: &Store,
    now: Timestamp,
    email: &str,
    password_text: &str,
) -> anyhow::Result<String> {
    anyhow::ensure!(email.contains('@'), "--email must be an email address");
    anyhow::ensure!(
        password_text.chars().count() >= password::MIN_LEN,
        "--password must be at least {} characters",
        password::MIN_LEN
    );
    let hash = password::hash(password_text)?;
    let mut tx = store.begin().await?;
    let id = tenancy::insert_user(&mut tx, email, &hash, now)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                anyhow::anyhow!("a user with email {email} already exists")
            } else {
                anyhow::Error::from(e)
            }
        })
        .context("creating user")?;
    tx.commit().await?;
    Ok(id)
}

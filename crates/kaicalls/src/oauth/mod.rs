//! OAuth 2.1 for MCP clients that sign in instead of pasting a key. KaiCalls is the
//! authorization server and `/api/mcp` the only resource server:
//!
//! - discovery: RFC 8414 metadata and RFC 9728 protected-resource metadata;
//! - dynamic client registration (RFC 7591), public or confidential clients;
//! - authorization code with PKCE S256 only; the consent page
//!   (`dashboard::consent`) is a dashboard page, where the signed-in user picks one
//!   business and a mode and sees the scopes asked for;
//! - short-lived access tokens (`kc_oat_…`) and rotating refresh tokens
//!   (`kc_ort_…`), stored only as SHA-256 hashes; a refresh token used twice, or a
//!   code used twice, revokes its whole grant (a stolen copy was used);
//! - a grant is bound to one user, business, mode, scope set and resource
//!   (`{public_url}/api/mcp`); `auth::middleware` accepts its access tokens on
//!   `/api/mcp` only, re-reading the grant on every request, so a revocation (from
//!   the dashboard or `/oauth/revoke`) holds at the next request.
//!
//! `routes.rs` holds the endpoints; this file the rules and the SQL.

pub mod routes;

use std::sync::Arc;

use base64::Engine as _;
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::auth::api_key::Mode;
use crate::auth::scope::{Scope, Scopes};
use crate::auth::{KeyPrincipal, Tenant};
use crate::clock::Timestamp;
use crate::ids;
use crate::store::row::Columns;
use crate::store::Store;

pub const ACCESS_PREFIX: &str = "kc_oat_";
pub const REFRESH_PREFIX: &str = "kc_ort_";
/// A code is exchanged within seconds of the redirect; five minutes is generous.
const CODE_SECS: i64 = 300;
const REFRESH_SECS: i64 = 30 * 24 * 3600;

/// The scopes an MCP client may ask for (every tool's), and what it gets by default.
pub const GRANTABLE: [Scope; 6] = [
    Scope::AgentsRead,
    Scope::NumbersRead,
    Scope::CallsRead,
    Scope::CallsWrite,
    Scope::LeadsRead,
    Scope::LeadsWrite,
];

/// The one resource tokens are for.
pub fn resource(public_url: &str) -> String {
    format!("{public_url}{}", crate::mcp::http::PATH)
}

/// What a scope lets an MCP client do, for the consent page.
pub fn describe(scope: Scope) -> &'static str {
    match scope {
        Scope::AgentsRead => "See your agents and business details",
        Scope::NumbersRead => "See your phone numbers",
        Scope::CallsRead => "See your calls, transcripts, recordings and analytics",
        Scope::CallsWrite => "Place and end phone calls",
        Scope::LeadsRead => "See your leads",
        Scope::LeadsWrite => "Create and update leads",
        _ => "Other access",
    }
}

/// The `scope` parameter: space-separated grantable scopes; absent or empty: all.
pub fn parse_scopes(raw: Option<&str>) -> Result<Vec<Scope>, String> {
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() {
        return Ok(GRANTABLE.to_vec());
    }
    let mut scopes = Vec::new();
    for name in raw.split_ascii_whitespace() {
        match Scope::parse(name).filter(|s| GRANTABLE.contains(s)) {
            Some(scope) if !scopes.contains(&scope) => scopes.push(scope),
            Some(_) => {}
            None => return Err(format!("Unknown or ungrantable scope: {name}")),
        }
    }
    Ok(scopes)
}

pub fn scope_string(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `BASE64URL(SHA-256(verifier)) == challenge` (RFC 7636 §4.6), in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = sha2::Sha256::digest(verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// A PKCE value (verifier or S256 challenge): 43–128 unreserved characters.
pub fn valid_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

// ------------------------------------------------------------------ clients

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret_hash: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub created_at: Timestamp,
}

impl Client {
    /// The client's secret matches (constant time); a public client has none.
    pub fn secret_matches(&self, presented: Option<&str>) -> bool {
        match (&self.secret_hash, presented) {
            (None, _) => true,
            (Some(hash), Some(secret)) => {
                let presented = ids::sha256_hex(secret);
                presented.as_bytes().ct_eq(hash.as_bytes()).into()
            }
            (Some(_), None) => false,
        }
    }
}

/// Where a code may be sent: https anywhere; http only to this machine (native
/// apps, RFC 8252 §7.3); a private-use scheme of a native app (`cursor://…`).
/// Never a fragment, credentials, or a scheme a browser would run.
pub fn redirect_uri_allowed(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|_| format!("{uri} is not an absolute URL"))?;
    if url.fragment().is_some() {
        return Err("A redirect URI has no fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("A redirect URI carries no credentials".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err("An http redirect URI must be on localhost; use https".into()),
        },
        "javascript" | "data" | "file" | "about" | "blob" | "vbscript" | "ftp" | "ws" | "wss" => {
            Err(format!(
                "The scheme {}: cannot receive a code",
                url.scheme()
            ))
        }
        _ => Ok(()),
    }
}

pub struct NewClient<'a> {
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub auth_method: &'a str,
}

/// Registers a client: its id, and its secret (shown once) unless it is public.
pub async fn register(
    store: &Store,
    now: Timestamp,
    new: &NewClient<'_>,
) -> sqlx::Result<(Client, Option<String>)> {
    let id = format!("kc_client_{}", ids::random_base62(24));
    let secret = (new.auth_method != "none").then(|| format!("kc_cs_{}", ids::random_base62(43)));
    let client = Client {
        id,
        secret_hash: secret.as_deref().map(ids::sha256_hex),
        name: new.name.to_string(),
        redirect_uris: new.redirect_uris.to_vec(),
        auth_method: new.auth_method.to_string(),
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO oauth_clients (id, secret_hash, name, redirect_uris, auth_method, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&client.id)
    .bind(&client.secret_hash)
    .bind(&client.name)
    .bind(serde_json::to_string(&client.redirect_uris).unwrap_or_default())
    .bind(&client.auth_method)
    .bind(now.micros())
    .execute(&store.pool)
    .await?;
    Ok((client, secret))
}

pub async fn client(store: &Store, id: &str) -> anyhow::Result<Option<Client>> {
    let row = sqlx::query(
        "SELECT id, secret_hash, name, redirect_uris, auth_method, created_at FROM oauth_clients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(store.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let r = Columns(&row);
    let uris: String = r.get("redirect_uris")?;
    Ok(Some(Client {
        id: r.get("id")?,
        secret_hash: r.get("secret_hash")?,
        name: r.get("name")?,
        redirect_uris: serde_json::from_str(&uris)?,
        auth_method: r.get("auth_method")?,
        created_at: r.time("created_at")?,
    }))
}

// ------------------------------------------------------------------- grants

/// What the user consented to.
pub struct Consent<'a> {
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub business_id: &'a str,
    pub mode: Mode,
    pub scopes: &'a [Scope],
    pub resource: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
}

/// Records the grant and its one-time code; returns the code.
pub async fn issue_code(
    store: &Store,
    now: Timestamp,
    consent: &Consent<'_>,
) -> sqlx::Result<String> {
    let grant_id = ids::new_id();
    let code = ids::random_base62(43);
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "INSERT INTO oauth_grants (id, client_id, user_id, business_id, mode, scopes, resource, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&grant_id)
    .bind(consent.client_id)
    .bind(consent.user_id)
    .bind(consent.business_id)
    .bind(consent.mode.as_str())
    .bind(Scopes::new(consent.scopes.to_vec()).to_json())
    .bind(consent.resource)
    .bind(now.micros())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO oauth_codes (code_hash, grant_id, redirect_uri, code_challenge, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ids::sha256_hex(&code))
    .bind(&grant_id)
    .bind(consent.redirect_uri)
    .bind(consent.code_challenge)
    .bind(now.micros() + CODE_SECS * 1_000_000)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(code)
}

/// A token request's failure (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
#[error("{error}: {description}")]
pub struct TokenError {
    pub error: &'static str,
    pub description: String,
}

impl TokenError {
    fn grant(description: impl Into<String>) -> TokenError {
        TokenError {
            error: "invalid_grant",
            description: description.into(),
        }
    }
}

pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub scope: String,
}

pub struct CodeExchange<'a> {
    pub client: &'a Client,
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
}

/// The authorization code grant: the code once, with its PKCE verifier, by the
/// client it was issued to, for the redirect URI it was sent to.
pub async fn exchange_code(
    store: &Store,
    now: Timestamp,
    access_secs: i64,
    exchange: &CodeExchange<'_>,
) -> Result<Tokens, anyhow::Error> {
    let row = sqlx::query(
        "SELECT c.grant_id, c.redirect_uri, c.code_challenge, c.expires_at, c.used_at, g.client_id, g.resource, g.scopes, g.revoked_at
         FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id WHERE c.code_hash = $1",
    )
    .bind(ids::sha256_hex(exchange.code))
    .fetch_optional(&store.pool)
    .await?;
    let Some(row) = row else {
        return Err(TokenError::grant("Unknown authorization code").into());
    };
    let r = Columns(&row);
    let grant_id: String = r.get("grant_id")?;
    if r.get::<String>("client_id")? != exchange.client.id {
        return Err(TokenError::grant("The code was issued to another client").into());
    }
    if r.get::<Option<i64>>("used_at")?.is_some() {
        // A second use means the code leaked: nothing issued from it stays valid.
        revoke_grant_by_id(store, &grant_id, now).await?;
        return Err(TokenError::grant("The code was already used; its tokens are revoked").into());
    }
    if r.get::<Option<i64>>("revoked_at")?.is_some() {
        return Err(TokenError::grant("The grant is revoked").into());
    }
    if r.get::<i64>("expires_at")? <= now.micros() {
        return Err(TokenError::grant("The code has expired").into());
    }
    let redirect_uri: String = r.get("redirect_uri")?;
    if exchange.redirect_uri != Some(redirect_uri.as_str()) {
        return Err(
            TokenError::grant("redirect_uri differs from the authorization request's").into(),
        );
    }
    let challenge: String = r.get("code_challenge")?;
    match exchange.code_verifier {
        Some(v) if valid_pkce_value(v) && pkce_matches(v, &challenge) => {}
        _ => {
            return Err(TokenError::grant("code_verifier does not match the code_challenge").into())
        }
    }
    let resource: String = r.get("resource")?;
    if let Some(asked) = exchange.resource {
        if asked.trim_end_matches('/') != resource {
            return Err(TokenError {
                error: "invalid_target",
                description: format!("Tokens of this grant are for {resource}"),
            }
            .into());
        }
    }
    let scopes: String = r.get("scopes")?;
    let used =
        sqlx::query("UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now.micros())
            .bind(ids::sha256_hex(exchange.code))
            .execute(&store.pool)
            .await?;
    if used.rows_affected() != 1 {
        revoke_grant_by_id(store, &grant_id, now).await?;
        return Err(TokenError::grant("The code was already used; its tokens are revoked").into());
    }
    issue_tokens(store, now, access_secs, &grant_id, &scopes).await
}

async fn issue_tokens(
    store: &Store,
    now: Timestamp,
    access_secs: i64,
    grant_id: &str,
    scopes_json: &str,
) -> anyhow::Result<Tokens> {
    let access = format!("{ACCESS_PREFIX}{}", ids::random_base62(43));
    let refresh = format!("{REFRESH_PREFIX}{}", ids::random_base62(43));
    let mut tx = store.pool.begin().await?;
    for (token, kind, secs) in [
        (&access, "access", access_secs),
        (&refresh, "refresh", REFRESH_SECS),
    ] {
        sqlx::query(
            "INSERT INTO oauth_tokens (token_hash, grant_id, kind, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(ids::sha256_hex(token))
        .bind(grant_id)
        .bind(kind)
        .bind(now.micros() + secs * 1_000_000)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let scopes = Scopes::from_json(scopes_json)
        .ok_or_else(|| anyhow::anyhow!("grant {grant_id} has unreadable scopes"))?;
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: access_secs,
        scope: scopes.to_strings().join(" "),
    })
}

/// The refresh grant: a refresh token once; it is replaced by a new pair. A
/// replaced one presented again revokes the grant.
pub async fn refresh(
    store: &Store,
    now: Timestamp,
    access_secs: i64,
    client: &Client,
    token: &str,
) -> Result<Tokens, anyhow::Error> {
    let hash = ids::sha256_hex(token);
    let row = sqlx::query(
        "SELECT t.grant_id, t.expires_at, t.rotated_at, g.client_id, g.scopes, g.revoked_at
         FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
         WHERE t.token_hash = $1 AND t.kind = 'refresh'",
    )
    .bind(&hash)
    .fetch_optional(&store.pool)
    .await?;
    let Some(row) = row else {
        return Err(TokenError::grant("Unknown refresh token").into());
    };
    let r = Columns(&row);
    let grant_id: String = r.get("grant_id")?;
    if r.get::<String>("client_id")? != client.id {
        return Err(TokenError::grant("The refresh token was issued to another client").into());
    }
    if r.get::<Option<i64>>("revoked_at")?.is_some() {
        return Err(TokenError::grant("The grant is revoked").into());
    }
    if r.get::<Option<i64>>("rotated_at")?.is_some() {
        revoke_grant_by_id(store, &grant_id, now).await?;
        return Err(
            TokenError::grant("The refresh token was already used; the grant is revoked").into(),
        );
    }
    if r.get::<i64>("expires_at")? <= now.micros() {
        return Err(TokenError::grant("The refresh token has expired").into());
    }
    let rotated = sqlx::query(
        "UPDATE oauth_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL",
    )
    .bind(now.micros())
    .bind(&hash)
    .execute(&store.pool)
    .await?;
    if rotated.rows_affected() != 1 {
        revoke_grant_by_id(store, &grant_id, now).await?;
        return Err(
            TokenError::grant("The refresh token was already used; the grant is revoked").into(),
        );
    }
    let scopes: String = r.get("scopes")?;
    issue_tokens(store, now, access_secs, &grant_id, &scopes).await
}

async fn revoke_grant_by_id(store: &Store, grant_id: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE oauth_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now.micros())
        .bind(grant_id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// RFC 7009: revokes the grant a token (access or refresh) belongs to. Unknown
/// tokens are not an error.
pub async fn revoke_token(store: &Store, token: &str, now: Timestamp) -> sqlx::Result<()> {
    let grant: Option<String> =
        sqlx::query_scalar("SELECT grant_id FROM oauth_tokens WHERE token_hash = $1")
            .bind(ids::sha256_hex(token))
            .fetch_optional(&store.pool)
            .await?;
    if let Some(grant) = grant {
        revoke_grant_by_id(store, &grant, now).await?;
    }
    Ok(())
}

/// Revokes one of `user_id`'s grants (the dashboard); false when it is not theirs.
pub async fn revoke_grant(
    store: &Store,
    user_id: &str,
    grant_id: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE oauth_grants SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now.micros())
    .bind(grant_id)
    .bind(user_id)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A connected app, as the dashboard lists it.
pub struct GrantView {
    pub id: String,
    pub client_name: String,
    pub business_name: String,
    pub mode: String,
    pub scopes: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// The user's grants that are not revoked and were exchanged for tokens.
pub async fn grants_of_user(store: &Store, user_id: &str) -> anyhow::Result<Vec<GrantView>> {
    let rows = sqlx::query(
        "SELECT g.id, c.name AS client_name, b.name AS business_name, g.mode, g.scopes, g.created_at, g.last_used_at
         FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id JOIN businesses b ON b.id = g.business_id
         WHERE g.user_id = $1 AND g.revoked_at IS NULL
           AND EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.grant_id = g.id)
         ORDER BY g.created_at DESC",
    )
    .bind(user_id)
    .fetch_all(store.reader())
    .await?;
    rows.iter()
        .map(|row| {
            let r = Columns(row);
            let scopes: String = r.get("scopes")?;
            Ok(GrantView {
                id: r.get("id")?,
                client_name: r.get("client_name")?,
                business_name: r.get("business_name")?,
                mode: r.get("mode")?,
                scopes: Scopes::from_json(&scopes)
                    .map(|s| s.to_strings().join(" "))
                    .unwrap_or_default(),
                created_at: r.time("created_at")?,
                last_used_at: r.get::<Option<i64>>("last_used_at")?.map(Timestamp),
            })
        })
        .collect()
}

/// How stale a grant's `last_used_at` may get (one write a minute, not per request).
const LAST_USED_GRANULARITY_MICROS: i64 = 60_000_000;

/// The principal of an access token: its grant's user, one business, mode and
/// scopes, when the token is current, the grant not revoked, and the user still a
/// member of the business. `Err` carries why not.
pub async fn resolve_access(
    store: &Store,
    token: &str,
    now: Timestamp,
) -> anyhow::Result<Result<Arc<KeyPrincipal>, &'static str>> {
    let row = sqlx::query(
        "SELECT t.token_hash, t.expires_at, g.id, g.user_id, g.business_id, g.mode, g.scopes, g.revoked_at, g.last_used_at
         FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
         WHERE t.token_hash = $1 AND t.kind = 'access'",
    )
    .bind(ids::sha256_hex(token))
    .fetch_optional(store.reader())
    .await?;
    let Some(row) = row else {
        return Ok(Err("Invalid access token"));
    };
    let r = Columns(&row);
    let stored: String = r.get("token_hash")?;
    if !bool::from(stored.as_bytes().ct_eq(ids::sha256_hex(token).as_bytes())) {
        return Ok(Err("Invalid access token"));
    }
    if r.get::<Option<i64>>("revoked_at")?.is_some() {
        return Ok(Err("This access token has been revoked"));
    }
    if r.get::<i64>("expires_at")? <= now.micros() {
        return Ok(Err("This access token has expired: refresh it"));
    }
    let grant_id: String = r.get("id")?;
    let user_id: String = r.get("user_id")?;
    let business_id: String = r.get("business_id")?;
    let members = crate::tenancy::business_ids_of_user(store, &user_id).await?;
    if !members.contains(&business_id) {
        return Ok(Err("The business of this token is no longer yours"));
    }
    let mode: String = r.get("mode")?;
    let mode =
        Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("grant {grant_id}: mode {mode}"))?;
    let scopes: String = r.get("scopes")?;
    let scopes =
        Scopes::from_json(&scopes).ok_or_else(|| anyhow::anyhow!("grant {grant_id}: scopes"))?;
    if r.get::<Option<i64>>("last_used_at")?
        .is_none_or(|t| now.micros() - t > LAST_USED_GRANULARITY_MICROS)
    {
        sqlx::query("UPDATE oauth_grants SET last_used_at = $1 WHERE id = $2")
            .bind(now.micros())
            .bind(&grant_id)
            .execute(&store.pool)
            .await?;
    }
    Ok(Ok(Arc::new(KeyPrincipal {
        key_id: format!("oauth:{grant_id}"),
        key_business_id: Some(business_id.clone()),
        scopes,
        tenant: Tenant {
            user_id,
            business_ids: vec![business_id],
            mode,
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_of_the_rfc_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(valid_pkce_value(verifier));
        assert!(!valid_pkce_value("short"));
    }

    #[test]
    fn redirect_uris() {
        assert!(redirect_uri_allowed("https://claude.ai/api/mcp/auth_callback").is_ok());
        assert!(redirect_uri_allowed("http://127.0.0.1:33418/callback").is_ok());
        assert!(redirect_uri_allowed("http://localhost:6274/oauth/callback").is_ok());
        assert!(redirect_uri_allowed("cursor://anysphere.cursor-mcp/oauth/callback").is_ok());
        assert!(redirect_uri_allowed("http://evil.example/cb").is_err());
        assert!(redirect_uri_allowed("javascript:alert(1)").is_err());
        assert!(redirect_uri_allowed("https://a.example/cb#frag").is_err());
        assert!(redirect_uri_allowed("/relative").is_err());
    }

    #[test]
    fn scopes_default_to_every_grantable_one_and_refuse_others() {
        assert_eq!(parse_scopes(None).unwrap(), GRANTABLE.to_vec());
        assert_eq!(
            parse_scopes(Some("calls:read calls:read")).unwrap(),
            vec![Scope::CallsRead]
        );
        assert!(parse_scopes(Some("*")).is_err());
        assert!(parse_scopes(Some("webhooks:write")).is_err());
    }
}

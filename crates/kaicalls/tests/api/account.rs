//! The command line: help, migrate, bootstrap while serving, `serve --demo`, and the
//! whole story on PostgreSQL when one is configured.

use std::process::Command;

use serde_json::json;

use crate::harness::{bootstrap_db, Server, BIN};

#[test]
fn every_command_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["admin", "bootstrap", "--help"],
        vec!["admin", "create-user", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
    let out = Command::new(BIN)
        .args(["admin", "bootstrap", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--email",
        "--password",
        "--business",
        "--business-phone",
        "--timezone",
        "--json",
    ] {
        assert!(text.contains(flag), "{flag}");
    }
}

#[test]
fn migrate_and_create_user_work_on_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("new.db").display());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("KAICALLS_DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    assert!(
        run(&["migrate"]).status.success(),
        "migrations are idempotent"
    );
    let out = run(&[
        "admin",
        "create-user",
        "--email",
        "x@y.test",
        "--password",
        "long-enough",
        "--json",
    ]);
    assert!(out.status.success());
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(user["user_id"].is_string());
    let out = run(&[
        "admin",
        "create-user",
        "--email",
        "x@y.test",
        "--password",
        "long-enough",
    ]);
    assert!(!out.status.success(), "duplicate email refused");
    let out = run(&[
        "admin",
        "bootstrap",
        "--email",
        "z@y.test",
        "--password",
        "short",
        "--business",
        "B",
    ]);
    assert!(!out.status.success(), "short password refused");
    let out = run(&[
        "admin",
        "bootstrap",
        "--email",
        "z@y.test",
        "--password",
        "long-enough",
        "--business",
        "B",
        "--timezone",
        "Mars/Olympus",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("time zone"));
}

#[tokio::test]
async fn serve_demo_prints_a_working_quick_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .env("KAICALLS_DATABASE_URL", &url)
        .env("KAICALLS_RECORDINGS_DIR", dir.path().join("recordings"))
        .env("KAICALLS_SIM_SPEED", "1000")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut text = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("KaiCalls listening on ") {
                let _ = tx.send(text.clone());
            }
        }
    });
    let text = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("demo@kaicalls.local"));
    let live = text
        .split_whitespace()
        .find(|w| w.starts_with("kc_live_"))
        .unwrap();
    assert!(text.contains("curl -X POST"));

    // Second start on the same database: it just serves.
    let server = Server::builder().database(&url).start().await;
    let (status, agents) = server.get(live, "/api/v1/agents").await;
    assert_eq!(status, 200);
    let agent = agents["agents"][0]["id"].as_str().unwrap();
    assert!(
        text.contains(agent),
        "the printed curl names the demo agent"
    );
    let (status, _) = server
        .post(
            live,
            "/api/v1/calls",
            json!({"agent_id": agent, "to": "+15125551234", "name": "John Smith"}),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn bootstrap_works_while_the_server_runs() {
    let server = Server::start().await;
    let boot = server.bootstrap("late@tenant.test");
    let (status, agents) = server.get(&boot.live_key, "/api/v1/agents").await;
    assert_eq!(status, 200);
    assert_eq!(agents["agents"][0]["id"], boot.agent_id.as_str());
}

/// The reference story on PostgreSQL, when CI provides one.
#[tokio::test]
async fn the_story_runs_on_postgres() {
    let Some(admin_url) = crate::harness::postgres_url("the PostgreSQL story") else {
        return;
    };
    let url = fresh_postgres_database(&admin_url).await;
    let server = Server::builder().database(&url).start().await;
    let boot = bootstrap_db(&url, "pg@tenant.test", "PG Law");
    let (status, created) = server
        .post(
            &boot.live_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234", "name": "John Smith"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let call = server
        .wait_terminal(&boot.live_key, created["id"].as_str().unwrap())
        .await;
    assert_eq!(call["status"], "completed");
    assert!(call["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let (_, balance) = server.get(&boot.live_key, "/api/v1/balance").await;
    assert_eq!(
        balance["businesses"][0]["minutes_used"].as_i64().unwrap(),
        (call["duration"].as_i64().unwrap() + 59) / 60
    );
    let (_, usage) = server.get(&boot.live_key, "/api/v1/usage").await;
    assert!(usage["usage"].as_array().unwrap().len() >= 3);
}

/// Creates an empty database next to the one in `admin_url` and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::{Connection, Executor};
    let name = format!("kc_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    format!("{base}/{name}")
}

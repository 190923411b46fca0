//! The store: connection pools over SQLite (the embedded default) or PostgreSQL,
//! chosen at startup from the URL scheme. SQLite has one writer connection (`pool`,
//! so writers queue inside the process instead of failing with SQLITE_BUSY) and, on a
//! file, a pool of read-only connections ([`Store::reader`]) that WAL lets read
//! beside it, so reads never wait behind writes. PostgreSQL has one pool of
//! [`PoolSize`] connections for both; sqlx prepares each statement once per
//! connection and reuses it. Rows of hot single-row INSERTs (usage rows) are
//! group-committed ([`group`]); so are the hot paths' whole transactions
//! ([`writer`], [`Store::write`]). Queries are written once in portable SQL
//! (`$n` placeholders, BIGINT microsecond timestamps, TEXT ids and JSON); where the
//! dialects truly differ the two variants sit side by side behind [`Dialect`].
//!
//! Each domain keeps its own queries next to its types (`calls/repo.rs`, …); this
//! module owns connecting, migrating and the few helpers they share.

pub mod group;
mod migrations;
pub mod row;
pub mod settings;
pub mod sql;
pub mod writer;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Connections per pool: PostgreSQL's pool, SQLite's readers (its writer is always
/// one connection). `KAICALLS_DATABASE_POOL_SIZE`.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize(pub u32);

impl PoolSize {
    pub const DEFAULT: PoolSize = PoolSize(16);
}

#[derive(Clone)]
pub struct Store {
    /// Every write goes here (SQLite: the one writer connection).
    pub pool: AnyPool,
    read: AnyPool,
    pub dialect: Dialect,
    groups: Arc<Mutex<HashMap<&'static str, group::GroupInsert>>>,
    writer: writer::Writer,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Store {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`), creating a
    /// missing SQLite file, and applies pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Store::connect_sized(url, PoolSize::DEFAULT).await
    }

    pub async fn connect_sized(url: &str, size: PoolSize) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            anyhow::bail!(
                "unsupported database URL {:?}: use sqlite://FILE or postgres://…",
                redact_url(url)
            );
        };
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("invalid database URL {:?}", redact_url(&url)))?;
        let cannot = || format!("cannot connect to database {:?}", redact_url(&url));
        let pool = match dialect {
            // SQLite has one writer. A single connection serializes writers inside the
            // process instead of failing transactions with SQLITE_BUSY; WAL keeps the
            // file readable by readers beside it and by other processes (`admin
            // bootstrap` while serving).
            Dialect::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options.clone())
                    .await
            }
            Dialect::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(size.0.max(1))
                    .connect_with(options.clone())
                    .await
            }
        }
        .with_context(cannot)?;
        // SQLite has one writer connection, so one writer task; PostgreSQL commits
        // a few batches at once and leaves most of its pool to everything else.
        let writers = match dialect {
            Dialect::Sqlite => 1,
            Dialect::Postgres => (size.0 as usize / 4).clamp(1, 4),
        };
        let mut store = Store {
            read: pool.clone(),
            writer: writer::Writer::start(pool.clone(), writers),
            pool,
            dialect,
            groups: Arc::default(),
        };
        migrations::apply(&store).await?;
        // Readers open once the schema (and the WAL file) exists. An in-memory
        // database is private to its one connection: it reads there too.
        if dialect == Dialect::Sqlite && !url.contains(":memory:") {
            store.read = AnyPoolOptions::new()
                .max_connections(size.0.clamp(1, 8))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA query_only = ON").await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .with_context(cannot)?;
        }
        Ok(store)
    }

    /// The pool for statements that only read (SQLite: the read-only connections).
    /// Every transaction committed before the read began is visible to it.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Inserts one row through the group commit of the statement `head`
    /// (`INSERT INTO table (c1, …, cN)`, `columns` = N): returns once committed.
    pub async fn insert_grouped(
        &self,
        head: &'static str,
        columns: usize,
        row: Vec<sql::Arg>,
    ) -> sqlx::Result<()> {
        let group = {
            let mut groups = self.groups.lock().expect("group registry");
            groups
                .entry(head)
                .or_insert_with(|| group::GroupInsert::start(self.pool.clone(), head, columns))
                .clone()
        };
        group.insert(row).await
    }

    /// Batches written so far by the group commit of `head` (0 before its first row).
    pub fn grouped_batches(&self, head: &str) -> u64 {
        let groups = self.groups.lock().expect("group registry");
        groups.get(head).map_or(0, group::GroupInsert::batches)
    }

    /// Runs `work` in a transaction group-committed with the other writes waiting at
    /// that moment ([`writer`]); returns its result once committed. `work` must use
    /// only the transaction it is given.
    /// A request's transaction: batches take these first.
    pub async fn write<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> writer::BoxFuture<'t, anyhow::Result<T>> + Send + 'static,
    {
        self.writer.write(writer::Priority::Request, work).await
    }

    /// [`Store::write`] for background work (a job): it shares batches with requests
    /// but does not hold them up.
    pub async fn write_background<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> writer::BoxFuture<'t, anyhow::Result<T>> + Send + 'static,
    {
        self.writer.write(writer::Priority::Background, work).await
    }

    /// Group commits of [`Store::write`] so far.
    pub fn write_batches(&self) -> u64 {
        self.writer.commits()
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// True when the error is a unique-constraint violation (both backends).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505") // PostgreSQL
                || db.message().contains("UNIQUE constraint failed") // SQLite
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://kaicalls.db"), "sqlite://kaicalls.db");
    }
}

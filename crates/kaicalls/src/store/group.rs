//! Group commit for rows of one `INSERT`: many concurrent requests hand their row to
//! one writer task, which writes every row waiting at that moment in a single
//! multi-row statement (one transaction) and only then answers each sender. A
//! request that waits for [`GroupInsert::insert`] before answering its client keeps
//! the promise "answered means committed", also across kill -9, at the cost of one
//! statement per batch instead of one per row. Batches form by themselves: while
//! one is being written, the next one gathers.
//!
//! A batch that fails is retried row by row, so one bad row fails only its own
//! sender.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::sql::{Arg, Sql};

/// Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits
/// for any of our tables.
const MAX_ROWS: usize = 256;

struct Pending {
    row: Vec<Arg>,
    done: oneshot::Sender<sqlx::Result<()>>,
}

/// One `INSERT INTO table (columns…)` and the task that writes its rows.
#[derive(Clone)]
pub struct GroupInsert {
    head: &'static str,
    columns: usize,
    rows: mpsc::UnboundedSender<Pending>,
    statements: Arc<AtomicU64>,
}

impl GroupInsert {
    /// `head` is `INSERT INTO table (c1, …, cN)` with `columns` = N. Spawns the writer
    /// (call inside a tokio runtime); it ends when every handle is dropped.
    pub fn start(pool: AnyPool, head: &'static str, columns: usize) -> GroupInsert {
        let (rows, mut queue) = mpsc::unbounded_channel::<Pending>();
        let statements = Arc::new(AtomicU64::new(0));
        let counted = statements.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_ROWS);
            while queue.recv_many(&mut batch, MAX_ROWS).await > 0 {
                counted.fetch_add(1, Ordering::Relaxed);
                write(&pool, head, columns, std::mem::take(&mut batch)).await;
            }
        });
        GroupInsert {
            head,
            columns,
            rows,
            statements,
        }
    }

    /// How many batches the writer has taken so far (each one statement, unless it
    /// failed and was retried row by row).
    pub fn batches(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Inserts `row` (one value per column, in order); returns once it is committed.
    pub async fn insert(&self, row: Vec<Arg>) -> sqlx::Result<()> {
        debug_assert_eq!(row.len(), self.columns, "{}", self.head);
        let (done, committed) = oneshot::channel();
        self.rows
            .send(Pending { row, done })
            .map_err(|_| sqlx::Error::PoolClosed)?;
        committed.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

/// The statement inserting `rows` rows of `columns` values each.
pub fn statement(head: &str, columns: usize, rows: impl IntoIterator<Item = Vec<Arg>>) -> Sql {
    let mut sql = Sql::new(head);
    sql.text(" VALUES ");
    for (i, row) in rows.into_iter().enumerate() {
        debug_assert_eq!(row.len(), columns, "{head}");
        sql.text(if i == 0 { "(" } else { ", (" });
        for (j, value) in row.into_iter().enumerate() {
            sql.push(if j == 0 { "?" } else { ", ?" }, value);
        }
        sql.text(")");
    }
    sql
}

async fn write(pool: &AnyPool, head: &str, columns: usize, batch: Vec<Pending>) {
    let (rows, senders): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.row, p.done)).unzip();
    let single = rows.len() == 1;
    let all = statement(head, columns, rows.iter().cloned());
    match all.query().execute(pool).await {
        Ok(_) => {
            metrics::histogram!("kaicalls_group_commit_rows").record(senders.len() as f64);
            for done in senders {
                let _ = done.send(Ok(()));
            }
        }
        Err(err) if single => {
            let _ = senders.into_iter().next().map(|done| done.send(Err(err)));
        }
        Err(err) => {
            tracing::warn!(error = %err, rows = rows.len(), "group insert failed; writing its rows one by one");
            for (row, done) in rows.into_iter().zip(senders) {
                let result = statement(head, columns, [row]).query().execute(pool).await;
                let _ = done.send(result.map(|_| ()));
            }
        }
    }
}

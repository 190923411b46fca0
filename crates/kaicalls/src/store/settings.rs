//! Server-wide settings kept in the database, shared by every instance.

use sqlx::Row;

use super::Store;

/// The value of `name`, created with `make()` by whichever process asks first.
pub async fn get_or_create(
    store: &Store,
    name: &str,
    make: impl FnOnce() -> String,
) -> sqlx::Result<String> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(make())
        .execute(&store.pool)
        .await?;
    let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_one(&store.pool)
        .await?;
    Ok(row.get(0))
}

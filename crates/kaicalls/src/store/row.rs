//! Rows read by column name into typed values. Every read is checked: a missing
//! column, a wrong type, an unknown stored enum value or a JSON column that does not
//! parse is an error (a 500, logged), never a silent default.

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};

use crate::clock::Timestamp;

/// A row, read by name: `let r = Columns(&row); r.get("id")?`.
#[derive(Clone, Copy)]
pub struct Columns<'r>(pub &'r AnyRow);

fn decode_error(column: &str, message: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: message.into(),
    }
}

impl Columns<'_> {
    pub fn get<'a, T>(&'a self, column: &str) -> sqlx::Result<T>
    where
        T: Decode<'a, Any> + Type<Any>,
    {
        self.0.try_get(column)
    }

    /// A BIGINT of microseconds.
    pub fn time(&self, column: &str) -> sqlx::Result<Timestamp> {
        self.get::<i64>(column).map(Timestamp)
    }

    pub fn time_opt(&self, column: &str) -> sqlx::Result<Option<Timestamp>> {
        Ok(self.get::<Option<i64>>(column)?.map(Timestamp))
    }

    /// A boolean stored as 0/1.
    pub fn flag(&self, column: &str) -> sqlx::Result<bool> {
        match self.get::<i64>(column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(decode_error(column, format!("not a flag: {other}"))),
        }
    }

    /// A stored enum: an unknown value is an error.
    pub fn parsed<T>(&self, column: &str, parse: impl Fn(&str) -> Option<T>) -> sqlx::Result<T> {
        let raw: String = self.get(column)?;
        parse(&raw).ok_or_else(|| decode_error(column, format!("unknown stored value '{raw}'")))
    }

    pub fn parsed_opt<T>(
        &self,
        column: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> sqlx::Result<Option<T>> {
        match self.get::<Option<String>>(column)? {
            None => Ok(None),
            Some(raw) => parse(&raw)
                .map(Some)
                .ok_or_else(|| decode_error(column, format!("unknown stored value '{raw}'"))),
        }
    }

    /// A JSON column.
    pub fn json<T: DeserializeOwned>(&self, column: &str) -> sqlx::Result<T> {
        let text: String = self.get(column)?;
        serde_json::from_str(&text).map_err(|e| decode_error(column, format!("stored JSON: {e}")))
    }

    pub fn json_opt<T: DeserializeOwned>(&self, column: &str) -> sqlx::Result<Option<T>> {
        match self.get::<Option<String>>(column)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| decode_error(column, format!("stored JSON: {e}"))),
        }
    }
}

//! A SQL statement assembled from optional clauses: each clause's `?` becomes the next
//! `$n` placeholder, bound to its value, so filters and tenant scopes are written once
//! instead of counting placeholders by hand.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
    /// SQL NULL (a text column's).
    Null,
    /// SQL NULL of an integer column (PostgreSQL types a bound NULL).
    NullInt,
}

impl<A: Into<Arg>> From<Option<A>> for Arg {
    fn from(v: Option<A>) -> Arg {
        v.map_or(Arg::Null, Into::into)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_string())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

#[derive(Debug, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            args: vec![],
        }
    }

    /// Appends text with no value.
    pub fn text(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends `clause`, its `?` bound to `arg`.
    pub fn push(&mut self, clause: &str, arg: impl Into<Arg>) -> &mut Sql {
        self.args.push(arg.into());
        self.text
            .push_str(&clause.replace('?', &format!("${}", self.args.len())));
        self
    }

    /// Appends `clause` when there is a value for it.
    pub fn push_opt<A: Into<Arg>>(&mut self, clause: &str, arg: Option<A>) -> &mut Sql {
        if let Some(arg) = arg {
            self.push(clause, arg);
        }
        self
    }

    /// Appends `clause` with its `?` replaced by one placeholder per value (an `IN`
    /// list). An empty list matches nothing.
    pub fn push_list<A: Into<Arg> + Clone>(&mut self, clause: &str, values: &[A]) -> &mut Sql {
        if values.is_empty() {
            self.text.push_str(&clause.replace('?', "NULL"));
            return self;
        }
        let start = self.args.len() + 1;
        self.args.extend(values.iter().cloned().map(Into::into));
        let list = (start..start + values.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.text.push_str(&clause.replace('?', &list));
        self
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The statement with its values bound, ready to run.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for arg in &self.args {
            query = match arg {
                Arg::Text(s) => query.bind(s.as_str()),
                Arg::Int(i) => query.bind(*i),
                Arg::Null => query.bind(None::<String>),
                Arg::NullInt => query.bind(None::<i64>),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT * FROM t");
        sql.push_list(" WHERE b IN (?)", &["x", "y"])
            .push_opt(" AND s = ?", Some("new"))
            .push_opt::<i64>(" AND n > ?", None)
            .push(" LIMIT ?", 5);
        assert_eq!(
            sql.as_str(),
            "SELECT * FROM t WHERE b IN ($1, $2) AND s = $3 LIMIT $4"
        );
        let mut empty = Sql::new("SELECT 1");
        empty.push_list::<&str>(" WHERE b IN (?)", &[]);
        assert_eq!(empty.as_str(), "SELECT 1 WHERE b IN (NULL)");
    }
}

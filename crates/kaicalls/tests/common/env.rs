//! The environment a test needs from outside (a PostgreSQL server, an S3 endpoint).
//! Missing, the test says "SKIPPED" — unless `KAICALLS_TEST_REQUIRE_ALL` is set (CI
//! sets it), where a missing environment fails the test instead of passing it.

pub fn required_env(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var_os("KAICALLS_TEST_REQUIRE_ALL").is_some() => {
            panic!("KAICALLS_TEST_REQUIRE_ALL is set but {var} is not: {what} cannot run")
        }
        _ => {
            eprintln!("SKIPPED: {what} ({var} unset)");
            None
        }
    }
}

/// The PostgreSQL server to make test databases on.
#[allow(dead_code)]
pub fn postgres_url(what: &str) -> Option<String> {
    required_env("KAICALLS_TEST_POSTGRES_URL", what)
}

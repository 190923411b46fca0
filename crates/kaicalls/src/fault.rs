//! Fault injection for crash tests: `KAICALLS_FAULT=<point>` makes the process abort
//! (as kill -9 would stop it), or panic, when it reaches that point, so a test can place a crash
//! exactly between two steps that must not be torn apart. Unset — always, outside
//! tests — a point costs one load of a cached value.

use std::sync::OnceLock;

fn armed(name: &str) -> bool {
    static FAULT: OnceLock<Option<String>> = OnceLock::new();
    FAULT
        .get_or_init(|| std::env::var("KAICALLS_FAULT").ok())
        .as_deref()
        == Some(name)
}

/// Aborts the process here if `KAICALLS_FAULT` names this point.
pub fn point(name: &str) {
    if armed(name) {
        eprintln!("KAICALLS_FAULT={name}: aborting");
        std::process::abort();
    }
}

/// Panics here if `KAICALLS_FAULT` names this point (to test that panics are caught).
pub fn panic_point(name: &str) {
    if armed(name) {
        panic!("KAICALLS_FAULT={name}: panicking");
    }
}

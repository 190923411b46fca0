//! Fault injection for crash tests: `KAICALLS_FAULT=<point>` makes the process abort
//! (as kill -9 would stop it) when it reaches that point, so a test can place a crash
//! exactly between two steps that must not be torn apart. Unset — always, outside
//! tests — a point costs one load of a cached value.

use std::sync::OnceLock;

/// Aborts the process here if `KAICALLS_FAULT` names this point.
pub fn point(name: &str) {
    static FAULT: OnceLock<Option<String>> = OnceLock::new();
    let fault = FAULT.get_or_init(|| std::env::var("KAICALLS_FAULT").ok());
    if fault.as_deref() == Some(name) {
        eprintln!("KAICALLS_FAULT={name}: aborting");
        std::process::abort();
    }
}

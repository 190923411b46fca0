//! KaiCalls: give your AI agent a phone. See ARCHITECTURE.md for the map.

pub mod admin;
pub mod agents;
pub mod alerts;
pub mod app;
pub mod auth;
pub mod calls;
pub mod campaigns;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod fault;
/// Fuzz targets for the request parsers (`fuzz/`, `scripts/fuzz`).
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod ids;
pub mod inbound;
pub mod jobs;
pub mod keys;
pub mod leads;
pub mod mcp;
pub mod numbers;
pub mod oauth;
pub mod phone;
pub mod recordings;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod usage;
pub mod voice;
pub mod wake;
pub mod webhooks;

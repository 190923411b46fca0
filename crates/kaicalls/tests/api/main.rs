//! Integration tests: each starts the real `kaicalls` binary on port 0 with its own
//! SQLite file (or PostgreSQL where noted) and drives it over HTTP.

mod contract;
mod fake_vapi;
mod harness;
mod receiver;
mod smtp;

mod account;
mod analyzer;
mod auth;
mod calls;
mod campaigns;
mod client;
mod compliance;
mod crm;
mod dashboard;
mod errors;
mod hardening;
mod inbound;
mod isolation;
mod lifecycle;
mod mcp;
mod recordings;
mod reference;
mod scale;
mod stream;
mod vapi;
mod voicemail;
mod webhooks;

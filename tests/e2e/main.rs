//! End-to-end tests over HTTP against the SQLite quickstart mappings.
//!
//! One test binary (links once); modules are named after what they cover.

mod bad_input;
mod dialects;
mod error_rules;
mod existing_schema;
mod harness;
mod operations;
mod protocol;
mod smoke;

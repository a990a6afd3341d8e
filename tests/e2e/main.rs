//! End-to-end tests over HTTP against the SQLite quickstart mappings.
//!
//! One test binary (links once); modules are named after what they cover.

mod harness;
mod smoke;

//! Mapping files: the connector author's language. Compiles them, and translates SCIM
//! resources, filters and changes into backend records, filter trees and change sets.

pub mod compile;
pub mod convert;
pub mod error_rules;
pub mod file;
pub mod filter;
pub mod model;
pub mod record;
pub mod template_helpers;

pub use model::ResourceType;

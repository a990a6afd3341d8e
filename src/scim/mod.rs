//! The SCIM protocol layer (RFC 7643, RFC 7644): schemas, filters, PATCH, projection and
//! errors. It knows nothing of backends.

pub mod error;
pub mod filter;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};

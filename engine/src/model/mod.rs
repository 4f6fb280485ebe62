//! The vocabulary every layer shares: documents, schemas, options, errors, the WAL's
//! operations and the checks a write must pass. Nothing here imports another folder of
//! the crate, so the layers above can all depend on it.

pub(crate) mod codec;
pub(crate) mod doc;
pub(crate) mod error;
pub(crate) mod field_options;
pub(crate) mod json_path;
pub(crate) mod json_schema;
pub(crate) mod options;
pub(crate) mod reports;
pub(crate) mod schema;
pub(crate) mod stored;
pub(crate) mod validate;

//! Strata: an embedded vector database.

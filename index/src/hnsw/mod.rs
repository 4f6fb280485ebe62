//! HNSW graph index (being built; see the HNSW issue).

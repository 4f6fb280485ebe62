//! Text analysis and indexes (ARCHITECTURE.md, "Text fields"), below `segment`:
//! analysis (`analyzer.rs`), the memtable's postings (`memtable.rs`) and a segment's
//! text index file (`file.rs`). Text predicates and scoring live in `read/text.rs` and
//! `read/text_score.rs`.

mod analyzer;
pub(crate) mod file;
pub(crate) mod memtable;

pub(crate) use analyzer::Analyzer;
pub use analyzer::{tantivy_analyzer, RedisTokenStream, RedisTokenizer};

/// One row holding a term, with the term's positions in the row's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Posting {
    pub row: u32,
    pub positions: Vec<u32>,
}

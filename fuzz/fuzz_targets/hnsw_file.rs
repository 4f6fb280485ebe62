//! Any bytes as an HNSW graph file (the data of a segment's `hnsw-N`), version 1 or
//! version 2 (with 8-bit codes): the O(1) open, the full verify and searches over
//! vectors of the size the header claims, walked over the codes when the file has
//! them and over the FLOAT32 rows, plain, filtered and by range, must never panic or
//! read out of bounds, whatever the bytes.
//!
//! These bytes are what the engine hands the view once every block matched its
//! checksum (damage that checksums catch never reaches it; this target covers what
//! they cannot, a bad writer or a CRC collision).
//!
//! Seed the corpus with real graph bodies: `ann --synthetic 3000:8 --queries 10
//! --metric l2 --index hnsw --db DIR` (and again with `--compression float32` for a
//! version-1 file), then from `DIR/segments/*/hnsw-0` its data: drop the 32-byte
//! sealed footer, then the block table (the 12-byte trailer is `u32 block_size ‖ u32
//! count ‖ u32 crc`, after `count` u32s), into `fuzz/corpus/hnsw_file/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_index::hnsw::{HnswIndex, HnswView};

/// Bytes 0..124 of the header are covered by the CRC at 124; fixing it up lets the
/// fuzzer's mutations reach the checks behind it instead of dying at the first one.
const HEADER_CRC_AT: usize = 124;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= HEADER_CRC_AT + 4 {
        let crc = crc32fast::hash(&bytes[..HEADER_CRC_AT]);
        bytes[HEADER_CRC_AT..HEADER_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    }
    let Ok(view) = HnswView::open(&bytes) else {
        return;
    };
    let _ = view.verify();
    // Searching needs the vectors the header describes; keep the allocation small.
    let floats = view.len().saturating_mul(view.dim());
    if floats > 1 << 20 {
        return;
    }
    let vectors: Vec<f32> = (0..floats).map(|i| (i % 7) as f32 - 3.0).collect();
    let query: Vec<f32> = (0..view.dim()).map(|i| i as f32).collect();
    let odd = |row: u32| row % 2 == 1;
    for graph in [view.graph_ref(), view.graph_ref().without_codes()] {
        let _ = graph.search(&vectors, &query, 5, 16, None);
        let _ = graph.search(&vectors, &query, 5, 16, Some(&odd));
        let _ = graph.range_search(&vectors, &query, 10.0, 0.1, None);
    }
});

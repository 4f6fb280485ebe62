//! Any bytes as an IVF-PQ index file (the body of a segment's `ivfpq-N`): the O(1)
//! open, the full verify and a search over vectors of the size the header claims
//! must never panic or read out of bounds, whatever the bytes.
//!
//! These bytes are the data of the block-checked sealed file: what the engine hands
//! the view once every block matched its checksum (damage that checksums catch never
//! reaches it; this target covers what they cannot, a bad writer or a CRC collision).
//!
//! Random bytes rarely describe a layout, so seed the corpus with a real index body:
//! `ann --synthetic 5000:8 --queries 10 --metric l2 --index ivfpq --nlist 16 --pq-m 2
//! --db DIR`, then from the file `DIR/segments/*/ivfpq-0` its data: drop the 32-byte
//! sealed footer, then the block table (the 12-byte trailer is `u32 block_size ‖ u32
//! count ‖ u32 crc`, after `count` u32s), into `fuzz/corpus/ivfpq_file/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_index::hnsw::RowFilter;
use strata_index::ivfpq::{IvfPqHeader, IvfPqSearch, IvfPqView};

/// Bytes 0..124 of the header are covered by the CRC at 124; fixing it up lets the
/// fuzzer's mutations reach the checks behind it instead of dying at the first one.
const HEADER_CRC_AT: usize = 124;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= HEADER_CRC_AT + 4 {
        let crc = crc32fast::hash(&bytes[..HEADER_CRC_AT]);
        bytes[HEADER_CRC_AT..HEADER_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    }
    // The engine's open reads the header from the first block alone.
    let header = IvfPqHeader::read(&bytes[..bytes.len().min(4096)], bytes.len());
    let Ok(view) = IvfPqView::open(&bytes) else {
        assert!(header.is_err(), "the header passed where the view failed");
        return;
    };
    assert!(header.is_ok(), "the view opened where the header failed");
    let _ = view.verify();
    let index = view.as_ref();
    // Searching needs the vectors the header describes; keep the allocation small.
    let floats = index.len().saturating_mul(index.dim());
    if floats > 1 << 20 {
        return;
    }
    let vectors: Vec<f32> = (0..floats).map(|i| (i % 7) as f32 - 3.0).collect();
    let query: Vec<f32> = (0..index.dim()).map(|i| i as f32).collect();
    for (nprobe, refine) in [(1, 1), (4, 3), (usize::MAX, 2)] {
        let _ = index.search(&vectors, &query, 5, IvfPqSearch { nprobe, refine }, None);
        let odd = |row: u32| row % 2 == 1;
        let _ = index.search(&vectors, &query, 5, IvfPqSearch { nprobe, refine }, Some((&odd as &dyn RowFilter, 3)));
    }
});

//! Any bytes after a valid WAL header: opening must return a database or an error,
//! never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_storage::wal::format::{encode_header, file_name};

fuzz_target!(|body: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let mut file = encode_header(1).to_vec();
    file.extend_from_slice(body);
    std::fs::write(dir.path().join(file_name(1)), &file).unwrap();
    let _ = strata::Database::open(dir.path());
});

//! Any bytes as the payloads of correctly framed WAL records (so the CRC passes and the
//! engine's operation decoder and replay see them): opening must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_storage::wal::format::{encode_header, encode_record, file_name, MAX_PAYLOAD_LEN};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let mut file = encode_header(1).to_vec();
    // A 0xFF byte separates payloads, so one input can hold a create and some writes.
    for (index, payload) in data.split(|b| *b == 0xFF).enumerate() {
        if payload.len() <= MAX_PAYLOAD_LEN {
            encode_record(&mut file, index as u64 + 1, payload);
        }
    }
    std::fs::write(dir.path().join(file_name(1)), &file).unwrap();
    let _ = strata::Database::open(dir.path());
});

//! Any body for one of a segment's files (keys, docs, rows, vectors-N; the first byte
//! picks which), re-sealed with a valid footer and with the manifest's record of its
//! length and checksum patched, so that open goes on to decode it: open, reads, verify
//! and compaction must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_fuzz::{exercise, instance, mutate, patch_manifest, seal, template};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let template = template();
    let files: Vec<_> = template
        .segment_files
        .iter()
        .filter(|file| !file.relative.ends_with("state-00000000000000000001"))
        .collect();
    let file = files[which as usize % files.len()];
    let name = file.relative.file_name().unwrap().to_str().unwrap();
    let body = mutate(&file.body, rest);
    let (_root, dir) = instance();
    let (body_len, crc) = seal(&dir, file, &body);
    let manifest = patch_manifest(&template.manifest.body, name, body_len, crc);
    seal(&dir, &template.manifest, &manifest);
    exercise(&dir);
});

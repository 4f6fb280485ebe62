//! Any body for a segment's state file (its deletions and deadline changes), re-sealed
//! and with the manifest's checksum of it patched, so the overlay decoder sees it:
//! open, reads, verify and compaction must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_fuzz::{exercise, instance, mutate, patch_manifest, seal, template};

fuzz_target!(|data: &[u8]| {
    let template = template();
    let file = template
        .segment_files
        .iter()
        .find(|file| file.relative.to_string_lossy().contains("state-"))
        .expect("the template's first segment has a state file");
    let name = file.relative.file_name().unwrap().to_str().unwrap();
    let body = mutate(&file.body, data);
    let (_root, dir) = instance();
    let (body_len, crc) = seal(&dir, file, &body);
    let manifest = patch_manifest(&template.manifest.body, name, body_len, crc);
    seal(&dir, &template.manifest, &manifest);
    exercise(&dir);
});

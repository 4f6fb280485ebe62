//! Any MANIFEST body, sealed with a valid footer so the engine's decoder sees it, next
//! to the template's real segments and WAL: open, reads, verify and compaction must
//! return errors or results, never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_fuzz::{exercise, instance, mutate, seal, template};

fuzz_target!(|data: &[u8]| {
    let template = template();
    let body = mutate(&template.manifest.body, data);
    let (_root, dir) = instance();
    seal(&dir, &template.manifest, &body);
    exercise(&dir);
});

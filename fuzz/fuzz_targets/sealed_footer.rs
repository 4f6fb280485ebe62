//! Any whole sealed file, footer included, with no re-sealing: opening it directly must
//! return a file or an error, and a database holding it as a segment's vectors must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_fuzz::{exercise, instance, mutate, template};
use strata_storage::sealed::{SealedFile, FOOTER_LEN};
use strata_storage::StdFileSystem;

fuzz_target!(|data: &[u8]| {
    let template = template();
    let file = template
        .segment_files
        .iter()
        .find(|file| file.relative.ends_with("vectors-3"))
        .unwrap();
    let (_root, dir) = instance();
    let path = dir.join(&file.relative);
    let whole = std::fs::read(&path).unwrap();
    let bytes = mutate(&whole, data);
    std::fs::write(&path, &bytes).unwrap();
    if let Ok(sealed) = SealedFile::open(&StdFileSystem, &path, file.kind, file.version) {
        assert_eq!(sealed.body().len() + FOOTER_LEN, bytes.len());
        let _ = sealed.verify();
    }
    exercise(&dir);
});

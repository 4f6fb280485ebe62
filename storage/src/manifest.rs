//! The MANIFEST: the one file that says which segment files make up the database.
//!
//! It is a sealed file (kind [`MANIFEST_KIND`]) whose body the engine encodes. It is
//! replaced, never edited: the new one is written to `MANIFEST.tmp`, fsynced, renamed
//! over `MANIFEST`, and the directory is fsynced. A crash at any point leaves either
//! the old manifest or the new one. Everything the manifest names was fsynced before
//! it was published.

use std::path::Path;

use crate::error::{Error, Result};
use crate::fs::FileSystem;
use crate::sealed::{write_sealed, SealedFile};

/// The manifest's file name.
pub const MANIFEST_NAME: &str = "MANIFEST";
/// Sealed-file kind of the manifest.
pub const MANIFEST_KIND: u32 = 1;

/// Publishes `body` as the database's manifest in `dir`, atomically.
pub fn publish(fs: &dyn FileSystem, dir: &Path, version: u32, body: &[u8]) -> Result<()> {
    let temporary = dir.join(format!("{MANIFEST_NAME}.tmp"));
    let target = dir.join(MANIFEST_NAME);
    write_sealed(fs, &temporary, MANIFEST_KIND, version, body)?;
    fs.rename(&temporary, &target)
        .map_err(|e| Error::io("rename into place", &target, e))?;
    fs.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// Reads and verifies the manifest in `dir`; `None` when the database has none yet.
pub fn read(fs: &dyn FileSystem, dir: &Path, version: u32) -> Result<Option<Vec<u8>>> {
    let names = fs.list_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    if !names.iter().any(|name| name == MANIFEST_NAME) {
        return Ok(None);
    }
    let file = SealedFile::open_verified(fs, &dir.join(MANIFEST_NAME), MANIFEST_KIND, version)?;
    Ok(Some(file.body().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::StdFileSystem;

    #[test]
    fn publish_replaces_and_read_verifies() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&StdFileSystem, dir.path(), 1).unwrap(), None);
        publish(&StdFileSystem, dir.path(), 1, b"first").unwrap();
        publish(&StdFileSystem, dir.path(), 1, b"second").unwrap();
        assert_eq!(
            read(&StdFileSystem, dir.path(), 1).unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert!(!dir.path().join("MANIFEST.tmp").exists());
        let path = dir.path().join(MANIFEST_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[2] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            read(&StdFileSystem, dir.path(), 1),
            Err(Error::Corrupt { .. })
        ));
    }
}

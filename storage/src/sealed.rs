//! Sealed files: written once start to finish, fsynced, published by rename, then only
//! read (through a map). Every segment file and the MANIFEST is one.
//!
//! ```text
//! body (body_len bytes, starts at offset 0, so it is page- and 64-byte aligned in a map)
//! footer (32 bytes):
//!   0  8  magic       "STRATASF"
//!   8  4  kind        u32: which component (FileKind)
//!   12 4  version     u32: the component's format version
//!   16 8  body_len    u64
//!   24 4  body_crc    u32: CRC32 of the body
//!   28 4  footer_crc  u32: CRC32 of footer bytes 0..28
//! ```
//!
//! The footer is checked whenever a file is opened (O(1)); the body checksum is checked
//! by [`SealedFile::verify`], which small files run at open and large ones (vectors,
//! graphs) leave to `verify` and compaction, so that opening a large database does not
//! read it. Readers of an unverified body bounds-check everything they take from it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::{Access, FileSystem, MappedFile, NewFile};

/// Magic bytes of every sealed file's footer.
pub const MAGIC: [u8; 8] = *b"STRATASF";
/// Size of the footer.
pub const FOOTER_LEN: usize = 32;

/// Writes a sealed file: stream the body, then [`SealedWriter::finish`] appends the
/// footer and fsyncs.
#[derive(Debug)]
pub struct SealedWriter {
    file: Box<dyn NewFile>,
    path: PathBuf,
    kind: u32,
    version: u32,
    body_len: u64,
    crc: crc32fast::Hasher,
}

impl SealedWriter {
    /// Creates `path` for a sealed file of `kind` at format `version`.
    pub fn create(
        fs: &dyn FileSystem,
        path: &Path,
        kind: u32,
        version: u32,
    ) -> Result<SealedWriter> {
        let file = fs.create(path).map_err(|e| Error::io("create", path, e))?;
        Ok(SealedWriter {
            file,
            path: path.to_path_buf(),
            kind,
            version,
            body_len: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    /// Appends body bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.crc.update(bytes);
        self.body_len += bytes.len() as u64;
        Ok(())
    }

    /// Body bytes written so far.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Appends the footer and fsyncs the file. Returns the body checksum, which the
    /// referencing side (the manifest) may keep.
    pub fn finish(mut self) -> Result<u32> {
        let body_crc = self.crc.clone().finalize();
        let footer = encode_footer(self.kind, self.version, self.body_len, body_crc);
        self.file
            .write_all(&footer)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.file
            .sync()
            .map_err(|e| Error::io("fsync", &self.path, e))?;
        Ok(body_crc)
    }
}

fn encode_footer(kind: u32, version: u32, body_len: u64, body_crc: u32) -> [u8; FOOTER_LEN] {
    let mut footer = [0u8; FOOTER_LEN];
    footer[0..8].copy_from_slice(&MAGIC);
    footer[8..12].copy_from_slice(&kind.to_le_bytes());
    footer[12..16].copy_from_slice(&version.to_le_bytes());
    footer[16..24].copy_from_slice(&body_len.to_le_bytes());
    footer[24..28].copy_from_slice(&body_crc.to_le_bytes());
    let crc = crc32fast::hash(&footer[0..28]);
    footer[28..32].copy_from_slice(&crc.to_le_bytes());
    footer
}

/// Writes a whole sealed file from one buffer.
pub fn write_sealed(
    fs: &dyn FileSystem,
    path: &Path,
    kind: u32,
    version: u32,
    body: &[u8],
) -> Result<u32> {
    let mut writer = SealedWriter::create(fs, path, kind, version)?;
    writer.write(body)?;
    writer.finish()
}

/// An open sealed file whose footer passed its checks.
#[derive(Debug, Clone)]
pub struct SealedFile {
    map: Arc<dyn MappedFile>,
    path: PathBuf,
    body_len: usize,
    body_crc: u32,
}

impl SealedFile {
    /// Maps `path` and checks its footer: magic, footer checksum, `kind`, `version`
    /// and length. The body is not read.
    ///
    /// A missing file is [`Error::Corrupt`]: a sealed file is opened because something
    /// names it (the manifest), so its absence is damage to the database, not a
    /// failure of the environment.
    ///
    /// The map is left in [`Access::Random`] mode, so that reading the footer (and
    /// whatever header words the caller checks next) reads those pages only, not the
    /// megabytes of read-ahead around them; callers that go on to read the body in
    /// bulk say so with [`SealedFile::advise`].
    pub fn open(fs: &dyn FileSystem, path: &Path, kind: u32, version: u32) -> Result<SealedFile> {
        let corrupt = |offset: u64, reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason,
        };
        let map = fs.map(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => corrupt(0, "the file is missing".to_string()),
            _ => Error::io("map", path, e),
        })?;
        map.advise(Access::Random);
        let bytes = map.bytes();
        let Some(footer_start) = bytes.len().checked_sub(FOOTER_LEN) else {
            return Err(corrupt(
                0,
                format!("{} bytes is shorter than the footer", bytes.len()),
            ));
        };
        let footer = &bytes[footer_start..];
        let field = |range: std::ops::Range<usize>| {
            let mut out = [0u8; 8];
            out[..range.len()].copy_from_slice(&footer[range]);
            u64::from_le_bytes(out)
        };
        if footer[0..8] != MAGIC {
            return Err(corrupt(
                footer_start as u64,
                "bad magic: not a Strata file".to_string(),
            ));
        }
        if crc32fast::hash(&footer[0..28]) != field(28..32) as u32 {
            return Err(corrupt(
                footer_start as u64,
                "footer checksum mismatch".to_string(),
            ));
        }
        let found_kind = field(8..12) as u32;
        if found_kind != kind {
            return Err(corrupt(
                footer_start as u64,
                format!("file kind {found_kind}, expected {kind}"),
            ));
        }
        let found_version = field(12..16) as u32;
        if found_version != version {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: found_version,
                supported: version,
            });
        }
        if field(16..24) != footer_start as u64 {
            return Err(corrupt(
                footer_start as u64,
                format!(
                    "footer says {} body bytes, the file holds {footer_start}",
                    field(16..24)
                ),
            ));
        }
        Ok(SealedFile {
            body_crc: field(24..28) as u32,
            body_len: footer_start,
            map,
            path: path.to_path_buf(),
        })
    }

    /// Opens and verifies the body checksum too: for small files read whole at open.
    pub fn open_verified(
        fs: &dyn FileSystem,
        path: &Path,
        kind: u32,
        version: u32,
    ) -> Result<SealedFile> {
        let file = SealedFile::open(fs, path, kind, version)?;
        file.verify()?;
        Ok(file)
    }

    /// Checks the body against its checksum (reads every byte, so the map is switched
    /// to [`Access::Sequential`] first).
    pub fn verify(&self) -> Result<()> {
        self.map.advise(Access::Sequential);
        if crc32fast::hash(self.body()) != self.body_crc {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                offset: 0,
                reason: "body checksum mismatch".to_string(),
            });
        }
        Ok(())
    }

    /// Tells the OS how the body is about to be read (see [`Access`]).
    pub fn advise(&self, access: Access) {
        self.map.advise(access);
    }

    /// Tells the OS that `range` of the body is about to be read whole.
    pub fn will_need(&self, range: std::ops::Range<usize>) {
        self.map.will_need(range);
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.map.bytes()[..self.body_len]
    }

    /// The body checksum recorded in the footer.
    pub fn body_crc(&self) -> u32 {
        self.body_crc
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error naming this file, for damage found while decoding the body.
    pub fn corrupt(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::StdFileSystem;

    #[test]
    fn round_trip_and_every_damage_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        let body: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        write_sealed(&StdFileSystem, &path, 7, 1, &body).unwrap();
        let file = SealedFile::open_verified(&StdFileSystem, &path, 7, 1).unwrap();
        assert_eq!(file.body(), body.as_slice());

        let pristine = std::fs::read(&path).unwrap();
        for at in (0..pristine.len())
            .step_by(97)
            .chain(pristine.len() - FOOTER_LEN..pristine.len())
        {
            let mut damaged = pristine.clone();
            damaged[at] ^= 0x04;
            std::fs::write(&path, &damaged).unwrap();
            let result = SealedFile::open_verified(&StdFileSystem, &path, 7, 1);
            assert!(
                matches!(
                    result,
                    Err(Error::Corrupt { .. }) | Err(Error::UnsupportedVersion { .. })
                ),
                "flip at {at} not caught"
            );
        }
        for len in [0, 5, FOOTER_LEN, pristine.len() - 1] {
            std::fs::write(&path, &pristine[..len]).unwrap();
            assert!(
                matches!(
                    SealedFile::open(&StdFileSystem, &path, 7, 1),
                    Err(Error::Corrupt { .. })
                ),
                "cut to {len}"
            );
        }
    }

    #[test]
    fn kind_and_version_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        write_sealed(&StdFileSystem, &path, 7, 2, b"body").unwrap();
        assert!(matches!(
            SealedFile::open(&StdFileSystem, &path, 8, 2),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            SealedFile::open(&StdFileSystem, &path, 7, 1),
            Err(Error::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            })
        ));
    }

    #[test]
    fn a_missing_file_is_corruption_not_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        match SealedFile::open(&StdFileSystem, &path, 7, 1) {
            Err(Error::Corrupt { path: named, .. }) => assert_eq!(named, path),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_body_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        write_sealed(&StdFileSystem, &path, 1, 1, b"").unwrap();
        assert!(SealedFile::open_verified(&StdFileSystem, &path, 1, 1)
            .unwrap()
            .body()
            .is_empty());
    }
}

//! Block-checked sealed files: a sealed file whose body ends with a table of per-block
//! checksums, so that a reader can trust the few blocks a lookup touches without reading
//! the whole file, and never hands out a byte no checksum has vouched for.
//!
//! ```text
//! sealed body:
//!   data        data_len bytes, starting at offset 0 (page aligned in a map)
//!   table       count × u32: CRC32 of each block_size-byte block of the data (the
//!               last block may be shorter; count = ceil(data_len / block_size))
//!   trailer     12 bytes: u32 block_size ‖ u32 count ‖ u32 table_crc
//!               (table_crc: CRC32 of the table and the two words before it)
//! footer        as every sealed file (its body CRC covers data, table and trailer)
//! ```
//!
//! Opening checks the footer and the table against `table_crc`: O(count), 4 bytes per
//! 64 KiB of data. Each block is then checked on first use by any reader, and a bit per
//! block remembers it, so a block costs one CRC pass per open file, not per read. A
//! block that fails is [`Error::Corrupt`] naming the file and the block's offset.
//!
//! What a checked block protects against is damage at rest (bit rot, torn or
//! misdirected writes, a zeroed page). Bytes that change under the map after their block
//! was checked are not caught until `verify`; sealed files are never modified.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::fs::{Access, FileSystem};
use crate::sealed::{SealedFile, SealedWriter};

/// The block size this build writes: 64 KiB, as RocksDB's and redb's defaults are of
/// that order. A block costs ~10 µs to check once; a point lookup touches a handful.
pub const BLOCK_SIZE: u32 = 64 * 1024;
/// Bytes of the trailer after the table.
pub const TRAILER_LEN: usize = 12;
/// Smallest and largest block sizes a reader accepts (powers of two).
const MIN_BLOCK: u32 = 512;
const MAX_BLOCK: u32 = 1 << 24;

/// Writes a block-checked sealed file: stream the data, then [`BlockedWriter::finish`]
/// appends the table, the trailer and the footer, and fsyncs.
#[derive(Debug)]
pub struct BlockedWriter {
    inner: SealedWriter,
    block_size: usize,
    /// Data bytes in the current (unfinished) block, and their CRC so far.
    in_block: usize,
    block_crc: crc32fast::Hasher,
    table: Vec<u8>,
}

impl BlockedWriter {
    /// Creates `path` for a block-checked sealed file of `kind` at format `version`.
    pub fn create(
        fs: &dyn FileSystem,
        path: &Path,
        kind: u32,
        version: u32,
    ) -> Result<BlockedWriter> {
        Self::with_block_size(fs, path, kind, version, BLOCK_SIZE)
    }

    /// As [`BlockedWriter::create`] with another block size (a power of two from 512 to
    /// 16 MiB): for tests that want many blocks in a small file.
    pub fn with_block_size(
        fs: &dyn FileSystem,
        path: &Path,
        kind: u32,
        version: u32,
        block_size: u32,
    ) -> Result<BlockedWriter> {
        assert!(
            block_size.is_power_of_two() && (MIN_BLOCK..=MAX_BLOCK).contains(&block_size),
            "block size {block_size} is not a power of two from {MIN_BLOCK} to {MAX_BLOCK}"
        );
        Ok(BlockedWriter {
            inner: SealedWriter::create(fs, path, kind, version)?,
            block_size: block_size as usize,
            in_block: 0,
            block_crc: crc32fast::Hasher::new(),
            table: Vec::new(),
        })
    }

    /// Appends data bytes.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        self.inner.write(bytes)?;
        while !bytes.is_empty() {
            let take = (self.block_size - self.in_block).min(bytes.len());
            self.block_crc.update(&bytes[..take]);
            self.in_block += take;
            bytes = &bytes[take..];
            if self.in_block == self.block_size {
                self.end_block();
            }
        }
        Ok(())
    }

    fn end_block(&mut self) {
        let crc = std::mem::take(&mut self.block_crc).finalize();
        self.table.extend_from_slice(&crc.to_le_bytes());
        self.in_block = 0;
    }

    /// Data bytes written so far.
    pub fn data_len(&self) -> u64 {
        self.inner.body_len()
    }

    /// Appends the table, trailer and footer and fsyncs. Returns the sealed body's
    /// length and checksum (what the manifest records).
    pub fn finish(mut self) -> Result<(u64, u32)> {
        if self.in_block > 0 {
            self.end_block();
        }
        let count = (self.table.len() / 4) as u32;
        let mut tail = std::mem::take(&mut self.table);
        tail.extend_from_slice(&(self.block_size as u32).to_le_bytes());
        tail.extend_from_slice(&count.to_le_bytes());
        let table_crc = crc32fast::hash(&tail);
        tail.extend_from_slice(&table_crc.to_le_bytes());
        self.inner.write(&tail)?;
        let body_len = self.inner.body_len();
        Ok((body_len, self.inner.finish()?))
    }
}

/// Writes a whole block-checked sealed file from one buffer; returns the sealed body's
/// length and checksum.
pub fn write_blocked(
    fs: &dyn FileSystem,
    path: &Path,
    kind: u32,
    version: u32,
    data: &[u8],
) -> Result<(u64, u32)> {
    let mut writer = BlockedWriter::create(fs, path, kind, version)?;
    writer.write(data)?;
    writer.finish()
}

/// An open block-checked sealed file: footer and block table checked, data blocks
/// checked on first use.
#[derive(Debug)]
pub struct BlockedFile {
    file: SealedFile,
    data_len: usize,
    block_size: usize,
    /// Bit `b` is set once block `b` matched its checksum.
    verified: Box<[AtomicU64]>,
    /// Set once every block is verified: whole-file reads then skip the bits.
    all_verified: AtomicBool,
}

impl BlockedFile {
    /// Maps `path`, checks its footer (see [`SealedFile::open`]) and its block table.
    /// Reads the footer, the trailer and the table only.
    pub fn open(fs: &dyn FileSystem, path: &Path, kind: u32, version: u32) -> Result<BlockedFile> {
        Self::from_sealed(SealedFile::open(fs, path, kind, version)?)
    }

    /// Checks the block table of an open sealed file.
    pub fn from_sealed(file: SealedFile) -> Result<BlockedFile> {
        let body = file.body();
        let Some(trailer_at) = body.len().checked_sub(TRAILER_LEN) else {
            return Err(file.corrupt(0, "too short for a block table"));
        };
        let word = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().expect("4 bytes"));
        let (block_size, count, table_crc) =
            (word(trailer_at), word(trailer_at + 4), word(trailer_at + 8));
        let table_at = trailer_at.checked_sub(4 * count as usize).ok_or_else(|| {
            file.corrupt(
                trailer_at as u64,
                format!("a table of {count} blocks does not fit the file"),
            )
        })?;
        if crc32fast::hash(&body[table_at..trailer_at + 8]) != table_crc {
            return Err(file.corrupt(table_at as u64, "block table checksum mismatch"));
        }
        if !block_size.is_power_of_two() || !(MIN_BLOCK..=MAX_BLOCK).contains(&block_size) {
            return Err(file.corrupt(
                trailer_at as u64,
                format!(
                    "block size {block_size} is not a power of two from {MIN_BLOCK} to {MAX_BLOCK}"
                ),
            ));
        }
        let data_len = table_at;
        if data_len.div_ceil(block_size as usize) != count as usize {
            return Err(file.corrupt(
                trailer_at as u64,
                format!("{count} blocks of {block_size} bytes do not cover {data_len} bytes"),
            ));
        }
        let verified = (0..(count as usize).div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        Ok(BlockedFile {
            file,
            data_len,
            block_size: block_size as usize,
            verified,
            all_verified: AtomicBool::new(count == 0),
        })
    }

    /// Length of the data.
    pub fn len(&self) -> usize {
        self.data_len
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.data_len == 0
    }

    /// The data bytes in `range`, after checking every block the range touches. `None`
    /// when the range is not inside the data (callers take ranges from the file and
    /// name the damage themselves); `Err` when a block fails its checksum.
    pub fn get(&self, range: Range<usize>) -> Result<Option<&[u8]>> {
        if range.start > range.end || range.end > self.data_len {
            return Ok(None);
        }
        if !range.is_empty() {
            let blocks = range.start / self.block_size..(range.end - 1) / self.block_size + 1;
            self.check_blocks(blocks, true)?;
        }
        Ok(Some(&self.data()[range]))
    }

    /// All of the data, after checking every block (once per open file).
    pub fn all(&self) -> Result<&[u8]> {
        if !self.all_verified.load(Ordering::Acquire) {
            self.file.advise(Access::Sequential);
            // Sequential read-ahead streams the file; per-block hints would only break
            // its requests up.
            let checked = self.check_blocks(0..self.block_count(), false);
            self.file.advise(Access::Normal);
            checked?;
            self.all_verified.store(true, Ordering::Release);
        }
        Ok(self.data())
    }

    /// Checks every block and the sealed body's checksum, whatever was checked before.
    pub fn verify(&self) -> Result<()> {
        self.file.verify()?;
        for block in 0..self.block_count() {
            self.check_block(block, false)?;
        }
        self.file.advise(Access::Normal);
        Ok(())
    }

    fn block_count(&self) -> usize {
        self.data_len.div_ceil(self.block_size)
    }

    /// Checks the blocks not checked yet; `prefetch` asks the OS for each block in one
    /// read first (for scattered lookups; not for a sequential pass).
    fn check_blocks(&self, blocks: Range<usize>, prefetch: bool) -> Result<()> {
        for block in blocks {
            let (word, bit) = (&self.verified[block / 64], 1u64 << (block % 64));
            if word.load(Ordering::Acquire) & bit == 0 {
                self.check_block(block, prefetch)?;
                word.fetch_or(bit, Ordering::Release);
            }
        }
        Ok(())
    }

    fn check_block(&self, block: usize, prefetch: bool) -> Result<()> {
        let start = block * self.block_size;
        let end = (start + self.block_size).min(self.data_len);
        let at = self.data_len + 4 * block;
        let body = self.file.body();
        if prefetch {
            // One read of the block rather than a fault per page (the map is in
            // random mode at open and for point lookups).
            self.file.will_need(start..end);
        }
        let expected = u32::from_le_bytes(body[at..at + 4].try_into().expect("4 bytes"));
        if crc32fast::hash(&body[start..end]) != expected {
            return Err(self.file.corrupt(
                start as u64,
                format!("block {block} ({start}..{end}) fails its checksum"),
            ));
        }
        Ok(())
    }

    fn data(&self) -> &[u8] {
        &self.file.body()[..self.data_len]
    }

    /// The unchecked data, for the O(1) alignment test of a mapped column; never to
    /// be decoded.
    pub fn data_unchecked(&self) -> &[u8] {
        self.data()
    }

    /// Tells the OS how the data is about to be read (see [`Access`]).
    pub fn advise(&self, access: Access) {
        self.file.advise(access);
    }

    /// The sealed body's length (data, table and trailer), as the manifest records it.
    pub fn sealed_len(&self) -> u64 {
        self.file.body().len() as u64
    }

    /// The sealed body's checksum recorded in the footer.
    pub fn body_crc(&self) -> u32 {
        self.file.body_crc()
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// An error naming this file, for damage found while decoding the data.
    pub fn corrupt(&self, offset: u64, reason: impl Into<String>) -> Error {
        self.file.corrupt(offset, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::StdFileSystem;
    use crate::sealed::FOOTER_LEN;

    fn written(dir: &Path, data: &[u8], block_size: u32) -> std::path::PathBuf {
        let path = dir.join("file");
        let mut writer =
            BlockedWriter::with_block_size(&StdFileSystem, &path, 7, 2, block_size).unwrap();
        // In uneven pieces, so block boundaries fall inside writes.
        for piece in data.chunks(777) {
            writer.write(piece).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn round_trip_at_every_boundary() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 511, 512, 513, 4096, 5000] {
            let bytes = data(len);
            let path = written(dir.path(), &bytes, 512);
            let file = BlockedFile::open(&StdFileSystem, &path, 7, 2).unwrap();
            assert_eq!(file.len(), len);
            assert_eq!(file.all().unwrap(), bytes.as_slice());
            for range in [0..0, 0..len, len / 3..len / 2, len..len] {
                assert_eq!(file.get(range.clone()).unwrap(), Some(&bytes[range]));
            }
            assert_eq!(file.get(0..len + 1).unwrap(), None);
            assert_eq!(file.get(len + 1..len + 2).unwrap(), None);
            file.verify().unwrap();
        }
    }

    #[test]
    fn a_damaged_block_fails_only_reads_that_touch_it() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = data(10 * 512 + 100);
        let path = written(dir.path(), &bytes, 512);
        let mut damaged = std::fs::read(&path).unwrap();
        damaged[3 * 512 + 17] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        // The table is intact, so open succeeds without reading the data.
        let file = BlockedFile::open(&StdFileSystem, &path, 7, 2).unwrap();
        assert_eq!(file.get(0..3 * 512).unwrap(), Some(&bytes[..3 * 512]));
        assert_eq!(
            file.get(4 * 512..5 * 512).unwrap(),
            Some(&bytes[4 * 512..5 * 512])
        );
        for range in [3 * 512..3 * 512 + 1, 2 * 512..4 * 512, 0..bytes.len()] {
            match file.get(range.clone()) {
                Err(Error::Corrupt {
                    path: named,
                    offset,
                    ..
                }) => {
                    assert_eq!(named, path);
                    assert_eq!(offset, 3 * 512);
                }
                other => panic!("{range:?}: expected Corrupt, got {other:?}"),
            }
        }
        // A failed block is not remembered as good.
        assert!(file.get(3 * 512..3 * 512 + 1).is_err());
        assert!(file.all().is_err());
        assert!(file.verify().is_err());
    }

    #[test]
    fn every_flip_is_caught_at_open_or_on_use() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = data(3 * 512 + 9);
        let path = written(dir.path(), &bytes, 512);
        let pristine = std::fs::read(&path).unwrap();
        for at in 0..pristine.len() {
            let mut damaged = pristine.clone();
            damaged[at] ^= 0x01;
            std::fs::write(&path, &damaged).unwrap();
            let caught = match BlockedFile::open(&StdFileSystem, &path, 7, 2) {
                Err(Error::Corrupt { .. }) | Err(Error::UnsupportedVersion { .. }) => true,
                Err(other) => panic!("flip at {at}: {other:?}"),
                // Damage in the data: the open is fine, the read of its block is not.
                Ok(file) => at < bytes.len() && file.all().is_err() && file.verify().is_err(),
            };
            assert!(caught, "flip at {at} not caught");
        }
        assert!(pristine.len() > bytes.len() + TRAILER_LEN + FOOTER_LEN);
    }

    #[test]
    fn a_plain_sealed_file_is_not_taken_for_a_blocked_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain");
        crate::sealed::write_sealed(&StdFileSystem, &path, 7, 1, &data(3000)).unwrap();
        assert!(matches!(
            BlockedFile::open(&StdFileSystem, &path, 7, 1),
            Err(Error::Corrupt { .. })
        ));
    }
}

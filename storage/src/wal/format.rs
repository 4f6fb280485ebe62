//! Byte layout of WAL files (documented in FORMAT.md, section "WAL").
//!
//! ```text
//! file   := header record*
//! header := magic "STRATAWL" (8) | version u32 | flags u32 (0) | first_seq u64
//!           | crc32(bytes 0..24) u32 | reserved u32 (0)                  = 32 bytes
//! record := len u32 | crc u32 | seq u64 | payload[len]
//!           crc = crc32(len as 4 LE bytes ‖ seq as 8 LE bytes ‖ payload)
//! ```
//! All integers are little-endian. Records carry consecutive sequence numbers starting
//! at the header's `first_seq`.

/// Magic bytes at the start of every WAL file.
pub const MAGIC: [u8; 8] = *b"STRATAWL";
/// The WAL format version this build writes. Version 2 frames records as version 1
/// does; its payloads may hold operations a build before it cannot decode (JSON
/// documents, issue 15), which such a build refuses by the header instead of failing
/// on a record.
pub const VERSION: u32 = 2;
/// The oldest WAL format version this build reads.
pub const MIN_VERSION: u32 = 1;
/// Size of the file header.
pub const HEADER_LEN: usize = 32;
/// Size of a record header (`len`, `crc`, `seq`).
pub const RECORD_HEADER_LEN: usize = 16;
/// Largest payload one record may carry. Bounds the allocation a damaged length field
/// could ask for on replay.
pub const MAX_PAYLOAD_LEN: usize = 512 << 20;

/// Encodes a file header.
pub fn encode_header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32fast::hash(&header[0..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Why a header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Not a WAL file, or damaged: the reason says which check failed.
    Corrupt(&'static str),
    /// A WAL of another format version.
    Version(u32),
}

/// Decodes a file header, returning its `first_seq`.
pub fn decode_header(header: &[u8; HEADER_LEN]) -> Result<u64, HeaderProblem> {
    if header[0..8] != MAGIC {
        return Err(HeaderProblem::Corrupt("bad magic: not a Strata WAL file"));
    }
    let stored_crc = u32::from_le_bytes(le4(&header[24..28]));
    if crc32fast::hash(&header[0..24]) != stored_crc {
        return Err(HeaderProblem::Corrupt("header checksum mismatch"));
    }
    let version = u32::from_le_bytes(le4(&header[8..12]));
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(HeaderProblem::Version(version));
    }
    Ok(u64::from_le_bytes(le8(&header[16..24])))
}

/// Checksum of a record: covers the length, the sequence number and the payload.
pub fn record_crc(len: u32, seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Appends one framed record to `out`. The caller has checked the payload size.
pub fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("payload size checked against MAX_PAYLOAD_LEN");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&record_crc(len, seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// A decoded record header.
#[derive(Debug, Clone, Copy)]
pub struct RecordHeader {
    pub len: u32,
    pub crc: u32,
    pub seq: u64,
}

/// Splits a record header into its fields.
pub fn decode_record_header(bytes: &[u8; RECORD_HEADER_LEN]) -> RecordHeader {
    RecordHeader {
        len: u32::from_le_bytes(le4(&bytes[0..4])),
        crc: u32::from_le_bytes(le4(&bytes[4..8])),
        seq: u64::from_le_bytes(le8(&bytes[8..16])),
    }
}

fn le4(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    out.copy_from_slice(&bytes[..4]);
    out
}

fn le8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// Name of the WAL file whose first record has sequence number `first_seq`.
pub fn file_name(first_seq: u64) -> String {
    format!("wal-{first_seq:020}.log")
}

/// The `first_seq` encoded in a WAL file name, or `None` for any other file.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let header = encode_header(42);
        assert_eq!(decode_header(&header), Ok(42));
        for byte in 0..28 {
            let mut damaged = header;
            damaged[byte] ^= 0x10;
            assert!(
                decode_header(&damaged).is_err(),
                "flip at byte {byte} went unnoticed"
            );
        }
    }

    #[test]
    fn other_versions_are_named() {
        let mut header = encode_header(1);
        header[8..12].copy_from_slice(&7u32.to_le_bytes());
        let crc = crc32fast::hash(&header[0..24]);
        header[24..28].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode_header(&header), Err(HeaderProblem::Version(7)));
        // Version 1 files (written before JSON documents) are still read.
        header[8..12].copy_from_slice(&1u32.to_le_bytes());
        let crc = crc32fast::hash(&header[0..24]);
        header[24..28].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode_header(&header), Ok(1));
    }

    #[test]
    fn file_names_round_trip() {
        assert_eq!(parse_file_name(&file_name(17)), Some(17));
        assert_eq!(parse_file_name("wal-17.log"), None);
        assert_eq!(parse_file_name("MANIFEST"), None);
    }
}

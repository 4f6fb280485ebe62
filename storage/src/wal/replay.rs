//! Reading a WAL file back: framing checks, and telling a torn tail from corruption.
//!
//! A crash can only tear the *end* of the log: records are appended in order and never
//! rewritten. So damage is forgiven as a torn tail exactly when no intact record
//! follows it. Damage followed by an intact record means bytes in the middle of the
//! log changed after they were written, which is corruption.

use std::io::Read;
use std::path::Path;

use super::format::{
    decode_header, decode_record_header, record_crc, HeaderProblem, HEADER_LEN, MAX_PAYLOAD_LEN,
    RECORD_HEADER_LEN,
};
use crate::error::{Error, Result};
use crate::fs::{read_all, FileSystem};

/// What replay does when it finds damage that is not a torn tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Refuse to open: corruption before the tail is [`Error::Corrupt`].
    #[default]
    Strict,
    /// Cut the log at the first damaged record and drop everything after it, like
    /// Redis's `aof-load-truncated`. Acknowledged writes after the damage are lost.
    TruncateAtCorruption,
}

/// Damage found and cut away during replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the first damaged record in its file.
    pub offset: u64,
    /// Bytes cut from that offset to the end of the file.
    pub dropped_bytes: u64,
    /// Whether it was an interrupted append or damage followed by intact records.
    pub kind: DamageKind,
}

/// The two kinds of WAL damage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DamageKind {
    /// The last append was interrupted; nothing acknowledged is lost under `Always`.
    TornTail,
    /// Intact records followed the damage; cut only under truncating recovery.
    Corrupt { reason: String },
}

/// Result of replaying one file.
#[derive(Debug)]
pub(crate) struct FileReplay {
    pub records: u64,
    pub last_seq: Option<u64>,
    pub valid_len: u64,
    pub damage: Option<Damage>,
}

/// Replays the records of the WAL file at `path`, whose name says its first record has
/// sequence number `first_seq`, handing each payload to `apply`.
pub(crate) fn replay_file(
    fs: &dyn FileSystem,
    path: &Path,
    first_seq: u64,
    mode: RecoveryMode,
    apply: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<FileReplay> {
    let corrupt = |offset: u64, reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let (mut reader, file_len) = fs.open_read(path).map_err(|e| Error::io("open", path, e))?;
    let mut header = [0u8; HEADER_LEN];
    if file_len < HEADER_LEN as u64 {
        // Files are created with their header by an atomic rename, so a short one was
        // damaged afterwards.
        return Err(corrupt(
            0,
            format!("file of {file_len} bytes is shorter than the WAL header"),
        ));
    }
    reader
        .read_exact(&mut header)
        .map_err(|e| Error::io("read", path, e))?;
    match decode_header(&header) {
        Ok(seq) if seq == first_seq => {}
        Ok(seq) => {
            return Err(corrupt(
                16,
                format!("header says first sequence {seq}, file name says {first_seq}"),
            ))
        }
        Err(HeaderProblem::Corrupt(reason)) => return Err(corrupt(0, reason.to_string())),
        Err(HeaderProblem::Version(found)) => {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported: super::format::VERSION,
            })
        }
    }

    let mut position = HEADER_LEN as u64;
    let mut expected_seq = first_seq;
    let mut records = 0u64;
    let mut payload = Vec::new();
    let damage_reason = loop {
        if position == file_len {
            break None;
        }
        if file_len - position < RECORD_HEADER_LEN as u64 {
            break Some("record header cut short".to_string());
        }
        let mut record_header = [0u8; RECORD_HEADER_LEN];
        reader
            .read_exact(&mut record_header)
            .map_err(|e| Error::io("read", path, e))?;
        let record = decode_record_header(&record_header);
        let len = record.len as u64;
        if record.len as usize > MAX_PAYLOAD_LEN {
            break Some(format!("record length {len} exceeds the format's maximum"));
        }
        if position + RECORD_HEADER_LEN as u64 + len > file_len {
            break Some(format!(
                "record of {len} bytes runs past the end of the file"
            ));
        }
        payload.resize(record.len as usize, 0);
        reader
            .read_exact(&mut payload)
            .map_err(|e| Error::io("read", path, e))?;
        if record_crc(record.len, record.seq, &payload) != record.crc {
            break Some("record checksum mismatch".to_string());
        }
        if record.seq != expected_seq {
            // An intact record out of order cannot come from an interrupted append.
            return Err(corrupt(
                position,
                format!("expected sequence {expected_seq}, found {}", record.seq),
            ));
        }
        apply(record.seq, &payload)?;
        records += 1;
        expected_seq += 1;
        position += RECORD_HEADER_LEN as u64 + len;
    };

    let last_seq = (records > 0).then(|| expected_seq - 1);
    let Some(reason) = damage_reason else {
        return Ok(FileReplay {
            records,
            last_seq,
            valid_len: position,
            damage: None,
        });
    };
    let whole = read_all(fs, path)?;
    let tail = whole.get(position as usize..).unwrap_or_default();
    let kind = if intact_record_follows(tail, expected_seq) {
        match mode {
            RecoveryMode::Strict => {
                return Err(corrupt(
                    position,
                    format!("{reason}, and intact records follow it"),
                ))
            }
            RecoveryMode::TruncateAtCorruption => DamageKind::Corrupt { reason },
        }
    } else {
        DamageKind::TornTail
    };
    Ok(FileReplay {
        records,
        last_seq,
        valid_len: position,
        damage: Some(Damage {
            offset: position,
            dropped_bytes: file_len - position,
            kind,
        }),
    })
}

/// Whether `tail` (which starts at a damaged record) holds an intact record further on,
/// with a sequence number at or after the one that was due.
fn intact_record_follows(tail: &[u8], due_seq: u64) -> bool {
    // A record is at least RECORD_HEADER_LEN bytes, so no more than this many follow.
    let most_records = (tail.len() / RECORD_HEADER_LEN) as u64;
    (1..tail.len().saturating_sub(RECORD_HEADER_LEN - 1)).any(|start| {
        let mut bytes = [0u8; RECORD_HEADER_LEN];
        bytes.copy_from_slice(&tail[start..start + RECORD_HEADER_LEN]);
        let record = decode_record_header(&bytes);
        let payload_start = start + RECORD_HEADER_LEN;
        record.seq >= due_seq
            && record.seq <= due_seq.saturating_add(most_records)
            && (record.len as usize) <= tail.len() - payload_start
            && record_crc(
                record.len,
                record.seq,
                &tail[payload_start..payload_start + record.len as usize],
            ) == record.crc
    })
}

//! Strata's durable bytes: the write-ahead log, the file-system seam and the
//! directory lock.
//!
//! This crate moves and checks bytes. It is *not* the data model: it never decodes a
//! WAL payload, never sees a schema or a document, and never decides what an operation
//! means. The engine encodes operations, hands them here to be made durable, and
//! decodes them again on replay.
//!
//! Every file this crate writes starts with a magic and a format version and carries
//! CRC32 checksums; every byte it reads back is checked before it is handed out.

pub mod blocks;
pub mod error;
pub mod fs;
pub mod lock;
pub mod manifest;
pub mod sealed;
pub mod wal;

pub use error::{Error, Result};
pub use fs::{FileSystem, MappedFile, NewFile, StdFileSystem, WalFile};
pub use lock::DirectoryLock;

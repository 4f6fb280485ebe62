//! Names, kinds and versions of segment files (FORMAT.md, "Segments").

/// Directory under the database that holds one directory per segment.
pub(crate) const SEGMENTS_DIR: &str = "segments";

/// Name of the directory of segment `id`.
pub(crate) fn segment_dir_name(id: u64) -> String {
    format!("{id:020}")
}

/// The kinds of segment file, with their sealed-file kind codes. Every file a segment
/// may hold is listed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Keys,
    Docs,
    Rows,
    /// The vectors of the field at this schema position.
    Vectors(u16),
    /// A version of the segment's deletions and TTL overrides.
    State(u64),
    /// The tag index of the TAG field at this schema position.
    Tags(u16),
    /// The sorted column of the NUMERIC field at this schema position.
    Numeric(u16),
    /// The HNSW graph of the VECTOR field at this schema position.
    Graph(u16),
    /// The IVF-PQ index of the VECTOR field at this schema position.
    IvfPq(u16),
    /// The Bloom filter over the segment's keys (`filter.rs`). Optional: segments
    /// written before it existed have none and are searched without it.
    KeyFilter,
    /// Each row's insertion order (SORTBY ties follow it, as RediSearch's document
    /// ids). Optional: segments written before it existed have none.
    Order,
    /// The text index of the TEXT field at this schema position (`crate::text::file`).
    /// Segments written before text indexes existed have none; theirs is built in
    /// memory from the stored text on first use.
    Text(u16),
}

impl FileKind {
    /// Sealed-file kind code (the manifest is 1).
    pub fn code(self) -> u32 {
        match self {
            FileKind::Keys => 10,
            FileKind::Docs => 11,
            FileKind::Rows => 12,
            FileKind::Vectors(_) => 13,
            FileKind::State(_) => 14,
            FileKind::Tags(_) => 15,
            FileKind::Numeric(_) => 16,
            FileKind::Graph(_) => 17,
            FileKind::KeyFilter => 18,
            FileKind::Order => 19,
            FileKind::IvfPq(_) => 20,
            FileKind::Text(_) => 21,
        }
    }

    /// Format version this build writes and reads. Version 2 of the lazily read kinds
    /// added the block table (`strata_storage::blocks`); version 1 files are refused
    /// with `UnsupportedVersion`, except the one [`FileKind::legacy_version`] names.
    pub fn version(self) -> u32 {
        if self.is_blocked() {
            2
        } else {
            1
        }
    }

    /// An older version this build still reads (never writes): `ivfpq-*` version 1,
    /// which has no block table, so its body checksum is checked whole on first use
    /// (`ivfpq.rs`). Retraining at open is what the format promises never to do, and
    /// the whole-body check keeps the guarantee that no unchecked byte is used.
    pub fn legacy_version(self) -> Option<u32> {
        matches!(self, FileKind::IvfPq(_)).then_some(1)
    }

    /// Whether the file is read lazily through its map and so carries a block table,
    /// each block checked on first use. `rows` and `state-*` are read whole (and
    /// checked) at open.
    pub fn is_blocked(self) -> bool {
        !matches!(self, FileKind::Rows | FileKind::State(_))
    }

    /// Maps the file of this kind at `path` and checks its footer at the current
    /// version, or at the [`FileKind::legacy_version`]; returns the version found.
    pub fn open(
        self,
        fs: &dyn strata_storage::FileSystem,
        path: &std::path::Path,
    ) -> strata_storage::Result<(strata_storage::sealed::SealedFile, u32)> {
        use strata_storage::sealed::SealedFile;
        match SealedFile::open(fs, path, self.code(), self.version()) {
            Err(strata_storage::Error::UnsupportedVersion { found, .. })
                if Some(found) == self.legacy_version() =>
            {
                Ok((SealedFile::open(fs, path, self.code(), found)?, found))
            }
            opened => Ok((opened?, self.version())),
        }
    }

    /// File name inside the segment directory.
    pub fn file_name(self) -> String {
        match self {
            FileKind::Keys => "keys".to_string(),
            FileKind::Docs => "docs".to_string(),
            FileKind::Rows => "rows".to_string(),
            FileKind::Vectors(field) => format!("vectors-{field}"),
            FileKind::State(version) => format!("state-{version:020}"),
            FileKind::Tags(field) => format!("tags-{field}"),
            FileKind::Numeric(field) => format!("numeric-{field}"),
            FileKind::Graph(field) => format!("hnsw-{field}"),
            FileKind::IvfPq(field) => format!("ivfpq-{field}"),
            FileKind::Text(field) => format!("text-{field}"),
            FileKind::KeyFilter => "keyfilter".to_string(),
            FileKind::Order => "order".to_string(),
        }
    }

    /// The kind a file name denotes, if any.
    pub fn from_file_name(name: &str) -> Option<FileKind> {
        match name {
            "keys" => Some(FileKind::Keys),
            "docs" => Some(FileKind::Docs),
            "rows" => Some(FileKind::Rows),
            "keyfilter" => Some(FileKind::KeyFilter),
            "order" => Some(FileKind::Order),
            _ => {
                if let Some(field) = name.strip_prefix("vectors-") {
                    return field.parse().ok().map(FileKind::Vectors);
                }
                if let Some(field) = name.strip_prefix("tags-") {
                    return field.parse().ok().map(FileKind::Tags);
                }
                if let Some(field) = name.strip_prefix("numeric-") {
                    return field.parse().ok().map(FileKind::Numeric);
                }
                if let Some(field) = name.strip_prefix("hnsw-") {
                    return field.parse().ok().map(FileKind::Graph);
                }
                if let Some(field) = name.strip_prefix("ivfpq-") {
                    return field.parse().ok().map(FileKind::IvfPq);
                }
                if let Some(field) = name.strip_prefix("text-") {
                    return field.parse().ok().map(FileKind::Text);
                }
                let version = name.strip_prefix("state-")?;
                (version.len() == 20).then(|| version.parse().ok().map(FileKind::State))?
            }
        }
    }
}

/// Rounds `offset` up to a multiple of `align` (a power of two).
pub(crate) fn align_up(offset: usize, align: usize) -> usize {
    (offset + align - 1) & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        for kind in [
            FileKind::Keys,
            FileKind::Docs,
            FileKind::Rows,
            FileKind::Vectors(3),
            FileKind::State(9),
            FileKind::KeyFilter,
            FileKind::Order,
            FileKind::IvfPq(2),
            FileKind::Text(4),
        ] {
            assert_eq!(FileKind::from_file_name(&kind.file_name()), Some(kind));
        }
        assert_eq!(FileKind::from_file_name("vectors-x"), None);
        assert_eq!(FileKind::from_file_name("state-1"), None);
    }
}

//! The engine's manifest body (FORMAT.md, "MANIFEST"): which collections exist, their
//! schemas, their segments with each file's length and checksum, and per collection the
//! WAL sequence number up to which its segments hold every write of that collection.

use std::path::Path;

use strata_storage::manifest::{self as manifest_file, MANIFEST_NAME};
use strata_storage::FileSystem;

use crate::model::codec::{decode_schema, encode_schema, put_str, put_u32, put_u64, Reader};
use crate::model::error::{Error, Result};
use crate::model::schema::Schema;
use crate::segment::FileRecord;

/// Version of the manifest body this build writes. Version 1 (one WAL mark for every
/// collection) is still read: it is version 2 with that mark as every collection's.
pub(crate) const MANIFEST_VERSION: u32 = 2;
/// The previous version, read and never written.
pub(crate) const MANIFEST_VERSION_1: u32 = 1;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SegmentEntry {
    pub id: u64,
    pub row_count: u64,
    /// Version of the segment's `state-<version>` file; 0 when it has none.
    pub state_version: u64,
    /// Body checksum of that state file (0 when there is none). Kept here, like every
    /// segment file's, so that a state file of another segment or an older version of
    /// this one is refused instead of silently deleting the wrong rows.
    pub state_crc: u32,
    pub files: Vec<FileRecord>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CollectionEntry {
    pub id: u64,
    pub name: String,
    pub schema: Schema,
    /// Every WAL record of this collection up to this sequence number is in its
    /// segments (and their state files); replay applies only the later ones.
    pub covered: u64,
    pub segments: Vec<SegmentEntry>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Manifest {
    /// The collection list reflects every create and drop up to this WAL sequence
    /// number: replay skips those, and skips records of collections this manifest does
    /// not list when they are not later than it (the collection was dropped).
    pub catalog_seq: u64,
    pub next_segment_id: u64,
    pub next_collection_id: u64,
    pub collections: Vec<CollectionEntry>,
}

/// Reads and decodes the manifest of the database in `dir`, of either version; `None`
/// when there is none yet.
pub(crate) fn read(fs: &dyn FileSystem, dir: &Path) -> Result<Option<Manifest>> {
    let found = match manifest_file::read(fs, dir, MANIFEST_VERSION) {
        Ok(body) => body.map(|body| (body, MANIFEST_VERSION)),
        Err(strata_storage::Error::UnsupportedVersion { found, .. })
            if found == MANIFEST_VERSION_1 =>
        {
            manifest_file::read(fs, dir, MANIFEST_VERSION_1)?.map(|body| (body, MANIFEST_VERSION_1))
        }
        Err(error) => return Err(error.into()),
    };
    found
        .map(|(body, version)| {
            Manifest::decode(&body, version).map_err(|reason| Error::Corrupt {
                file: dir.join(MANIFEST_NAME),
                offset: 0,
                reason,
            })
        })
        .transpose()
}

/// Publishes `manifest` atomically (see `strata_storage::manifest::publish`).
pub(crate) fn publish(fs: &dyn FileSystem, dir: &Path, manifest: &Manifest) -> Result<()> {
    Ok(manifest_file::publish(
        fs,
        dir,
        MANIFEST_VERSION,
        &manifest.encode(),
    )?)
}

impl Manifest {
    /// The entry of the collection with id `id`.
    pub fn collection(&self, id: u64) -> Option<&CollectionEntry> {
        self.collections.iter().find(|c| c.id == id)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_u64(&mut out, self.catalog_seq);
        put_u64(&mut out, self.next_segment_id);
        put_u64(&mut out, self.next_collection_id);
        put_u32(&mut out, self.collections.len() as u32);
        for collection in &self.collections {
            put_u64(&mut out, collection.id);
            put_str(&mut out, &collection.name);
            encode_schema(&mut out, &collection.schema);
            put_u64(&mut out, collection.covered);
            put_u32(&mut out, collection.segments.len() as u32);
            for segment in &collection.segments {
                put_u64(&mut out, segment.id);
                put_u64(&mut out, segment.row_count);
                put_u64(&mut out, segment.state_version);
                put_u32(&mut out, segment.state_crc);
                put_u32(&mut out, segment.files.len() as u32);
                for file in &segment.files {
                    put_str(&mut out, &file.name);
                    put_u64(&mut out, file.body_len);
                    put_u32(&mut out, file.body_crc);
                }
            }
        }
        out
    }

    /// Decodes a body of `version` ([`MANIFEST_VERSION`] or [`MANIFEST_VERSION_1`]).
    pub fn decode(body: &[u8], version: u32) -> std::result::Result<Manifest, String> {
        let mut reader = Reader::new(body);
        let mut manifest = Manifest {
            catalog_seq: reader.u64()?,
            next_segment_id: reader.u64()?,
            next_collection_id: reader.u64()?,
            collections: Vec::new(),
        };
        // A segment named twice would show its rows twice, and two collections with
        // one name would hide one of them: refuse both rather than open wrong data.
        let mut segment_ids = std::collections::HashSet::new();
        let mut collection_ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        let collections = reader.u32()?;
        for _ in 0..collections {
            let id = reader.u64()?;
            let name = reader.string()?;
            let schema = decode_schema(&mut reader)?;
            let covered = match version {
                MANIFEST_VERSION_1 => manifest.catalog_seq,
                _ => reader.u64()?,
            };
            let mut segments = Vec::new();
            for _ in 0..reader.u32()? {
                let id = reader.u64()?;
                let row_count = reader.u64()?;
                let state_version = reader.u64()?;
                let state_crc = reader.u32()?;
                let mut files = Vec::new();
                for _ in 0..reader.u32()? {
                    files.push(FileRecord {
                        name: reader.string()?,
                        body_len: reader.u64()?,
                        body_crc: reader.u32()?,
                    });
                }
                if id >= manifest.next_segment_id {
                    return Err(format!("segment {id} is not below the next segment id"));
                }
                if !segment_ids.insert(id) {
                    return Err(format!("segment {id} is listed twice"));
                }
                segments.push(SegmentEntry {
                    id,
                    row_count,
                    state_version,
                    state_crc,
                    files,
                });
            }
            if id >= manifest.next_collection_id {
                return Err(format!(
                    "collection {id} is not below the next collection id"
                ));
            }
            if !collection_ids.insert(id) || !names.insert(name.clone()) {
                return Err(format!("collection {id} `{name}` is listed twice"));
            }
            manifest.collections.push(CollectionEntry {
                id,
                name,
                schema,
                covered,
                segments,
            });
        }
        if reader.remaining() != 0 {
            return Err("trailing bytes".into());
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::{Metric, VectorIndex};

    #[test]
    fn manifests_round_trip_and_truncations_fail() {
        let manifest = Manifest {
            catalog_seq: 41,
            next_segment_id: 8,
            next_collection_id: 3,
            collections: vec![CollectionEntry {
                id: 2,
                name: "docs".into(),
                schema: Schema::builder()
                    .text("t")
                    .vector("v", 4, Metric::L2, VectorIndex::flat())
                    .build()
                    .unwrap(),
                covered: 40,
                segments: vec![SegmentEntry {
                    id: 7,
                    row_count: 100,
                    state_version: 2,
                    state_crc: 0xDEAD_BEEF,
                    files: vec![FileRecord {
                        name: "keys".into(),
                        body_len: 10,
                        body_crc: 99,
                    }],
                }],
            }],
        };
        let bytes = manifest.encode();
        assert_eq!(
            Manifest::decode(&bytes, MANIFEST_VERSION).unwrap(),
            manifest
        );
        for len in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..len], MANIFEST_VERSION).is_err());
        }

        // The same segment twice, in one collection or in two, and two collections
        // under one name or one id.
        let mut twice = manifest.clone();
        let segment = twice.collections[0].segments[0].clone();
        twice.collections[0].segments.push(segment);
        assert!(Manifest::decode(&twice.encode(), MANIFEST_VERSION).is_err());
        let mut other = manifest.collections[0].clone();
        other.id = 1;
        other.name = "other".into();
        let mut shared = manifest.clone();
        shared.collections.push(other.clone());
        assert!(Manifest::decode(&shared.encode(), MANIFEST_VERSION).is_err());
        other.segments.clear();
        let mut renamed = manifest.clone();
        renamed.collections.push(CollectionEntry {
            name: "docs".into(),
            ..other.clone()
        });
        assert!(Manifest::decode(&renamed.encode(), MANIFEST_VERSION).is_err());
        let mut same_id = manifest.clone();
        same_id.collections.push(CollectionEntry { id: 2, ..other });
        assert!(Manifest::decode(&same_id.encode(), MANIFEST_VERSION).is_err());
    }
}

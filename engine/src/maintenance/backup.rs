//! Backup and integrity checking.

use std::path::Path;

use strata_storage::manifest::MANIFEST_NAME;
use strata_storage::wal::verify_files;

use crate::model::error::{Error, Result};
use crate::model::reports::VerifyReport;
use crate::segment::{segment_dir_name, FileKind, SEGMENTS_DIR};
use crate::write::store::{io, Shared};

/// Copies the published segments, the manifest and the WAL into `destination`.
///
/// Consistency: under the WAL mutex nothing is appended, flushed or published, so the
/// manifest, the files it names and the WAL together describe one moment: the copy
/// opens to exactly the acknowledged state at that moment.
pub(crate) fn backup(shared: &Shared, destination: &Path) -> Result<()> {
    let fs = shared.fs.as_ref();
    if let Ok(entries) = fs.list_dir(destination)
        && !entries.is_empty()
    {
        return Err(Error::InvalidArgument {
            reason: format!(
                "backup destination {} is not empty; give a new or empty directory",
                destination.display()
            ),
        });
    }
    fs.create_dir_all(destination)
        .map_err(|e| io("create", destination, e))?;
    let wal = shared.lock_wal();
    wal.sync()?;
    let has_manifest = fs
        .list_dir(&shared.path)
        .map_err(|e| io("list", &shared.path, e))?
        .iter()
        .any(|name| name == MANIFEST_NAME);
    if has_manifest {
        // The manifest last published, not one made from the live catalog: with the WAL
        // copied below, it reopens to exactly the acknowledged state.
        let manifest = shared.catalog.read().published.clone();
        let segments_dir = destination.join(SEGMENTS_DIR);
        fs.create_dir_all(&segments_dir)
            .map_err(|e| io("create", &segments_dir, e))?;
        for segment in manifest.collections.iter().flat_map(|c| &c.segments) {
            let name = segment_dir_name(segment.id);
            let (from_dir, to_dir) = (shared.segments_dir().join(&name), segments_dir.join(&name));
            fs.create_dir_all(&to_dir)
                .map_err(|e| io("create", &to_dir, e))?;
            let mut names: Vec<String> = segment.files.iter().map(|f| f.name.clone()).collect();
            if segment.state_version > 0 {
                names.push(FileKind::State(segment.state_version).file_name());
            }
            for file in names {
                link_or_copy(shared, &from_dir.join(&file), &to_dir.join(&file))?;
            }
            fs.sync_dir(&to_dir).map_err(|e| io("fsync", &to_dir, e))?;
        }
        fs.sync_dir(&segments_dir)
            .map_err(|e| io("fsync", &segments_dir, e))?;
        crate::write::manifest::publish(fs, destination, &manifest)?;
    }
    for file in wal.files() {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        copy_file(shared, file, &destination.join(name))?;
    }
    fs.sync_dir(destination)
        .map_err(|e| io("fsync", destination, e))
}

fn link_or_copy(shared: &Shared, from: &Path, to: &Path) -> Result<()> {
    if shared.fs.hard_link(from, to).is_ok() {
        return Ok(());
    }
    copy_file(shared, from, to)
}

fn copy_file(shared: &Shared, from: &Path, to: &Path) -> Result<()> {
    let bytes = strata_storage::fs::read_all(shared.fs.as_ref(), from)?;
    shared
        .fs
        .write_file(to, &bytes)
        .map_err(|e| io("write", to, e))
}

/// Reads every byte the database holds and checks it.
pub(crate) fn verify(shared: &Shared) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let collections: Vec<_> = shared.catalog.read().by_name.values().cloned().collect();
    for state in collections {
        let segments: Vec<_> = state
            .snapshot()
            .segments
            .iter()
            .map(|slot| std::sync::Arc::clone(&slot.segment))
            .collect();
        for segment in segments {
            report.segment_bytes += segment.verify()?;
            report.segments += 1;
        }
    }
    crate::write::manifest::read(shared.fs.as_ref(), &shared.path)?;
    let wal = shared.lock_wal();
    report.wal_records = verify_files(shared.fs.as_ref(), wal.files())?;
    Ok(report)
}

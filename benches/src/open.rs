//! The measured open: what a restarting program pays before it can serve.
//!
//! One clock and one memory reading per step, all from the same start:
//!
//! ```text
//! Database::open_with ─ collection() ──► handle        (manifest, segment footers, WAL)
//!                       get(probe key) ──► first get   (a point read: keys + docs pages)
//!                       search(query)  ──► first answer (FLAT: every vector is read)
//! ```
//!
//! The steps are separate because they measure different things. The handle is the
//! open proper, and should not grow with the row count. A get touches a few pages of
//! the key and document files. A FLAT search reads every vector, so its time is a scan
//! of the data (from the page cache, or from disk when cold), not an open cost; it is
//! reported beside, not folded into, the open.

use std::path::Path;
use std::time::Instant;

use strata::{Collection, Database, Options, Search};

use crate::metrics::{self, Rss};
use crate::runner::{COLLECTION, VECTOR_FIELD};
use crate::{BenchError, Result};

/// Cumulative milliseconds since `Database::open_with` was called, and resident memory,
/// at each step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OpenFigures {
    /// Before the open: what the process held already.
    pub rss_before: Option<Rss>,
    /// `open_with` + `collection()` returned.
    pub handle_ms: f64,
    pub rss_handle: Option<Rss>,
    /// ... and a `get` of the probe key returned.
    pub first_get_ms: f64,
    pub rss_first_get: Option<Rss>,
    /// ... and the first k-NN search returned.
    pub first_answer_ms: f64,
    pub rss_first_answer: Option<Rss>,
    /// WAL records the open replayed (a flushed database replays none).
    pub records_replayed: u64,
    /// Bytes read from disk (not the page cache) by the process since just before the
    /// open, at each step: what a cold open costs in I/O.
    pub disk_read: DiskRead,
}

/// Bytes read from disk since the open started, per step; `None` where the OS does not
/// say (not Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DiskRead {
    pub handle: Option<u64>,
    pub first_get: Option<u64>,
    pub first_answer: Option<u64>,
}

/// The open database, its collection and the figures.
#[derive(Debug)]
pub struct Opened {
    pub db: Database,
    pub collection: Collection,
    pub figures: OpenFigures,
}

/// Opens `dir`, takes the bench's collection, gets `probe_key` (which must exist) and
/// answers a k-NN `query`, timing and sizing each step.
pub fn measure(
    dir: &Path,
    options: Options,
    probe_key: &str,
    query: &[f32],
    k: usize,
) -> Result<Opened> {
    let rss_before = metrics::rss();
    let read_before = metrics::disk_read_bytes();
    let read_since = || Some(metrics::disk_read_bytes()?.saturating_sub(read_before?));
    let clock = Instant::now();
    let db = Database::open_with(dir, options)?;
    let collection = db.collection(COLLECTION)?;
    let handle_ms = clock.elapsed().as_secs_f64() * 1e3;
    let rss_handle = metrics::rss();
    let read_handle = read_since();

    let clock_get = Instant::now();
    let found = collection.get(probe_key)?;
    let first_get_ms = handle_ms + clock_get.elapsed().as_secs_f64() * 1e3;
    let rss_first_get = metrics::rss();
    let read_first_get = read_since();
    if found.is_none() {
        return Err(BenchError::new(format!(
            "{}: no document under key {probe_key:?}: not a database of this tool",
            dir.display()
        )));
    }

    let clock_answer = Instant::now();
    collection.search(&Search::knn(VECTOR_FIELD, query, k).no_content())?;
    let first_answer_ms = first_get_ms + clock_answer.elapsed().as_secs_f64() * 1e3;
    let rss_first_answer = metrics::rss();
    let read_first_answer = read_since();
    let records_replayed = db.recovery_report().records_replayed;
    Ok(Opened {
        db,
        collection,
        figures: OpenFigures {
            rss_before,
            handle_ms,
            rss_handle,
            first_get_ms,
            rss_first_get,
            first_answer_ms,
            rss_first_answer,
            records_replayed,
            disk_read: DiskRead {
                handle: read_handle,
                first_get: read_first_get,
                first_answer: read_first_answer,
            },
        },
    })
}

/// Number of segment directories in the database at `dir` (0 if it has none yet).
///
/// Reads the directory layout rather than asking the engine, which has no API for it:
/// this is a figure about the files, for reports only.
pub fn segment_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("segments")).map_or(0, |entries| {
        entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .count()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::IndexKind;
    use crate::fvecs::Matrix;
    use strata::Metric;

    #[test]
    fn figures_are_cumulative_and_the_probe_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let base = Matrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8]).unwrap();
        {
            let db = Database::open(&path).unwrap();
            let schema = crate::runner::schema(2, Metric::L2, IndexKind::Flat, false).unwrap();
            let collection = db.create_collection(COLLECTION, schema).unwrap();
            crate::runner::ingest(&collection, &base, None, 2).unwrap();
            db.flush().unwrap();
        }
        assert_eq!(segment_count(&path), 1);
        let opened = measure(&path, Options::default(), "0", &[1.0, 0.0], 2).unwrap();
        let figures = opened.figures;
        assert!(figures.handle_ms <= figures.first_get_ms);
        assert!(figures.first_get_ms <= figures.first_answer_ms);
        assert_eq!(figures.records_replayed, 0);
        assert_eq!(opened.collection.len().unwrap(), 3);
        drop(opened);
        let error = measure(&path, Options::default(), "nope", &[1.0, 0.0], 2).unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }
}

use super::*;
use crate::model::schema::{Metric, VectorIndex};
use crate::segment::{write_file, write_segment_seeded, SegmentRow};
use crate::HnswCompression;
use strata_storage::blocks::BlockedFile;
use strata_storage::StdFileSystem;

fn written(dir: &Path, keys: &[String]) -> (Schema, Vec<FileRecord>) {
    let schema = Schema::builder()
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    let vector = [1.0f32, 2.0];
    let rows: Vec<SegmentRow> = keys
        .iter()
        .map(|key| SegmentRow {
            key,
            values: Vec::new(),
            vectors: vec![Some(&vector[..])],
            deadline: None,
            order: 0,
        })
        .collect();
    let written = write_segment_seeded(
        &StdFileSystem,
        dir,
        &schema,
        &rows,
        None,
        HnswCompression::Sq8,
    )
    .unwrap();
    (schema, written.files)
}

fn open(dir: &Path, schema: &Schema, rows: usize, files: Vec<FileRecord>) -> Segment {
    Segment::open(Arc::new(StdFileSystem), dir, 1, schema, rows as u64, files).unwrap()
}

#[test]
fn lookups_agree_with_and_without_the_key_filter() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path().join("segment");
    let keys: Vec<String> = (0..2_000).map(|i| format!("k{i}")).collect();
    let (schema, files) = written(&dir, &keys);
    assert!(files.iter().any(|f| f.name == "keyfilter"));
    // A segment written before key filters existed: the manifest lists none.
    let without: Vec<FileRecord> = files
        .iter()
        .filter(|f| f.name != "keyfilter")
        .cloned()
        .collect();
    for segment in [
        open(&dir, &schema, keys.len(), files),
        open(&dir, &schema, keys.len(), without),
    ] {
        for (row, key) in keys.iter().enumerate() {
            assert_eq!(segment.find(key).unwrap(), Some(row as u32));
        }
        for absent in ["", "k", "k2000", "k-1", "z"] {
            assert_eq!(segment.find(absent).unwrap(), None);
        }
        segment.verify().unwrap();
    }
}

#[test]
fn a_filter_that_rejects_a_key_fails_verify() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path().join("segment");
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    let (schema, mut files) = written(&dir, &keys);
    // Well-formed and correctly checksummed, but built from other keys.
    let others: Vec<String> = (0..100).map(|i| format!("other{i}")).collect();
    let body = super::super::filter::encode(others.iter().map(|k| k.as_bytes()), 100);
    let record = write_file(&StdFileSystem, &dir, FileKind::KeyFilter, &body).unwrap();
    files.retain(|f| f.name != "keyfilter");
    files.push(record);
    let segment = open(&dir, &schema, keys.len(), files);
    let error = segment.verify().unwrap_err().to_string();
    assert!(error.contains("key filter"), "{error}");
}

#[test]
fn a_huge_deadline_count_is_an_error_not_an_overflow() {
    // No rows, no vector fields, padding, then a deadline count of u64::MAX.
    let mut body = Vec::new();
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&[0; 4]);
    body.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode_rows(&body, 0).is_err());
    let count_at = body.len() - 8;
    body[count_at..].copy_from_slice(&(u64::MAX / 16).to_le_bytes());
    assert!(decode_rows(&body, 0).is_err());
}

#[test]
fn a_key_offset_near_u64_max_is_an_error_not_an_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(StdFileSystem);
    let schema = Schema::builder()
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    let rows: Vec<SegmentRow> = ["a", "b"]
        .iter()
        .map(|key| SegmentRow {
            key,
            values: Vec::new(),
            vectors: vec![Some(&[1.0, 2.0][..])],
            deadline: None,
            order: 0,
        })
        .collect();
    let mut written = write_segment_seeded(
        fs.as_ref(),
        dir.path(),
        &schema,
        &rows,
        None,
        HnswCompression::Sq8,
    )
    .unwrap();
    // Where row 0's key ends (and row 1's starts): u64::MAX, re-sealed with valid
    // block checksums so that only the bounds checks stand between it and the read.
    let path = dir.path().join("keys");
    let kind = FileKind::Keys;
    let file = BlockedFile::open(fs.as_ref(), &path, kind.code(), kind.version()).unwrap();
    let mut data = file.all().unwrap().to_vec();
    drop(file);
    data[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let (body_len, crc) = strata_storage::blocks::write_blocked(
        fs.as_ref(),
        &path,
        kind.code(),
        kind.version(),
        &data,
    )
    .unwrap();
    assert_eq!(written.files[0].name, "keys");
    written.files[0].body_crc = crc;
    written.files[0].body_len = body_len;
    let segment = Segment::open(fs, dir.path(), 1, &schema, 2, written.files).unwrap();
    assert!(matches!(segment.key(0), Err(Error::Corrupt { .. })));
    assert!(matches!(segment.key(1), Err(Error::Corrupt { .. })));
    assert!(segment.find("b").is_err() || segment.find("b").unwrap().is_none());
    assert!(segment.verify().is_err());
}

#[test]
fn a_graph_row_no_walk_reaches_fails_verify() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path().join("segment");
    let schema = Schema::builder()
        .vector("v", 2, Metric::L2, VectorIndex::hnsw(4, 20))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("k{i:02}")).collect();
    let vectors: Vec<[f32; 2]> = (0..50).map(|i| [i as f32, (i * 7 % 11) as f32]).collect();
    let rows: Vec<SegmentRow> = keys
        .iter()
        .zip(&vectors)
        .map(|(key, vector)| SegmentRow {
            key,
            values: Vec::new(),
            vectors: vec![Some(&vector[..])],
            deadline: None,
            order: 0,
        })
        .collect();
    let mut files = write_segment_seeded(
        &StdFileSystem,
        &dir,
        &schema,
        &rows,
        None,
        // Version 1 (no codes): the offsets below are its level-0 records.
        HnswCompression::Float32,
    )
    .unwrap()
    .files;
    open(&dir, &schema, rows.len(), files.clone())
        .verify()
        .unwrap();
    // Empty every level-0 list (M0 = 8: 9 words per node from byte 128), then
    // re-checksum, so that only the reachability check can object.
    let kind = FileKind::Graph(0);
    let file = BlockedFile::open(
        &StdFileSystem,
        &dir.join(kind.file_name()),
        kind.code(),
        kind.version(),
    )
    .unwrap();
    let mut body = file.all().unwrap().to_vec();
    drop(file);
    for node in 0..rows.len() {
        let at = 128 + node * 9 * 4;
        body[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    }
    let body_crc = crc32fast::hash(&body[128..]);
    body[80..84].copy_from_slice(&body_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&body[..124]);
    body[124..128].copy_from_slice(&header_crc.to_le_bytes());
    let record = write_file(&StdFileSystem, &dir, kind, &body).unwrap();
    files.retain(|f| f.name != kind.file_name());
    files.push(record);
    let segment = open(&dir, &schema, rows.len(), files);
    match segment.verify() {
        Err(Error::Corrupt { file, reason, .. }) => {
            assert_eq!(file, dir.join(kind.file_name()));
            assert!(
                reason.contains("49 rows") && reason.contains("reached"),
                "{reason}"
            );
        }
        other => panic!("verify passed a graph with unreachable rows: {other:?}"),
    }
}

#[test]
fn an_ivfpq_file_of_version_1_is_read_and_checked_on_first_use() {
    // Version 1 had no block table. Such a file still opens (the header checked by its
    // own CRC), answers as version 2 does, and damage past the header fails the first
    // search naming the file, because the whole body is checked before any use.
    let temporary = tempfile::tempdir().unwrap();
    let dir = temporary.path().join("segment");
    let schema = Schema::builder()
        .vector("v", 8, Metric::L2, VectorIndex::ivf_pq(8, 4))
        .build()
        .unwrap();
    let count = crate::model::schema::IVF_PQ_MIN_ROWS + 3;
    let keys: Vec<String> = (0..count).map(|i| format!("k{i:05}")).collect();
    let vectors: Vec<[f32; 8]> = (0..count)
        .map(|i| std::array::from_fn(|d| ((i * 31 + d * 17) % 97) as f32 / 9.0))
        .collect();
    let rows: Vec<SegmentRow> = keys
        .iter()
        .zip(&vectors)
        .map(|(key, vector)| SegmentRow {
            key,
            values: Vec::new(),
            vectors: vec![Some(&vector[..])],
            deadline: None,
            order: 0,
        })
        .collect();
    let files = write_segment_seeded(
        &StdFileSystem,
        &dir,
        &schema,
        &rows,
        None,
        HnswCompression::Sq8,
    )
    .unwrap()
    .files;
    let params = strata_index::ivfpq::IvfPqSearch {
        nprobe: 2,
        refine: 4,
    };
    let query = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let current = open(&dir, &schema, count, files.clone());
    let expected = current
        .search_ivfpq(0, &query, 10, params, None)
        .unwrap()
        .unwrap();
    assert_eq!(expected.len(), 10);
    let kind = FileKind::IvfPq(0);
    let path = dir.join(kind.file_name());
    let file = BlockedFile::open(&StdFileSystem, &path, kind.code(), kind.version()).unwrap();
    let data = file.all().unwrap().to_vec();
    drop((file, current));

    let legacy = |data: &[u8]| -> Vec<FileRecord> {
        let crc = strata_storage::sealed::write_sealed(&StdFileSystem, &path, kind.code(), 1, data)
            .unwrap();
        let mut files = files.clone();
        let record = files
            .iter_mut()
            .find(|f| f.name == kind.file_name())
            .unwrap();
        (record.body_len, record.body_crc) = (data.len() as u64, crc);
        files
    };
    let segment = open(&dir, &schema, count, legacy(&data));
    assert_eq!(segment.ivfpq_lists(0), Some(8));
    assert_eq!(
        segment.search_ivfpq(0, &query, 10, params, None).unwrap(),
        Some(expected)
    );
    segment.verify().unwrap();
    drop(segment);

    // Damage at rest: the footer and the manifest still vouch for the intact body.
    let files = legacy(&data);
    let mut damaged = std::fs::read(&path).unwrap();
    damaged[data.len() - 1] ^= 0x40;
    std::fs::write(&path, damaged).unwrap();
    let segment = open(&dir, &schema, count, files);
    for _ in 0..2 {
        match segment.search_ivfpq(0, &query, 10, params, None) {
            Err(Error::Corrupt { file, .. }) => assert_eq!(file, path),
            other => panic!("a damaged version 1 file answered: {other:?}"),
        }
    }
    assert!(matches!(segment.verify(), Err(Error::Corrupt { .. })));
}

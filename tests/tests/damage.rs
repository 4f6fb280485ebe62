//! Damage to every kind of file a database holds (WAL, MANIFEST, and each segment's
//! keys, docs, rows, order, vectors-N, keyfilter, tags-N, numeric-N, text-N and state-N;
//! ivfpq-N in a test of its own), by every kind of damage (cuts, flipped bytes in body
//! and footer, zeroed pages, a newer format version, a missing file, a file swapped
//! with another segment's, extra files). Every case must end in one of:
//!
//! - `Error::Corrupt` / `Error::UnsupportedVersion` naming the damaged file, at open,
//!   and the refused open changes nothing on disk;
//! - for damage to a lazily read file (block-checked): an open database whose every
//!   read (get, len, ttl, search, filtered search) and write (delete, upsert, flush,
//!   reopen) answers right or fails with `Corrupt` naming that file, and whose
//!   `verify()` reports it and `compact()` reports it or rebuilds without it;
//! - a documented recovery: a torn WAL tail is cut (the data is the state after some
//!   prefix of the writes); orphans and unknown files are removed or ignored (the data
//!   is exact).
//!
//! The cases are built from one pristine database and each runs on a fresh copy.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use strata::{Database, Doc, Error, Metric, Options, Schema, Search, VectorIndex};
use strata_tests::damaged::{
    answers_or_blames, blames, build, copy_dir, key, options, writes_answer_or_blame, Model,
    Pristine, FOOTER_LEN, VECTOR_FIELDS,
};
use strata_tests::{oracle_distance, random_vectors, scratch_dir};

const PAGE: usize = 4096;
/// What a case damages, which decides what outcomes are allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    /// Replayed at open; damage is corruption or a cut torn tail.
    Wal,
    /// Read whole and checksummed at open (MANIFEST, rows, state).
    Checked,
    /// Mapped, footer checked at open, body read lazily (keys, docs, vectors).
    Lazy,
    /// Files that are not part of the database: removed or ignored.
    Extra,
}

enum Damage {
    Truncate(usize),
    Flip(usize, u8),
    ZeroPage(usize),
    /// A well-formed footer whose format version differs by this much.
    Version(i32),
    Remove,
    /// Exchange the contents with this file (the same kind in another segment).
    SwapWith(PathBuf),
    /// Create this file (relative to the database) with these bytes.
    Create(PathBuf, Vec<u8>),
    /// Copy this segment directory to a new, unlisted segment id.
    OrphanSegment(PathBuf),
}

struct Case {
    name: String,
    class: Class,
    target: PathBuf,
    damage: Damage,
    /// Files an error may name.
    blame: Vec<PathBuf>,
}

fn apply(dir: &Path, case: &Case) {
    let path = dir.join(&case.target);
    let read = || std::fs::read(&path).unwrap();
    match &case.damage {
        Damage::Truncate(len) => std::fs::write(&path, &read()[..*len]).unwrap(),
        Damage::Flip(at, mask) => {
            let mut bytes = read();
            bytes[*at] ^= mask;
            std::fs::write(&path, bytes).unwrap();
        }
        Damage::ZeroPage(page) => {
            let mut bytes = read();
            let end = ((page + 1) * PAGE).min(bytes.len());
            bytes[page * PAGE..end].fill(0);
            std::fs::write(&path, bytes).unwrap();
        }
        Damage::Version(delta) => {
            // As a newer build would write it, or an older one (before block tables).
            let mut bytes = read();
            let footer = bytes.len() - FOOTER_LEN;
            let at = footer + 12..footer + 16;
            let version = u32::from_le_bytes(bytes[at.clone()].try_into().unwrap());
            let version = version.checked_add_signed(*delta).unwrap();
            bytes[at].copy_from_slice(&version.to_le_bytes());
            let crc = crc32fast::hash(&bytes[footer..footer + 28]);
            bytes[footer + 28..].copy_from_slice(&crc.to_le_bytes());
            std::fs::write(&path, bytes).unwrap();
        }
        Damage::Remove => std::fs::remove_file(&path).unwrap(),
        Damage::SwapWith(other) => {
            let other = dir.join(other);
            let (mine, theirs) = (read(), std::fs::read(&other).unwrap());
            std::fs::write(&path, theirs).unwrap();
            std::fs::write(&other, mine).unwrap();
        }
        Damage::Create(relative, bytes) => std::fs::write(dir.join(relative), bytes).unwrap(),
        Damage::OrphanSegment(source) => {
            let orphan = dir.join("segments").join(format!("{:020}", 999));
            copy_dir(&dir.join(source), &orphan);
        }
    }
}

/// Every file under `dir` with its bytes, to tell whether anything changed.
fn image(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "LOCK") {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The offsets a flip visits: spread over the body, both ends, and the footer.
fn flip_offsets(len: usize, sealed: bool) -> Vec<usize> {
    let body = if sealed { len - FOOTER_LEN } else { len };
    let mut offsets: Vec<usize> = (0..16).map(|i| body * i / 16).collect();
    offsets.extend([1, 8, 9, 16, 24, body.saturating_sub(1)]);
    if sealed {
        offsets.extend((body..len).step_by(3));
        offsets.push(len - 1);
    }
    offsets.sort_unstable();
    offsets.dedup();
    offsets.retain(|at| *at < len);
    offsets
}

fn cases(pristine: &Pristine) -> Vec<Case> {
    let relative = |path: &Path| path.strip_prefix(&pristine.dir).unwrap().to_path_buf();
    let wal = std::fs::read_dir(&pristine.dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .find(|name| name.starts_with("wal-"))
        .map(PathBuf::from)
        .unwrap();
    let state_file = |segment: &Path| -> PathBuf {
        let name = std::fs::read_dir(segment)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .find(|name| name.starts_with("state-"))
            .expect("the segment has a state file");
        relative(&segment.join(name))
    };
    let (first, second) = (&pristine.segments[0], &pristine.segments[1]);
    let mut targets = vec![
        (wal.clone(), Class::Wal, None),
        (PathBuf::from("MANIFEST"), Class::Checked, None),
        (state_file(second), Class::Checked, Some(state_file(first))),
    ];
    for (name, class) in [
        ("keys", Class::Lazy),
        ("docs", Class::Lazy),
        ("rows", Class::Checked),
        ("order", Class::Lazy),
        ("vectors-3", Class::Lazy),
        ("vectors-4", Class::Lazy),
        ("keyfilter", Class::Lazy),
        ("tags-1", Class::Lazy),
        ("numeric-2", Class::Lazy),
        ("text-0", Class::Lazy),
    ] {
        let partner = relative(&first.join(name));
        targets.push((relative(&second.join(name)), class, Some(partner)));
    }

    let mut cases = Vec::new();
    for (target, class, partner) in targets {
        let len = std::fs::metadata(pristine.dir.join(&target)).unwrap().len() as usize;
        let sealed = class != Class::Wal;
        let mut push = |name: String, damage: Damage, blame: Vec<PathBuf>| {
            cases.push(Case {
                name: format!("{}: {name}", target.display()),
                class,
                target: target.clone(),
                damage,
                blame,
            })
        };
        let me = vec![target.clone()];
        let mut lengths = vec![0, 1, len / 2, len - 1];
        if sealed {
            lengths.extend([len - FOOTER_LEN, len - FOOTER_LEN - 1]);
        } else {
            lengths.extend([32, 40, len - 7]);
        }
        for cut in lengths {
            push(
                format!("cut to {cut} bytes"),
                Damage::Truncate(cut),
                me.clone(),
            );
        }
        for (n, at) in flip_offsets(len, sealed).into_iter().enumerate() {
            let mask = [0x01, 0x80, 0xFF][n % 3];
            push(
                format!("flip {mask:#04x} at {at}"),
                Damage::Flip(at, mask),
                me.clone(),
            );
        }
        for page in [0, (len - 1) / PAGE] {
            push(
                format!("zero page {page}"),
                Damage::ZeroPage(page),
                me.clone(),
            );
        }
        push("missing".into(), Damage::Remove, me.clone());
        if sealed {
            push("newer version".into(), Damage::Version(1), me.clone());
        }
        if class == Class::Lazy {
            push("older version".into(), Damage::Version(-1), me.clone());
        }
        if let Some(partner) = partner {
            let blame = vec![target.clone(), partner.clone()];
            push(
                format!("swapped with {}", partner.display()),
                Damage::SwapWith(partner),
                blame,
            );
        }
    }

    let extra = |name: &str, damage: Damage| Case {
        name: name.to_string(),
        class: Class::Extra,
        target: PathBuf::new(),
        damage,
        blame: Vec::new(),
    };
    let in_segment = relative(second);
    cases.extend([
        extra("orphan segment", Damage::OrphanSegment(relative(first))),
        extra(
            "unknown file",
            Damage::Create("notes.txt".into(), b"hello".to_vec()),
        ),
        extra(
            "empty unknown file",
            Damage::Create("empty".into(), Vec::new()),
        ),
        extra(
            "unknown file in a segment",
            Damage::Create(in_segment.join("extra"), vec![7; 100]),
        ),
        extra(
            "stale state file",
            Damage::Create(in_segment.join(format!("state-{:020}", 77)), vec![1; 9]),
        ),
        extra(
            "half-written manifest",
            Damage::Create("MANIFEST.tmp".into(), vec![3; 50]),
        ),
        extra(
            "half-created WAL",
            Damage::Create(format!("{}.tmp", wal.display()).into(), vec![]),
        ),
    ]);
    // A stray WAL file past a gap in the sequence is corruption of that file.
    let stray = PathBuf::from(format!("wal-{:020}.log", 9_999));
    cases.push(Case {
        name: "stray WAL file after a gap".into(),
        class: Class::Wal,
        target: stray.clone(),
        damage: Damage::Create(
            stray.clone(),
            std::fs::read(pristine.dir.join(&wal)).unwrap(),
        ),
        blame: vec![stray],
    });
    cases
}

/// Compares everything a reader can see with `model`; `Err` says what differs.
fn matches_model(db: &Database, model: &Model, all_keys: &[String]) -> Result<(), String> {
    let docs = db.collection("docs").map_err(|e| e.to_string())?;
    let len = docs.len().map_err(|e| e.to_string())?;
    if len != model.len() {
        return Err(format!("len {len}, expected {}", model.len()));
    }
    for key in all_keys {
        let got = docs.get(key).map_err(|e| format!("get {key}: {e}"))?;
        if got.as_ref() != model.get(key) {
            return Err(format!("get {key}: {got:?}"));
        }
    }
    for (field, dim, metric) in VECTOR_FIELDS {
        for query in random_vectors(dim as u64, 2, dim) {
            let hits = docs
                .search(&Search::knn(field, &query, 6).no_content())
                .map_err(|e| format!("search {field}: {e}"))?;
            let mut truth: Vec<(f64, &String)> = model
                .iter()
                .filter_map(|(key, doc)| {
                    Some((oracle_distance(metric, &query, doc.get_vector(field)?), key))
                })
                .collect();
            truth.sort_by(|a, b| a.0.total_cmp(&b.0));
            truth.truncate(6);
            let same = hits.len() == truth.len()
                && hits.iter().zip(&truth).all(|(hit, (distance, key))| {
                    hit.key == **key && (hit.distance as f64 - distance).abs() < 1e-4
                });
            if !same {
                return Err(format!("search {field}: {hits:?} vs {truth:?}"));
            }
        }
    }
    Ok(())
}

/// Runs every read; each must succeed or fail with `Corrupt` naming a blamed file.
fn reads_fail_cleanly(
    db: &Database,
    all_keys: &[String],
    ok: &dyn Fn(&Error) -> bool,
) -> Result<(), String> {
    let docs = db.collection("docs").map_err(|e| e.to_string())?;
    let check = |what: String, result: Result<(), Error>| match result {
        Err(error) if !ok(&error) => Err(format!("{what}: unexpected error {error:?}")),
        _ => Ok(()),
    };
    check("len".into(), docs.len().map(drop))?;
    for key in all_keys {
        check(format!("get {key}"), docs.get(key).map(drop))?;
        check(format!("ttl {key}"), docs.ttl(key).map(drop))?;
    }
    for (field, dim, _) in VECTOR_FIELDS {
        for query in random_vectors(dim as u64, 2, dim) {
            for k in [1, 50] {
                check(
                    format!("search {field}"),
                    docs.search(&Search::knn(field, &query, k)).map(drop),
                )?;
            }
        }
    }
    Ok(())
}

fn run_case(pristine: &Pristine, case: &Case, all_keys: &[String]) -> Result<&'static str, String> {
    let root = scratch_dir();
    let dir = root.path().join("db");
    copy_dir(&pristine.dir, &dir);
    let before = image(&dir);
    apply(&dir, case);
    let damaged = image(&dir);
    if damaged == before {
        return Ok("no change");
    }
    let blamed = |error: &Error| blames(error, &dir, &case.blame);
    let db = match Database::open_with(&dir, options()) {
        Err(error) if blamed(&error) => {
            if image(&dir) != damaged {
                return Err("a refused open changed the files".into());
            }
            return Ok("refused at open");
        }
        Err(error) => return Err(format!("open: unexpected error {error:?}")),
        Ok(db) => db,
    };
    if matches!(case.damage, Damage::Remove) {
        return Err("open accepted a database with a file missing".into());
    }
    match case.class {
        Class::Checked => Err("open accepted a damaged file it reads whole".into()),
        Class::Wal => {
            // A torn tail: the state after some prefix of the writes the WAL holds.
            if !pristine
                .snapshots
                .iter()
                .any(|model| matches_model(&db, model, all_keys).is_ok())
            {
                let diff = matches_model(&db, pristine.final_model(), all_keys);
                return Err(format!("data is no prefix of the writes: {diff:?}"));
            }
            db.verify()
                .map_err(|e| format!("verify after recovery: {e}"))?;
            Ok("recovered a prefix")
        }
        Class::Extra => {
            matches_model(&db, pristine.final_model(), all_keys)?;
            db.verify().map_err(|e| format!("verify: {e}"))?;
            if dir.join("segments").join(format!("{:020}", 999)).exists() {
                return Err("the orphan segment is still there".into());
            }
            Ok("ignored")
        }
        Class::Lazy => {
            // Every answer is right or names the damaged file; none comes from bytes
            // that no checksum vouched for.
            reads_fail_cleanly(&db, all_keys, &blamed)?;
            answers_or_blames(&db, pristine.final_model(), all_keys, &blamed)?;
            match db.verify() {
                Err(error) if blamed(&error) => {}
                other => return Err(format!("verify: {other:?}")),
            }
            // Compaction reads every row: it must not launder damage into a new,
            // correctly checksummed segment. It does not read the key filter or the
            // TAG, NUMERIC and TEXT indexes (it rebuilds them from the documents), so with
            // damage there it may succeed, and then the damaged file is gone.
            match db.compact() {
                Err(error) if blamed(&error) => {}
                Ok(())
                    if ["keyfilter", "tags-1", "numeric-2", "text-0"]
                        .iter()
                        .any(|name| case.target.ends_with(name)) => {}
                other => return Err(format!("compact: {other:?}")),
            }
            reads_fail_cleanly(&db, all_keys, &blamed)?;
            answers_or_blames(&db, pristine.final_model(), all_keys, &blamed)?;
            drop(db);
            writes_answer_or_blame(&dir, pristine.final_model().clone(), all_keys, &blamed)?;
            Ok("caught by verify")
        }
    }
}

#[test]
fn every_damage_to_every_file_is_caught_or_recovered() {
    let pristine = build();
    let all_keys: Vec<String> = (0..24).chain(100..103).map(key).collect();
    {
        // The pristine copy itself is healthy and matches the model.
        let db = Database::open_with(&pristine.dir, options()).unwrap();
        matches_model(&db, pristine.final_model(), &all_keys).unwrap();
        db.verify().unwrap();
    }
    let cases = cases(&pristine);
    let mut failures = Vec::new();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        let outcome = catch_unwind(AssertUnwindSafe(|| run_case(&pristine, case, &all_keys)));
        match outcome {
            Ok(Ok(outcome)) => *outcomes.entry(outcome).or_default() += 1,
            Ok(Err(why)) => failures.push(format!("{}: {why}", case.name)),
            Err(_) => failures.push(format!("{}: PANIC", case.name)),
        }
    }
    eprintln!("{} cases: {outcomes:?}", cases.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for outcome in [
        "refused at open",
        "recovered a prefix",
        "ignored",
        "caught by verify",
    ] {
        assert!(
            outcomes.contains_key(outcome),
            "no case ended in {outcome:?}: {outcomes:?}"
        );
    }
}

// Regressions, one per engine bug this test found. Each runs one case of the table.

fn single_case(target: &str, damage: impl Fn(&Pristine) -> Damage) -> Result<&'static str, String> {
    let pristine = build();
    let all_keys: Vec<String> = (0..24).chain(100..103).map(key).collect();
    let case = cases(&pristine)
        .into_iter()
        .find(|case| case.target.to_string_lossy().ends_with(target))
        .unwrap();
    let damage = damage(&pristine);
    let mut blame = case.blame.clone();
    if let Damage::SwapWith(partner) = &damage {
        blame.push(partner.clone());
    }
    let case = Case {
        damage,
        blame,
        ..case
    };
    run_case(&pristine, &case, &all_keys)
}

#[test]
fn segment_damage_met_during_wal_replay_names_the_segment_file() {
    // The WAL's writes locate their keys in the segments; damaged keys offsets used to
    // come back as `Corrupt` naming the database directory.
    // Since segments carry a key filter, replaying writes of keys a segment does not
    // hold may never read its key file; then verify() is what meets the damage. Either
    // way the error must name the segment's file (run_case checks the blame).
    let outcome = single_case("00000000000000000002/keys", |_| Damage::Flip(8, 0xFF));
    assert!(
        matches!(outcome, Ok("refused at open") | Ok("caught by verify")),
        "{outcome:?}"
    );
}

#[test]
fn a_missing_segment_file_is_corruption_not_an_io_error() {
    let outcome = single_case("00000000000000000002/keys", |_| Damage::Remove);
    assert_eq!(outcome, Ok("refused at open"));
}

#[test]
fn state_files_swapped_between_segments_are_refused() {
    // Both are intact, so only the manifest's record of each can tell them apart; the
    // swapped deletions used to be applied to the wrong rows.
    let outcome = single_case("00000000000000000002/state-00000000000000000001", |p| {
        Damage::SwapWith(
            p.segments[0]
                .strip_prefix(&p.dir)
                .unwrap()
                .join("state-00000000000000000001"),
        )
    });
    assert_eq!(outcome, Ok("refused at open"));
}

#[test]
fn compaction_does_not_launder_a_damaged_vector_into_a_fresh_segment() {
    let outcome = single_case("00000000000000000002/vectors-3", |_| Damage::Flip(40, 0x80));
    assert_eq!(outcome, Ok("caught by verify"));
}

#[test]
fn a_missing_manifest_is_refused_and_no_segment_is_removed() {
    // Used to remove every segment as an orphan, then fail naming the WAL.
    let outcome = single_case("MANIFEST", |_| Damage::Remove);
    assert_eq!(outcome, Ok("refused at open"));
}

#[test]
fn a_missing_wal_is_refused_unless_truncation_is_accepted() {
    // Used to open as if nothing had been written since the last flush.
    let outcome = single_case("log", |_| Damage::Remove);
    assert_eq!(outcome, Ok("refused at open"));

    let pristine = build();
    let root = scratch_dir();
    let dir = root.path().join("db");
    copy_dir(&pristine.dir, &dir);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let db = Database::open_with(
        &dir,
        Options {
            recovery: strata::Recovery::TruncateAtCorruption,
            ..options()
        },
    )
    .unwrap();
    let cut = db
        .recovery_report()
        .cut
        .clone()
        .expect("the loss is reported");
    assert!(cut.corruption.is_some(), "{cut:?}");
    let all_keys: Vec<String> = (0..24).chain(100..103).map(key).collect();
    matches_model(&db, &pristine.snapshots[0], &all_keys).unwrap();
}

#[test]
fn a_segment_file_of_the_format_before_block_tables_is_refused_with_what_to_do() {
    let pristine = build();
    for name in [
        "keys",
        "docs",
        "vectors-3",
        "keyfilter",
        "tags-1",
        "numeric-2",
    ] {
        let root = scratch_dir();
        let dir = root.path().join("db");
        copy_dir(&pristine.dir, &dir);
        let target = pristine.segments[1]
            .strip_prefix(&pristine.dir)
            .unwrap()
            .join(name);
        let case = Case {
            name: name.into(),
            class: Class::Lazy,
            target: target.clone(),
            damage: Damage::Version(-1),
            blame: vec![target.clone()],
        };
        apply(&dir, &case);
        match Database::open_with(&dir, options()) {
            Err(
                error @ Error::UnsupportedVersion {
                    found: 1,
                    supported: 2,
                    ..
                },
            ) => {
                assert!(blames(&error, &dir, &case.blame), "{name}: {error:?}");
                assert!(error.to_string().contains("export"), "{error}");
            }
            other => panic!("{name}: expected UnsupportedVersion, got {:?}", other.err()),
        }
    }
}

/// The IVF-PQ file is written only for segments of `IVF_PQ_MIN_ROWS` rows, more than
/// the table above builds, so it has its own pristine database; the same damages.
/// The file is block-checked, so damage anywhere in it is refused at open (footer,
/// block table, header) or by the first search that uses the index, naming the file
/// every time (never an answer from damaged codes), and `verify` reports it.
#[test]
fn every_damage_to_an_ivfpq_file_is_refused_at_open_or_first_use() {
    let root = scratch_dir();
    let pristine = root.path().join("db");
    let count = strata::IVF_PQ_MIN_ROWS + 10;
    // 64 dimensions in 16 bytes per code: about 170 KB, three 64 KiB blocks, so some
    // damage passes the open (which checks the header's block) and meets a search.
    const DIM: usize = 64;
    let vectors = random_vectors(77, count, DIM);
    {
        let db = Database::open_with(&pristine, options()).unwrap();
        let schema = Schema::builder()
            .vector("v", DIM, Metric::L2, VectorIndex::ivf_pq(16, 16))
            .build()
            .unwrap();
        let docs = db.create_collection("docs", schema).unwrap();
        docs.upsert_many(
            vectors
                .iter()
                .enumerate()
                .map(|(i, v)| (key(i as u64), Doc::new().vector("v", v.clone()))),
        )
        .unwrap();
        db.flush().unwrap();
    }
    let mut indexes: Vec<PathBuf> = std::fs::read_dir(pristine.join("segments"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("ivfpq-0"))
        .filter(|path| path.exists())
        .collect();
    assert_eq!(indexes.len(), 1, "one segment large enough to train");
    let target = indexes
        .remove(0)
        .strip_prefix(&pristine)
        .unwrap()
        .to_path_buf();
    let len = std::fs::metadata(pristine.join(&target)).unwrap().len() as usize;
    let mut damages: Vec<(String, Damage)> = Vec::new();
    for cut in [
        0,
        1,
        len / 2,
        len - 1,
        len - FOOTER_LEN,
        len - FOOTER_LEN - 1,
    ] {
        damages.push((format!("cut to {cut}"), Damage::Truncate(cut)));
    }
    for (n, at) in flip_offsets(len, true).into_iter().enumerate() {
        let mask = [0x01, 0x80, 0xFF][n % 3];
        damages.push((format!("flip {mask:#04x} at {at}"), Damage::Flip(at, mask)));
    }
    // Inside the 128-byte header of the index: caught by its own CRC at open.
    damages.push(("flip in the index header".into(), Damage::Flip(20, 0x01)));
    for page in [0, (len - 1) / PAGE] {
        damages.push((format!("zero page {page}"), Damage::ZeroPage(page)));
    }
    damages.push(("missing".into(), Damage::Remove));
    damages.push(("newer version".into(), Damage::Version(1)));
    // Version 1 is still read (no block table; its body checked whole on first use),
    // so a version 2 body under a version 1 footer must be refused, not decoded.
    damages.push(("older version".into(), Damage::Version(-1)));

    let queries = random_vectors(78, 3, DIM);
    let mut failures = Vec::new();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, damage) in damages {
        let case = Case {
            name,
            class: Class::Lazy,
            target: target.clone(),
            damage,
            blame: vec![target.clone()],
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<&'static str, String> {
            let root = scratch_dir();
            let dir = root.path().join("db");
            copy_dir(&pristine, &dir);
            apply(&dir, &case);
            let damaged = image(&dir);
            let blamed = |error: &Error| blames(error, &dir, &case.blame);
            let db = match Database::open_with(&dir, options()) {
                Err(error) if blamed(&error) => {
                    if image(&dir) != damaged {
                        return Err("a refused open changed the files".into());
                    }
                    return Ok("refused at open");
                }
                Err(error) => return Err(format!("open: unexpected error {error:?}")),
                Ok(db) => db,
            };
            if matches!(case.damage, Damage::Remove) {
                return Err("open accepted a database with its index missing".into());
            }
            let docs = db.collection("docs").map_err(|e| e.to_string())?;
            // Every search goes through the index (`BATCHES`), and every one fails:
            // a failed block is not remembered as good.
            for query in &queries {
                for k in [1, 10, 100] {
                    let request = Search::knn("v", query, k).nprobe(4).brute_force(false);
                    match docs.search(&request) {
                        Err(error) if blamed(&error) => {}
                        other => return Err(format!("search k = {k}: {other:?}")),
                    }
                }
            }
            match db.verify() {
                Err(error) if blamed(&error) => Ok("refused at first use"),
                other => Err(format!("verify: {other:?}")),
            }
        }));
        match outcome {
            Ok(Ok(outcome)) => *outcomes.entry(outcome).or_default() += 1,
            Ok(Err(why)) => failures.push(format!("{}: {why}", case.name)),
            Err(_) => failures.push(format!("{}: PANIC", case.name)),
        }
    }
    eprintln!("ivfpq damage: {outcomes:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        outcomes.contains_key("refused at open") && outcomes.contains_key("refused at first use")
    );
}

//! The live memtable against a naive oracle (every reader method, at random horizons),
//! and under one writer racing three readers.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::LiveMemtable;
use crate::model::codec::Record;
use crate::model::doc::{Doc, Value};
use crate::model::schema::{Metric, Schema, TagOptions, VectorIndex};

/// SplitMix64: a seeded, dependency-free generator, so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn float(&mut self) -> f32 {
        (self.below(2001) as f32 - 1000.0) / 100.0
    }
}

// Field positions of `model_schema`.
const BODY: u16 = 0;
const COLOR: u16 = 1;
const LABEL: u16 = 2;
const PRICE: u16 = 3;
const V: u16 = 4;
const RANK: u16 = 5;
const W: u16 = 6;

fn model_schema() -> Schema {
    Schema::builder()
        .text("body")
        .tag("color")
        .tag_with(
            "label",
            TagOptions {
                separator: '|',
                case_sensitive: true,
            },
        )
        .numeric("price")
        .vector("v", 4, Metric::L2, VectorIndex::flat())
        .numeric("rank")
        .vector("w", 3, Metric::Cosine, VectorIndex::hnsw(8, 20))
        .build()
        .unwrap()
}

const COLORS: [&str; 6] = ["red", "Red", " blue", "green ", "", "x y"];
const NUMBERS: [f64; 8] = [
    0.0,
    -0.0,
    1.5,
    -2.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    7.0,
];

fn random_record(rng: &mut Rng) -> Record {
    let mut values = Vec::new();
    if rng.chance(50) {
        values.push((BODY, Value::Text(format!("text {}", rng.below(100)))));
    }
    if rng.chance(80) {
        let count = 1 + rng.below(3);
        let tags: Vec<&str> = (0..count)
            .map(|_| COLORS[rng.below(COLORS.len() as u64) as usize])
            .collect();
        values.push((COLOR, Value::Tag(tags.join(","))));
    }
    if rng.chance(60) {
        let tags = ["A", "a", "B|A", "c||A"][rng.below(4) as usize];
        values.push((LABEL, Value::Tag(tags.to_string())));
    }
    if rng.chance(80) {
        let number = if rng.chance(50) {
            NUMBERS[rng.below(NUMBERS.len() as u64) as usize]
        } else {
            rng.below(20) as f64 - 10.0
        };
        values.push((PRICE, Value::Numeric(number)));
    }
    if rng.chance(85) {
        values.push((V, Value::Vector((0..4).map(|_| rng.float()).collect())));
    }
    if rng.chance(40) {
        values.push((RANK, Value::Numeric(rng.below(5) as f64)));
    }
    if rng.chance(30) {
        values.push((W, Value::Vector((0..3).map(|_| rng.float()).collect())));
    }
    Record {
        values,
        deadline: None,
    }
}

/// What was appended, slot by slot.
struct Appended {
    key: String,
    record: Record,
    deadline: Option<u64>,
}

/// The naive split of a TAG value: separator, trim, drop empties, lowercase unless
/// case-sensitive.
fn naive_tags(raw: &str, separator: char, case_sensitive: bool) -> Vec<String> {
    raw.split(separator)
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(|tag| {
            if case_sensitive {
                tag.to_string()
            } else {
                tag.to_lowercase()
            }
        })
        .collect()
}

fn naive_in_range(value: f64, low: Bound<f64>, high: Bound<f64>) -> bool {
    // IEEE comparisons already give -0.0 == 0.0 and make every NaN comparison false.
    let low_ok = match low {
        Bound::Included(b) => value >= b,
        Bound::Excluded(b) => value > b,
        Bound::Unbounded => true,
    };
    let high_ok = match high {
        Bound::Included(b) => value <= b,
        Bound::Excluded(b) => value < b,
        Bound::Unbounded => true,
    };
    !value.is_nan() && low_ok && high_ok
}

fn value_of(record: &Record, field: u16) -> Option<&Value> {
    record
        .values
        .iter()
        .find(|(position, _)| *position == field)
        .map(|(_, value)| value)
}

fn vector_of(record: &Record, field: u16) -> Option<&[f32]> {
    match value_of(record, field)? {
        Value::Vector(vector) => Some(vector),
        _ => None,
    }
}

fn bitmap(slots: impl IntoIterator<Item = u32>) -> RoaringBitmap {
    slots.into_iter().collect()
}

fn random_bound(rng: &mut Rng) -> Bound<f64> {
    let value = NUMBERS[rng.below(NUMBERS.len() as u64) as usize];
    match rng.below(3) {
        0 => Bound::Included(value),
        1 => Bound::Excluded(value),
        _ => Bound::Unbounded,
    }
}

/// Every reader method at `horizon` against the oracle built from `log[..horizon]`.
fn check_at(
    memtable: &LiveMemtable,
    schema: &Schema,
    log: &[Appended],
    horizon: u32,
    rng: &mut Rng,
) {
    let seen = &log[..horizon as usize];
    let slots = 0..horizon;

    for key in (0..40).map(|k| format!("key:{k}")) {
        let expected = seen.iter().rposition(|a| a.key == key).map(|s| s as u32);
        assert_eq!(
            memtable.newest_slot(&key, horizon),
            expected,
            "{key} at {horizon}"
        );
    }
    assert_eq!(memtable.newest_slot("never", horizon), None);

    for (slot, appended) in seen.iter().enumerate() {
        let slot = slot as u32;
        assert_eq!(memtable.key(slot), Some(appended.key.as_str()));
        assert_eq!(memtable.deadline(slot), appended.deadline);
        let full = schema
            .fields()
            .iter()
            .enumerate()
            .filter_map(|(position, field)| {
                Some((
                    position,
                    field.name.clone(),
                    value_of(&appended.record, position as u16)?.clone(),
                ))
            })
            .collect::<Vec<_>>();
        let doc_of = |keep: &dyn Fn(usize) -> bool| {
            full.iter()
                .filter(|(position, _, _)| keep(*position))
                .fold(Doc::new(), |doc, (_, name, value)| {
                    doc.with(name, value.clone())
                })
        };
        // Compared as printed (both in schema order): a NaN number is unequal to itself.
        assert_eq!(
            format!("{:?}", memtable.document(slot, schema, None)),
            format!("{:?}", doc_of(&|_| true))
        );
        let projection: Vec<usize> = (0..schema.fields().len())
            .filter(|_| rng.chance(40))
            .collect();
        assert_eq!(
            format!("{:?}", memtable.document(slot, schema, Some(&projection))),
            format!("{:?}", doc_of(&|position| projection.contains(&position)))
        );
        for field in [V, W] {
            assert_eq!(
                memtable.vector(field, slot),
                vector_of(&appended.record, field)
            );
        }
    }

    for (field, separator, case_sensitive) in [(COLOR, ',', false), (LABEL, '|', true)] {
        for tag in [
            "red", "Red", "blue", "green", "x y", "a", "A", "B", "c", "absent",
        ] {
            let expected = bitmap(slots.clone().filter(|&slot| {
                match value_of(&seen[slot as usize].record, field) {
                    Some(Value::Tag(raw)) => naive_tags(raw, separator, case_sensitive)
                        .iter()
                        .any(|t| t == tag),
                    _ => false,
                }
            }));
            assert_eq!(
                memtable.tag_rows(field, tag, horizon),
                expected,
                "tag {tag:?}"
            );
        }
    }

    for _ in 0..12 {
        let (low, high) = (random_bound(rng), random_bound(rng));
        for field in [PRICE, RANK] {
            let expected = bitmap(slots.clone().filter(|&slot| {
                match value_of(&seen[slot as usize].record, field) {
                    Some(Value::Numeric(value)) => naive_in_range(*value, low, high),
                    _ => false,
                }
            }));
            assert_eq!(
                memtable.numeric_rows(field, low, high, horizon),
                expected,
                "{low:?}..{high:?}"
            );
        }
    }

    for field in [V, W] {
        let expected = bitmap(
            slots
                .clone()
                .filter(|&slot| vector_of(&seen[slot as usize].record, field).is_some()),
        );
        assert_eq!(memtable.present(field, horizon), expected);
    }
    // Fields of other kinds have no vectors, tags or numbers.
    assert!(memtable.column(BODY).is_none() && memtable.column(99).is_none());
    assert!(memtable.present(BODY, horizon).is_empty());
    assert!(memtable.tag_rows(PRICE, "red", horizon).is_empty());
    assert!(memtable
        .numeric_rows(COLOR, Bound::Unbounded, Bound::Unbounded, horizon)
        .is_empty());

    let expected: Vec<(u32, u64)> = seen
        .iter()
        .enumerate()
        .filter_map(|(slot, a)| Some((slot as u32, a.deadline?)))
        .collect();
    assert_eq!(
        memtable.with_deadlines(horizon).collect::<Vec<_>>(),
        expected
    );

    let rows = memtable.segment_rows(horizon);
    assert_eq!(rows.len(), seen.len());
    for (row, appended) in rows.iter().zip(seen) {
        assert_eq!(row.key, appended.key);
        assert_eq!(row.deadline, appended.deadline);
        let values: Vec<(u16, Value)> = row
            .values
            .iter()
            .map(|(field, value)| {
                (
                    *field,
                    value
                        .clone()
                        .into_value(crate::model::schema::FieldKind::Text(Default::default())),
                )
            })
            .collect();
        let expected_values: Vec<(u16, Value)> = appended
            .record
            .values
            .iter()
            .filter(|(_, value)| !matches!(value, Value::Vector(_)))
            .cloned()
            .collect();
        assert_eq!(format!("{values:?}"), format!("{expected_values:?}"));
        assert_eq!(
            row.vectors,
            vec![
                vector_of(&appended.record, V),
                vector_of(&appended.record, W)
            ]
        );
    }
}

#[test]
fn every_reader_method_matches_a_naive_oracle_at_random_horizons() {
    for seed in 0..4 {
        let mut rng = Rng(seed);
        let schema = model_schema();
        // A small capacity hint: the memtable must grow past it.
        let memtable = LiveMemtable::new(&schema, 16);
        let mut log = Vec::new();
        let mut bytes = 0;
        for _ in 0..700 {
            let key = format!("key:{}", rng.below(40));
            let record = random_record(&mut rng);
            let deadline = rng.chance(25).then(|| rng.below(1_000_000));
            bytes += key.len()
                + record
                    .values
                    .iter()
                    .map(|(_, v)| v.stored_bytes())
                    .sum::<usize>();
            log.push(Appended {
                key: key.clone(),
                record: record.clone(),
                deadline,
            });
            let slot = memtable.append(key, record, deadline, 0);
            assert_eq!(slot as usize, log.len() - 1);
            assert_eq!(memtable.appended() as usize, log.len());
            assert_eq!(memtable.bytes_written(), bytes);
            if rng.chance(3) {
                let horizon = rng.below(log.len() as u64 + 1) as u32;
                check_at(&memtable, &schema, &log, horizon, &mut rng);
            }
        }
        let all = log.len() as u32;
        let (v, w) = (memtable.column(V).unwrap(), memtable.column(W).unwrap());
        assert_eq!((v.dim(), v.metric()), (4, Metric::L2));
        assert_eq!((w.dim(), w.metric()), (3, Metric::Cosine));
        check_at(&memtable, &schema, &log, all, &mut rng);
        check_at(&memtable, &schema, &log, 0, &mut rng);
        // Slots never appended read as absent, not as a panic.
        assert_eq!(memtable.key(all), None);
        assert_eq!(memtable.deadline(all), None);
        assert_eq!(memtable.vector(V, all), None);
        assert!(memtable.document(all, &schema, None).is_empty());
        // A horizon past what was appended sees what was appended.
        assert_eq!(memtable.segment_rows(all + 10).len(), log.len());
        assert_eq!(memtable.present(V, u32::MAX), memtable.present(V, all));
    }
}

// Field positions of `race_schema`.
const RACE_TAG: u16 = 0;
const RACE_NUM: u16 = 1;
const RACE_VEC: u16 = 2;
const RACE_DIM: usize = 8;
const RACE_ROWS: u32 = 50_000;
const RACE_KEYS: u32 = 5_000;

fn race_schema() -> Schema {
    Schema::builder()
        .tag("t")
        .numeric("n")
        .vector("v", RACE_DIM, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap()
}

/// Row `slot` of the race is a function of its slot, so a reader can check any
/// answer without sharing the writer's log.
fn race_key(slot: u32) -> String {
    format!("k{}", slot % RACE_KEYS)
}

fn race_vector(slot: u32) -> Option<Vec<f32>> {
    (slot % 10 != 9).then(|| {
        (0..RACE_DIM)
            .map(|i| (slot * 16 + i as u32) as f32)
            .collect()
    })
}

fn race_record(slot: u32) -> Record {
    let mut values = vec![
        (RACE_TAG, Value::Tag(format!("t{}", slot % 7))),
        (RACE_NUM, Value::Numeric(f64::from(slot))),
    ];
    if let Some(vector) = race_vector(slot) {
        values.push((RACE_VEC, Value::Vector(vector)));
    }
    Record {
        values,
        deadline: None,
    }
}

/// Checks a reader's view at `horizon`; `probe` picks which slots and keys to look at.
fn check_race(memtable: &LiveMemtable, schema: &Schema, horizon: u32, probe: u32) {
    if horizon == 0 {
        assert_eq!(memtable.newest_slot(&race_key(0), 0), None);
        return;
    }
    for slot in [probe % horizon, horizon - 1, (probe / 3) % horizon] {
        assert_eq!(memtable.key(slot), Some(race_key(slot).as_str()));
        assert_eq!(
            memtable.vector(RACE_VEC, slot),
            race_vector(slot).as_deref()
        );
        let doc = memtable.document(slot, schema, None);
        assert_eq!(doc.get_tag("t"), Some(format!("t{}", slot % 7).as_str()));
        assert_eq!(doc.get_numeric("n"), Some(f64::from(slot)));
        assert_eq!(doc.get_vector("v"), race_vector(slot).as_deref());
        let k = slot % RACE_KEYS;
        let newest = k + (horizon - 1 - k) / RACE_KEYS * RACE_KEYS;
        assert_eq!(memtable.newest_slot(&race_key(slot), horizon), Some(newest));
        assert_eq!(
            memtable.deadline(slot),
            (slot % 3 == 0).then_some(u64::from(slot))
        );
    }
    // Keys the writer is appending right now: their newest slot in the map may already
    // be at or above the horizon, so the answer must come from the previous-slot chain.
    for ahead in horizon..horizon + 3 {
        assert_eq!(
            memtable.newest_slot(&race_key(ahead), horizon),
            ahead.checked_sub(RACE_KEYS)
        );
    }
    let tag = probe % 7;
    assert_eq!(
        memtable.tag_rows(RACE_TAG, &format!("t{tag}"), horizon),
        bitmap((tag..horizon).step_by(7))
    );
    let (low, high) = (probe % horizon, probe % horizon + 500);
    assert_eq!(
        memtable.numeric_rows(
            RACE_NUM,
            Bound::Included(f64::from(low)),
            Bound::Excluded(f64::from(high)),
            horizon
        ),
        bitmap(low..high.min(horizon))
    );
    assert_eq!(
        memtable.present(RACE_VEC, horizon),
        bitmap((0..horizon).filter(|slot| slot % 10 != 9))
    );
    assert_eq!(
        memtable.with_deadlines(horizon).count() as u32,
        horizon.div_ceil(3)
    );
}

#[test]
fn readers_racing_one_writer_see_exactly_the_rows_below_their_horizon() {
    let schema = race_schema();
    let memtable = Arc::new(LiveMemtable::new(&schema, 1_000));
    let horizon = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|reader| {
            let (memtable, schema) = (Arc::clone(&memtable), schema.clone());
            let (horizon, done) = (Arc::clone(&horizon), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut rng = Rng(reader);
                let mut checks = 0u64;
                loop {
                    // Read `done` first: a final pass after it sees the last horizon.
                    let finished = done.load(Ordering::Acquire);
                    let h = horizon.load(Ordering::Acquire);
                    check_race(&memtable, &schema, h, rng.next() as u32);
                    checks += 1;
                    if finished {
                        assert_eq!(h, RACE_ROWS);
                        return checks;
                    }
                }
            })
        })
        .collect();
    for slot in 0..RACE_ROWS {
        let deadline = (slot % 3 == 0).then_some(u64::from(slot));
        assert_eq!(
            memtable.append(race_key(slot), race_record(slot), deadline, 0),
            slot
        );
        horizon.store(slot + 1, Ordering::Release);
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        let checks = reader.join().expect("a reader panicked");
        assert!(checks > 0);
    }
    assert_eq!(memtable.segment_rows(RACE_ROWS).len(), RACE_ROWS as usize);
}

fn record(values: Vec<(u16, Value)>) -> Record {
    Record {
        values,
        deadline: None,
    }
}

/// An update that keeps a key's vectors shares the graph node of the key's row; one
/// that changes any vector, or a row of another key, gets its own.
#[test]
fn an_update_keeping_every_vector_shares_the_node_of_its_keys_row() {
    let schema = model_schema();
    let memtable = LiveMemtable::new(&schema, 16);
    let v = |x: f32| (V, Value::Vector(vec![x, 0.0, 0.0, 1.0]));
    let w = |x: f32| (W, Value::Vector(vec![x, 1.0, 0.0]));
    let a0 = memtable.append(
        "a".into(),
        record(vec![(COLOR, Value::Tag("red".into())), v(1.0), w(1.0)]),
        None,
        0,
    );
    let b0 = memtable.append("b".into(), record(vec![v(1.0), w(1.0)]), None, 1);
    // Only a tag changes: a's first row's node.
    let a1 = memtable.append(
        "a".into(),
        record(vec![(COLOR, Value::Tag("blue".into())), v(1.0), w(1.0)]),
        None,
        2,
    );
    // And again: still the first row's node, not the superseded second's.
    let a2 = memtable.append(
        "a".into(),
        record(vec![(PRICE, Value::Numeric(3.0)), v(1.0), w(1.0)]),
        None,
        3,
    );
    // One of the two vectors changes: a node of its own.
    let a3 = memtable.append("a".into(), record(vec![v(1.0), w(2.0)]), None, 4);
    // A vector dropped is a change too.
    let a4 = memtable.append("a".into(), record(vec![v(1.0)]), None, 5);
    // -0.0 equals 0.0 but is another vector bit for bit: a node of its own.
    let b1 = memtable.append(
        "b".into(),
        record(vec![(V, Value::Vector(vec![1.0, -0.0, 0.0, 1.0])), w(1.0)]),
        None,
        6,
    );
    // A key without vectors has no node to share.
    let c0 = memtable.append(
        "c".into(),
        record(vec![(PRICE, Value::Numeric(1.0))]),
        None,
        7,
    );
    let c1 = memtable.append(
        "c".into(),
        record(vec![(PRICE, Value::Numeric(2.0))]),
        None,
        8,
    );
    assert_eq!(
        [a0, b0, a1, a2, a3, a4, b1, c0, c1].map(|slot| memtable.node(slot)),
        [a0, b0, a0, a0, a3, a4, b1, c0, c1]
    );
    assert_eq!(
        memtable.shared_nodes(u32::MAX).collect::<Vec<_>>(),
        [(a1, a0), (a2, a0)]
    );
    assert_eq!(memtable.shared_nodes(a2).collect::<Vec<_>>(), [(a1, a0)]);
    // The updated row reads back with its new values and the kept vectors.
    let doc = memtable.document(a2, &schema, None);
    assert_eq!(doc.get_numeric("price"), Some(3.0));
    assert_eq!(doc.get_vector("w"), Some(&[1.0f32, 1.0, 0.0][..]));
    // A flush that writes a2 (a0 and a1 superseded) maps a0's node to a2's row.
    let written = [None, Some(0), None, Some(1), None, None, None, None, None];
    let nodes = memtable.node_rows(&written);
    assert_eq!(nodes[a0 as usize], Some(1));
    assert_eq!(nodes[a1 as usize], None);
    assert_eq!(
        nodes[a2 as usize], None,
        "a2 is a0's node, not one of its own"
    );
    assert_eq!(nodes[b0 as usize], Some(0));
    // When the key's live row is deleted, its node goes with it.
    let nodes = memtable.node_rows(&[None, Some(0), None, None, None, None, None, None, None]);
    assert_eq!(nodes[a0 as usize], None);
}

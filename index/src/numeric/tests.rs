use std::collections::BTreeMap;
use std::ops::Bound::{self, Excluded, Included, Unbounded};

use proptest::prelude::*;
use roaring::RoaringBitmap;

use super::*;

const INF: f64 = f64::INFINITY;

fn shifted(body: &[u8], shift: usize) -> Vec<u8> {
    let mut buf = vec![0x5A; shift];
    buf.extend_from_slice(body);
    buf
}

fn rows(bitmap: &RoaringBitmap) -> Vec<u32> {
    bitmap.iter().collect()
}

/// The definition of a match, in plain IEEE comparisons (which already treat
/// -0.0 == 0.0 and make any comparison with NaN false).
fn in_range(v: f64, low: Bound<f64>, high: Bound<f64>) -> bool {
    let above = match low {
        Unbounded => true,
        Included(l) => v >= l,
        Excluded(l) => v > l,
    };
    let below = match high {
        Unbounded => true,
        Included(h) => v <= h,
        Excluded(h) => v < h,
    };
    above && below
}

/// Rows 0..=8 hold -inf, -5, -0.0, 0.0, 0.0, 1.5, 1.5, 7, +inf; row 9 has NaN
/// (so no value); row 10 has none at all.
fn sample() -> NumericIndex {
    let mut index = NumericIndex::new();
    for (row, v) in [-INF, -5.0, -0.0, 0.0, 0.0, 1.5, 1.5, 7.0, INF]
        .into_iter()
        .enumerate()
    {
        assert!(index.insert(row as u32, v));
    }
    assert!(!index.insert(9, f64::NAN));
    index
}

/// The cases every form must agree on: (low, high, expected rows).
fn cases() -> Vec<(Bound<f64>, Bound<f64>, Vec<u32>)> {
    vec![
        (Unbounded, Unbounded, (0..9).collect()),
        (Included(-INF), Included(INF), (0..9).collect()),
        (Excluded(-INF), Excluded(INF), (1..8).collect()),
        (Included(0.0), Included(0.0), vec![2, 3, 4]),
        (Included(-0.0), Included(-0.0), vec![2, 3, 4]),
        (Excluded(0.0), Unbounded, vec![5, 6, 7, 8]),
        (Unbounded, Excluded(-0.0), vec![0, 1]),
        (Included(1.5), Included(1.5), vec![5, 6]),
        (Excluded(1.5), Included(7.0), vec![7]),
        (Included(-5.0), Excluded(1.5), vec![1, 2, 3, 4]),
        (Included(2.0), Included(3.0), vec![]),
        (Included(7.0), Included(1.0), vec![]),
        (Excluded(1.5), Excluded(1.5), vec![]),
        (Included(1.5), Excluded(1.5), vec![]),
        (Excluded(INF), Unbounded, vec![]),
        (Unbounded, Excluded(-INF), vec![]),
        (Included(INF), Unbounded, vec![8]),
        (Included(f64::NAN), Unbounded, vec![]),
        (Unbounded, Included(f64::NAN), vec![]),
        (
            Included(f64::MIN_POSITIVE),
            Included(f64::MAX),
            vec![5, 6, 7],
        ),
    ]
}

#[test]
fn keys_order_like_floats() {
    let values = [
        -INF,
        f64::MIN,
        -1.0,
        -f64::MIN_POSITIVE,
        -0.0,
        0.0,
        5e-324,
        1.0,
        f64::MAX,
        INF,
    ];
    for a in values {
        assert_eq!(value_of(key(a)), if a == 0.0 { 0.0 } else { a });
        for b in values {
            assert_eq!(
                key(a).cmp(&key(b)),
                a.partial_cmp(&b).unwrap(),
                "{a} vs {b}"
            );
        }
    }
    assert_eq!(value_of(key(-0.0)).to_bits(), 0.0f64.to_bits());
}

#[test]
fn memory_and_view_answer_the_fixed_cases() {
    let index = sample();
    assert_eq!(index.len(), 9);
    assert_eq!(index.get(9), None);
    assert_eq!(index.get(2).map(f64::to_bits), Some(0.0f64.to_bits()));
    let body = index.write_body();
    assert_eq!(body.len(), NUMERIC_HEADER_LEN + 12 * 9);
    for shift in 0..8 {
        let buf = shifted(&body, shift);
        let view = NumericIndexView::open(&buf[shift..]).unwrap();
        assert_eq!(view.len(), 9);
        view.verify(11).unwrap();
        for (low, high, expected) in cases() {
            assert_eq!(
                rows(&index.range(low, high)),
                expected,
                "memory {low:?} {high:?}"
            );
            assert_eq!(
                rows(&view.range(low, high).unwrap()),
                expected,
                "view {low:?} {high:?}"
            );
        }
    }
}

#[test]
fn insert_replaces_and_remove_forgets() {
    let mut index = sample();
    assert!(index.insert(1, 100.0));
    assert_eq!(
        rows(&index.range(Included(-5.0), Included(-5.0))),
        Vec::<u32>::new()
    );
    assert_eq!(rows(&index.range(Included(100.0), Excluded(INF))), [1]);
    assert_eq!(index.remove(1), Some(100.0));
    assert_eq!(index.remove(1), None);
    // NaN replaces a value with no value.
    assert!(!index.insert(7, f64::NAN));
    assert_eq!(index.get(7), None);
    assert_eq!(
        rows(&index.range(Included(2.0), Excluded(INF))),
        Vec::<u32>::new()
    );
    assert_eq!(index.len(), 7);
    let pairs: Vec<_> = index.iter().collect();
    assert!(pairs.windows(2).all(|w| w[0] < w[1]), "{pairs:?}");
    index.clear();
    assert!(index.is_empty());
    assert!(index.range(Unbounded, Unbounded).is_empty());
}

#[test]
fn empty_body_round_trips() {
    let body = NumericIndex::new().write_body();
    let view = NumericIndexView::open(&body).unwrap();
    assert!(view.is_empty());
    assert!(view.range(Unbounded, Unbounded).unwrap().is_empty());
    view.verify(0).unwrap();
}

#[test]
fn open_rejects_bad_headers_and_every_truncation() {
    let body = sample().write_body();
    for len in 0..body.len() {
        assert!(NumericIndexView::open(&body[..len]).is_err(), "len {len}");
    }
    let mut bad = body.clone();
    bad[1] = b'X';
    assert_eq!(
        NumericIndexView::open(&bad).unwrap_err(),
        FieldIndexError::BadMagic { kind: KIND }
    );
    let mut bad = body.clone();
    bad[4] = 9;
    assert!(matches!(
        NumericIndexView::open(&bad),
        Err(FieldIndexError::UnsupportedVersion { version: 9, .. })
    ));
    let mut bad = body.clone();
    bad[8..16].copy_from_slice(&(u64::MAX / 4).to_le_bytes());
    let err = NumericIndexView::open(&bad).unwrap_err();
    assert!(
        matches!(err, FieldIndexError::LengthMismatch { .. }),
        "{err}"
    );
    // A tag body is not a numeric body.
    let tags = crate::tags::TagIndex::new().write_body();
    assert!(NumericIndexView::open(&tags).is_err());
}

#[test]
fn every_single_byte_flip_is_safe() {
    let body = sample().write_body();
    for i in 0..body.len() {
        for mask in [0x01, 0x80, 0xFF] {
            let mut bad = body.clone();
            bad[i] ^= mask;
            if let Ok(view) = NumericIndexView::open(&bad) {
                for (low, high, _) in cases() {
                    let _ = view.range(low, high);
                }
                let _ = view.verify(11);
            }
        }
    }
}

fn value_at(i: usize) -> std::ops::Range<usize> {
    NUMERIC_HEADER_LEN + 8 * i..NUMERIC_HEADER_LEN + 8 * i + 8
}

fn row_at(i: usize, count: usize) -> std::ops::Range<usize> {
    let at = NUMERIC_HEADER_LEN + 8 * count + 4 * i;
    at..at + 4
}

#[test]
fn verify_catches_structural_damage() {
    let body = sample().write_body();
    let broken = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bad = body.clone();
        edit(&mut bad);
        let view = NumericIndexView::open(&bad).unwrap();
        // Queries stay safe whatever the damage.
        for (low, high, _) in cases() {
            let _ = view.range(low, high);
        }
        view.verify(11).unwrap_err()
    };
    let nan = broken(&|b| b[value_at(3)].copy_from_slice(&f64::NAN.to_le_bytes()));
    assert!(matches!(
        nan,
        FieldIndexError::Corrupt {
            entry: 3,
            what: "value is NaN",
            ..
        }
    ));
    let unsorted = broken(&|b| b[value_at(1)].copy_from_slice(&99.0f64.to_le_bytes()));
    assert!(
        matches!(unsorted, FieldIndexError::Corrupt { entry: 2, .. }),
        "{unsorted}"
    );
    // Rows 2, 3, 4 all hold zero; writing row 4 first makes them descend.
    let rows_desc = broken(&|b| b[row_at(2, 9)].copy_from_slice(&4u32.to_le_bytes()));
    assert!(
        matches!(rows_desc, FieldIndexError::Corrupt { entry: 3, .. }),
        "{rows_desc}"
    );
    let twice = broken(&|b| b[row_at(8, 9)].copy_from_slice(&0u32.to_le_bytes()));
    assert!(
        matches!(twice, FieldIndexError::Corrupt { entry: 8, .. }),
        "{twice}"
    );
    let past = broken(&|b| b[row_at(8, 9)].copy_from_slice(&11u32.to_le_bytes()));
    assert!(
        matches!(past, FieldIndexError::Corrupt { entry: 8, .. }),
        "{past}"
    );
    // A -0.0 written by another writer still equals 0.0.
    let mut neg = body.clone();
    neg[value_at(3)].copy_from_slice(&(-0.0f64).to_le_bytes());
    let view = NumericIndexView::open(&neg).unwrap();
    view.verify(11).unwrap();
    assert_eq!(
        rows(&view.range(Included(0.0), Included(0.0)).unwrap()),
        [2, 3, 4]
    );
}

/// Values drawn to collide often: duplicates, both zeros and the infinities.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(vec![
            -INF,
            -2.5,
            -1.0,
            -0.0,
            0.0,
            1.0,
            2.5,
            1e300,
            INF,
            f64::NAN
        ]),
        -10.0f64..10.0,
    ]
}

fn bound() -> impl Strategy<Value = Bound<f64>> {
    prop_oneof![
        Just(Unbounded),
        value().prop_map(Included),
        value().prop_map(Excluded)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn memory_and_view_match_the_oracle(
        ops in prop::collection::vec((0u32..64, prop::option::of(value())), 0..120),
        queries in prop::collection::vec((bound(), bound()), 1..12),
        shift in 0usize..8,
    ) {
        let mut index = NumericIndex::new();
        let mut oracle: BTreeMap<u32, f64> = BTreeMap::new();
        for (row, op) in ops {
            match op {
                Some(v) => {
                    let stored = index.insert(row, v);
                    prop_assert_eq!(stored, !v.is_nan());
                    if stored { oracle.insert(row, v); } else { oracle.remove(&row); }
                }
                None => {
                    prop_assert_eq!(index.remove(row), oracle.remove(&row).map(|v| v + 0.0));
                }
            }
        }
        prop_assert_eq!(index.len(), oracle.len());
        let buf = shifted(&index.write_body(), shift);
        let view = NumericIndexView::open(&buf[shift..]).unwrap();
        view.verify(64).unwrap();
        let pairs: Vec<(f64, u32)> = view.iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(pairs, index.iter().collect::<Vec<_>>());
        for (low, high) in queries {
            let expected: Vec<u32> = oracle
                .iter()
                .filter(|&(_, &v)| in_range(v, low, high))
                .map(|(&r, _)| r)
                .collect();
            prop_assert_eq!(rows(&index.range(low, high)), expected.clone());
            prop_assert_eq!(rows(&view.range(low, high).unwrap()), expected);
        }
    }

    #[test]
    fn damaged_bodies_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        queries in prop::collection::vec((bound(), bound()), 1..6),
    ) {
        let mut body = sample().write_body();
        for (at, byte) in &flips {
            let i = at.index(body.len());
            body[i] = *byte;
        }
        let len = cut.index(body.len() + 1);
        for bytes in [&body[..], &body[..len]] {
            if let Ok(view) = NumericIndexView::open(bytes) {
                for (low, high) in &queries {
                    let _ = view.range(*low, *high);
                }
                let _ = view.iter().count();
                let _ = view.verify(11);
            }
        }
    }
}

use std::collections::BTreeMap;

use proptest::prelude::*;
use roaring::RoaringBitmap;

use super::*;

/// `body` copied to `shift` bytes into a fresh buffer, so a view over
/// `&buf[shift..]` sees every alignment a simulated file system may give.
fn shifted(body: &[u8], shift: usize) -> Vec<u8> {
    let mut buf = vec![0xA5; shift];
    buf.extend_from_slice(body);
    buf
}

fn sample() -> TagIndex {
    let mut index = TagIndex::new();
    index.insert(0, ["red", "blue"]);
    index.insert(1, ["blue"]);
    index.insert(2, ["grün", "red"]);
    index.insert(7, ["日本"]);
    index
}

/// Exercises every read path; the result does not matter, only that nothing panics.
fn poke(body: &[u8]) {
    if let Ok(view) = TagIndexView::open(body) {
        for tag in ["red", "blue", "grün", "日本", "", "zzz"] {
            let _ = view.rows(tag);
        }
        let _ = view.iter().count();
        let _ = view.tags().count();
        let _ = view.verify(8);
    }
}

#[test]
fn split_trims_folds_dedupes() {
    assert_eq!(
        split_tags(" Red , blue,,RED ,  ,Blue", ',', false),
        ["blue", "red"]
    );
    assert_eq!(split_tags("Red,red", ',', true), ["Red", "red"]);
    assert_eq!(
        split_tags("ÉCOLE|École|\u{3000}straße\t", '|', false),
        ["straße", "école"]
    );
    assert_eq!(split_tags("", ',', false), Vec::<String>::new());
    assert_eq!(split_tags(" , ,", ',', false), Vec::<String>::new());
    assert_eq!(split_tags("a b  c", ' ', false), ["a", "b", "c"]);
    // Unicode lowercasing may change the byte length; it must still be exact.
    assert_eq!(split_tags("İ", ',', false), ["i\u{307}"]);
}

#[test]
fn insert_remove_drop_empty_tags() {
    let mut index = sample();
    assert_eq!(index.len(), 4);
    assert_eq!(
        index.rows("blue").unwrap().iter().collect::<Vec<_>>(),
        [0, 1]
    );
    assert!(index.rows("Blue").is_none(), "tags compare as exact bytes");
    index.remove(1, ["blue", "absent"]);
    assert_eq!(index.rows("blue").unwrap().len(), 1);
    index.remove(0, ["blue"]);
    assert!(index.rows("blue").is_none());
    index.remove_row(2);
    assert_eq!(index.tags().collect::<Vec<_>>(), ["red", "日本"]);
    assert_eq!(index.iter().count(), 2);
    index.clear();
    assert!(index.is_empty());
}

#[test]
fn round_trip_at_every_alignment() {
    let index = sample();
    let body = index.write_body();
    for shift in 0..8 {
        let buf = shifted(&body, shift);
        let view = TagIndexView::open(&buf[shift..]).unwrap();
        assert_eq!(view.tag_count(), 4);
        for (tag, rows) in index.iter() {
            assert_eq!(&view.rows(tag).unwrap(), rows, "{tag}");
        }
        assert!(view.rows("green").unwrap().is_empty());
        assert!(view.rows("").unwrap().is_empty());
        let pairs: Vec<_> = view.iter().map(Result::unwrap).collect();
        let expected: Vec<_> = index.iter().map(|(t, r)| (t, r.clone())).collect();
        assert_eq!(pairs, expected);
        view.verify(8).unwrap();
        assert!(view.verify(7).is_err(), "row 7 is not below 7");
    }
}

#[test]
fn empty_index_round_trips() {
    let body = TagIndex::new().write_body();
    assert_eq!(body.len(), TAG_HEADER_LEN);
    let view = TagIndexView::open(&body).unwrap();
    assert_eq!(view.tag_count(), 0);
    assert!(view.rows("x").unwrap().is_empty());
    view.verify(0).unwrap();
}

#[test]
fn dense_tags_use_run_containers() {
    let mut index = TagIndex::new();
    for row in 0..100_000 {
        index.insert(row, ["all"]);
    }
    let body = index.write_body();
    assert!(body.len() < 200, "{} bytes", body.len());
    let view = TagIndexView::open(&body).unwrap();
    assert_eq!(view.rows("all").unwrap().len(), 100_000);
    view.verify(100_000).unwrap();
}

#[test]
fn open_rejects_bad_headers() {
    let body = sample().write_body();
    assert!(matches!(
        TagIndexView::open(&body[..31]),
        Err(FieldIndexError::TooShort { .. })
    ));
    let mut bad = body.clone();
    bad[0] = b'X';
    assert_eq!(
        TagIndexView::open(&bad).unwrap_err(),
        FieldIndexError::BadMagic { kind: KIND }
    );
    let mut bad = body.clone();
    bad[4] = 2;
    assert!(matches!(
        TagIndexView::open(&bad),
        Err(FieldIndexError::UnsupportedVersion { version: 2, .. })
    ));
    let mut bad = body.clone();
    bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = TagIndexView::open(&bad).unwrap_err();
    assert!(matches!(
        err,
        FieldIndexError::LengthMismatch {
            expected: u64::MAX,
            ..
        }
    ));
    assert!(
        err.to_string().starts_with("The tag index body is"),
        "{err}"
    );
    let mut long = body.clone();
    long.push(0);
    assert!(TagIndexView::open(&long).is_err());
}

/// Offset of entry `i`'s field `k` (0 name_offset, 1 name_len, 2 bitmap_offset, 3 bitmap_len).
fn field_at(i: usize, k: usize) -> usize {
    TAG_HEADER_LEN + i * TAG_ENTRY_LEN + 8 * k
}

#[test]
fn verify_catches_structural_damage() {
    let index = sample();
    let body = index.write_body();
    let view = TagIndexView::open(&body).unwrap();
    let names_start = TAG_HEADER_LEN + 4 * TAG_ENTRY_LEN;
    // Names in order are "blue", "grün", "red", "日本".
    assert_eq!(&body[names_start..names_start + 4], b"blue");

    // Unsorted: rename "blue" to "zlue" (same length, so only order breaks).
    let mut bad = body.clone();
    bad[names_start] = b'z';
    let err = TagIndexView::open(&bad).unwrap().verify(8).unwrap_err();
    assert!(
        matches!(err, FieldIndexError::Corrupt { entry: 1, .. }),
        "{err}"
    );

    // Invalid UTF-8 in a name: found by verify, and by tags()/iter().
    let mut bad = body.clone();
    bad[names_start + 1] = 0xFF;
    let v = TagIndexView::open(&bad).unwrap();
    assert!(v.verify(8).is_err());
    assert!(v.tags().next().unwrap().is_err());

    // A name pointing past its section: an error at query time, not a panic.
    let mut bad = body.clone();
    bad[field_at(0, 1)..field_at(0, 2)].copy_from_slice(&u64::MAX.to_le_bytes());
    let v = TagIndexView::open(&bad).unwrap();
    assert!(v.verify(8).is_err());
    let _ = v.rows("blue");

    // Overlapping names: entry 1 points at entry 0's bytes.
    let mut bad = body.clone();
    bad[field_at(1, 0)..field_at(1, 1)].copy_from_slice(&0u64.to_le_bytes());
    assert!(TagIndexView::open(&bad).unwrap().verify(8).is_err());

    // A bitmap that does not decode.
    let bitmaps_start = body.len() - (view.bitmaps.len());
    let mut bad = body.clone();
    bad[bitmaps_start] ^= 0xFF;
    let v = TagIndexView::open(&bad).unwrap();
    assert!(v.verify(8).is_err());
    assert!(v.rows("blue").is_err());

    // A bitmap shorter than its bytes: the rest would be hidden garbage.
    let mut bad = body.clone();
    let len = u64::from_le_bytes(bad[field_at(3, 3)..field_at(3, 4)].try_into().unwrap());
    bad[field_at(3, 3)..field_at(3, 4)].copy_from_slice(&(len - 1).to_le_bytes());
    assert!(TagIndexView::open(&bad).unwrap().verify(8).is_err());
}

#[test]
fn every_truncation_fails_cleanly() {
    let body = sample().write_body();
    for len in 0..body.len() {
        assert!(TagIndexView::open(&body[..len]).is_err(), "len {len}");
    }
}

/// Random documents: each row gets 0..4 tags from a small vocabulary with
/// mixed case, padding and non-ASCII, normalised by `split_tags`.
fn docs() -> impl Strategy<Value = Vec<(u32, String)>> {
    let word = prop::sample::select(vec![
        "a",
        "A",
        " b ",
        "Ünïcödé",
        "ünïcödé",
        "日本",
        "x y",
        "",
        "zz",
        "ß",
        "SS",
        "ǅ",
    ]);
    let raw = prop::collection::vec(word, 0..4).prop_map(|w| w.join(","));
    prop::collection::vec((0u32..300, raw), 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn view_matches_memory(docs in docs(), case_sensitive in any::<bool>(), shift in 0usize..8) {
        let mut index = TagIndex::new();
        let mut oracle: BTreeMap<String, RoaringBitmap> = BTreeMap::new();
        for (row, raw) in &docs {
            let tags = split_tags(raw, ',', case_sensitive);
            index.insert(*row, &tags);
            for t in tags {
                oracle.entry(t).or_default().insert(*row);
            }
        }
        // Remove some rows, half by known tags and half by scan.
        for (i, (row, raw)) in docs.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
            let tags = split_tags(raw, ',', case_sensitive);
            if i % 2 == 0 { index.remove(*row, &tags) } else { index.remove_row(*row) }
            for t in &tags {
                if i % 2 == 0 {
                    if let Some(rows) = oracle.get_mut(t) { rows.remove(*row); }
                }
            }
            if i % 2 == 1 {
                for rows in oracle.values_mut() { rows.remove(*row); }
            }
        }
        oracle.retain(|_, rows| !rows.is_empty());
        let got: BTreeMap<String, RoaringBitmap> =
            index.iter().map(|(t, r)| (t.to_owned(), r.clone())).collect();
        prop_assert_eq!(&got, &oracle);

        let buf = shifted(&index.write_body(), shift);
        let view = TagIndexView::open(&buf[shift..]).unwrap();
        prop_assert_eq!(view.tag_count(), oracle.len());
        view.verify(300).unwrap();
        for (tag, rows) in &oracle {
            prop_assert_eq!(&view.rows(tag).unwrap(), rows);
        }
        for probe in ["", "absent", "Ünïcödé", "a ", "\u{10FFFF}"] {
            let expected = oracle.get(probe).cloned().unwrap_or_default();
            prop_assert_eq!(view.rows(probe).unwrap(), expected);
        }
        let pairs: BTreeMap<String, RoaringBitmap> =
            view.iter().map(|p| p.map(|(t, r)| (t.to_owned(), r))).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(pairs, oracle);
    }

    #[test]
    fn damaged_bodies_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut body = sample().write_body();
        for (at, mask) in &flips {
            let i = at.index(body.len());
            body[i] ^= mask;
        }
        poke(&body);
        // Damage that leaves the header intact reaches the query paths.
        let mut inner = sample().write_body();
        for (at, mask) in &flips {
            let i = TAG_HEADER_LEN + at.index(inner.len() - TAG_HEADER_LEN);
            inner[i] ^= mask;
        }
        poke(&inner);
        let len = cut.index(inner.len() + 1);
        poke(&inner[..len]);
    }
}

#[test]
fn every_single_byte_flip_is_safe() {
    let body = sample().write_body();
    for i in 0..body.len() {
        for mask in [0x01, 0x80, 0xFF] {
            let mut bad = body.clone();
            bad[i] ^= mask;
            poke(&bad);
        }
    }
}

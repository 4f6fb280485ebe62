//! `strata import`: vector and JSON-lines files into a collection, resumable, then
//! searched through the one-shot command.

use std::path::Path;
use std::process::Command;

fn strata(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn vector(i: usize) -> [f32; 4] {
    [i as f32, (i % 7) as f32, (i % 3) as f32 * 2.0, 1.0]
}

fn write_fvecs(path: &Path, n: usize) {
    let mut bytes = Vec::new();
    for i in 0..n {
        bytes.extend(4u32.to_le_bytes());
        for x in vector(i) {
            bytes.extend(x.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

fn write_npy(path: &Path, n: usize) {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, 4), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for i in 0..n {
        for x in vector(i) {
            bytes.extend(x.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// Keys of the k nearest rows to `q` under squared L2, ties by row number.
fn oracle(q: [f32; 4], n: usize, k: usize, prefix: &str) -> Vec<String> {
    let mut d: Vec<(f32, usize)> = (0..n)
        .map(|i| {
            (
                vector(i).iter().zip(q).map(|(a, b)| (a - b).powi(2)).sum(),
                i,
            )
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter()
        .take(k)
        .map(|(_, i)| format!("{prefix}{i}"))
        .collect()
}

/// Keys printed by a one-shot NOCONTENT search, in order.
fn keys_of(out: &str) -> Vec<String> {
    out.lines()
        .skip(1)
        .map(|l| l.split_once(") ").unwrap().1.trim_matches('"').to_string())
        .collect()
}

#[test]
fn vector_files_import_resume_and_search_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db = db.to_str().unwrap();
    let fvecs = dir.path().join("v.fvecs");
    write_fvecs(&fvecs, 500);
    let schema = "embedding VECTOR FLAT 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2";
    let common = [
        "import",
        db,
        fvecs.to_str().unwrap(),
        "--collection",
        "vecs",
        "--schema",
        schema,
        "--batch",
        "64",
    ];
    // An import stopped after 200 rows, then run again, ends with every row once.
    let (ok, _, err) = strata(&[&common[..], &["--max-rows", "200"]].concat());
    assert!(ok, "{err}");
    assert!(err.contains("200 rows in all"), "{err}");
    let (ok, _, err) = strata(&common);
    assert!(ok, "{err}");
    assert!(err.contains("resuming: 200 rows"), "{err}");
    assert!(err.contains("imported 300 rows"), "{err}");
    let (_, out, _) = strata(&[db, "FT.SEARCH vecs * LIMIT 0 0"]);
    assert_eq!(out, "1) (integer) 500\n");
    let q = [17.2f32, 3.0, 2.0, 1.0];
    let blob: String = q
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .map(|b| format!("\\x{b:02x}"))
        .collect();
    let (ok, out, _) = strata(&[
        db,
        &format!("FT.SEARCH vecs '*=>[KNN 6 @embedding $q]' PARAMS 2 q \"{blob}\" NOCONTENT"),
    ]);
    assert!(ok, "{out}");
    assert_eq!(keys_of(&out), oracle(q, 500, 6, "vecs:"));

    // The same vectors from .npy, with an inferred schema.
    let npy = dir.path().join("v.npy");
    write_npy(&npy, 500);
    let (ok, _, err) = strata(&[
        "import",
        db,
        npy.to_str().unwrap(),
        "--collection",
        "npy",
        "--metric",
        "l2",
        "--index",
        "flat",
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("embedding VECTOR FLAT 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2"),
        "{err}"
    );
    let (_, out, _) = strata(&[
        db,
        &format!("FT.SEARCH npy '*=>[KNN 6 @embedding $q]' PARAMS 2 q \"{blob}\" NOCONTENT"),
    ]);
    assert_eq!(keys_of(&out), oracle(q, 500, 6, "npy:"));
}

#[test]
fn json_lines_import_with_an_inferred_schema_and_bad_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db = db.to_str().unwrap();
    let jsonl = dir.path().join("docs.jsonl");
    let mut text = String::new();
    for i in 0..50 {
        let year = if i % 10 == 0 {
            "null".to_string()
        } else {
            (2000 + i).to_string()
        };
        text.push_str(&format!(
            "{{\"id\": \"doc:{i}\", \"title\": \"title {i}\", \"tags\": [\"t{}\", \"all\"], \"year\": {year}, \"embedding\": [{}, 0, 1]}}\n",
            i % 3,
            i
        ));
    }
    std::fs::write(&jsonl, text).unwrap();
    let (ok, _, err) = strata(&[
        "import",
        db,
        jsonl.to_str().unwrap(),
        "--collection",
        "docs",
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("tags TAG title TEXT year NUMERIC embedding VECTOR HNSW"),
        "{err}"
    );
    let (_, out, _) = strata(&[
        db,
        "FT.SEARCH docs '@tags:{t1} @year:[2040 2100]' SORTBY year RETURN 1 year",
    ]);
    assert_eq!(out, "1) (integer) 3\n2) \"doc:43\"\n3) 1) \"year\"\n   2) \"2043\"\n4) \"doc:46\"\n5) 1) \"year\"\n   2) \"2046\"\n6) \"doc:49\"\n7) 1) \"year\"\n   2) \"2049\"\n");

    // A truncated vector file: refused before anything is written.
    let bad = dir.path().join("bad.fvecs");
    write_fvecs(&bad, 10);
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() - 3]).unwrap();
    let (ok, _, err) = strata(&["import", db, bad.to_str().unwrap(), "--collection", "bad"]);
    assert!(!ok);
    assert!(
        err.contains("not a whole number of 4-dimensional rows"),
        "{err}"
    );
    let (_, out, _) = strata(&[db, "FT._LIST"]);
    assert_eq!(out, "1) \"docs\"\n");
    // A row the schema does not fit: the error names the row; earlier batches stay.
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"id\": \"a\", \"n\": 1}\n{\"id\": \"b\", \"n\": \"many\"}\n",
    )
    .unwrap();
    let (ok, _, err) = strata(&[
        "import",
        db,
        mixed.to_str().unwrap(),
        "--collection",
        "mixed",
        "--batch",
        "1",
    ]);
    assert!(!ok);
    assert!(
        err.contains("row 1: field `n` is `many`, not a number"),
        "{err}"
    );
    assert_eq!(
        strata(&[db, "FT.SEARCH mixed * LIMIT 0 0"]).1,
        "1) (integer) 1\n"
    );
}

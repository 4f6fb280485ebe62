//! Pins the import direction of the crate's folders (ARCHITECTURE.md): the public
//! handles use `maintenance` and `read`, which use `write`, which uses `segment`,
//! which uses `model`. `read` and `maintenance` never import each other.

use std::path::Path;

/// A folder's rank: a module may import only modules of a lower rank (or its own).
fn rank(module: &str) -> Option<u8> {
    match module {
        "model" => Some(0),
        "segment" => Some(1),
        "write" => Some(2),
        "read" | "maintenance" => Some(3),
        "collection" | "database" | "query_builder" | "info" | "bench_internals" | "lib" => Some(4),
        _ => None,
    }
}

fn visit(dir: &Path, root: &Path, violations: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("the source folder is readable") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            visit(&path, root, violations);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(root).expect("under the root");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|name| name.trim_end_matches(".rs").to_string())
            .expect("a first component");
        let Some(own) = rank(&top) else { continue };
        let source = std::fs::read_to_string(&path).expect("a readable source file");
        for (at, _) in source.match_indices("crate::") {
            let target: String = source[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let Some(theirs) = rank(&target) else {
                continue;
            };
            // Within the top layer the public handles refer to each other freely.
            let same_layer_elsewhere = theirs == own && target != top && own < 4;
            if theirs > own || same_layer_elsewhere {
                violations.push(format!("{} imports crate::{target}", relative.display()));
            }
        }
    }
}

#[test]
fn folders_import_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    visit(&root, &root, &mut violations);
    assert!(
        violations.is_empty(),
        "imports against the layering: {violations:#?}"
    );
}

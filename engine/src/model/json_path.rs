//! The JSONPath subset RediSearch schemas and RedisJSON's `JSON.SET` use: `$`, member
//! names (`.name`, `['name']`, `["name"]`), array indexes (`[0]`, `[-1]`), wildcards
//! (`.*`, `[*]`) and recursive descent (`..name`, `..*`). Filters (`[?(...)]`), slices
//! and unions are refused at parse time with the position of the construct.

use serde_json::Value as Json;

/// Longest path accepted, in bytes: paths live in schemas and queries, never in bulk.
const MAX_PATH_BYTES: usize = 1024;

/// One step of a path, applied to every node the steps before it selected.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// An object's member.
    Member(String),
    /// An array's element; negative counts from the end.
    Index(i64),
    /// Every member of an object or element of an array.
    Wildcard,
    /// The node itself and all its descendants, in document order (`..`).
    Descendants,
}

/// A parsed JSONPath.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

/// Why a path did not parse: the byte offset in the path and what was wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathError {
    pub pos: usize,
    pub reason: String,
}

impl JsonPath {
    /// Parses `text`, which must start with `$`.
    pub fn parse(text: &str) -> Result<JsonPath, PathError> {
        let fail = |pos: usize, reason: &str| PathError {
            pos,
            reason: reason.to_string(),
        };
        if text.len() > MAX_PATH_BYTES {
            return Err(fail(
                MAX_PATH_BYTES,
                &format!("the path is longer than {MAX_PATH_BYTES} bytes"),
            ));
        }
        let bytes = text.as_bytes();
        if bytes.first() != Some(&b'$') {
            return Err(fail(0, "a JSONPath starts with `$` (the document's root)"));
        }
        let mut steps = Vec::new();
        let mut pos = 1;
        while pos < bytes.len() {
            match bytes[pos] {
                b'.' => {
                    pos += 1;
                    if bytes.get(pos) == Some(&b'.') {
                        pos += 1;
                        steps.push(Step::Descendants);
                        // `..[0]` and `..['a']` apply a bracket to every descendant.
                        if bytes.get(pos) == Some(&b'[') {
                            continue;
                        }
                    }
                    if bytes.get(pos) == Some(&b'*') {
                        steps.push(Step::Wildcard);
                        pos += 1;
                        continue;
                    }
                    let start = pos;
                    while pos < bytes.len() && !matches!(bytes[pos], b'.' | b'[') {
                        if matches!(bytes[pos], b' ' | b'\t' | b']' | b'\'' | b'"' | b'*') {
                            return Err(fail(
                                pos,
                                "a member name after `.` has no spaces, quotes, `]` or `*`; \
                                 write other names as ['name']",
                            ));
                        }
                        pos += 1;
                    }
                    if pos == start {
                        return Err(fail(pos, "a member name, `*` or `.` is expected after `.`"));
                    }
                    steps.push(Step::Member(text[start..pos].to_string()));
                }
                b'[' => {
                    pos += 1;
                    match bytes.get(pos) {
                        Some(b'*') => {
                            pos += 1;
                            steps.push(Step::Wildcard);
                        }
                        Some(&quote @ (b'\'' | b'"')) => {
                            let (name, end) = parse_quoted(text, pos + 1, quote)
                                .ok_or_else(|| fail(pos, "an unterminated quoted member name"))?;
                            steps.push(Step::Member(name));
                            pos = end;
                        }
                        Some(b'-' | b'0'..=b'9') => {
                            let start = pos;
                            pos += 1;
                            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                                pos += 1;
                            }
                            let index = text[start..pos].parse::<i64>().map_err(|_| {
                                fail(start, "an array index is a whole number like 0 or -1")
                            })?;
                            steps.push(Step::Index(index));
                        }
                        Some(b'?') => {
                            return Err(fail(
                                pos,
                                "filter expressions ([?(...)]) are not part of the JSONPath \
                                 subset Strata evaluates; name the members instead",
                            ))
                        }
                        _ => {
                            return Err(fail(
                                pos,
                                "`[` takes `*`, an index like 0 or -1, or a quoted name",
                            ))
                        }
                    }
                    if bytes.get(pos) != Some(&b']') {
                        return Err(fail(
                            pos,
                            "`]` is expected here (slices and unions are not part of the \
                             JSONPath subset Strata evaluates)",
                        ));
                    }
                    pos += 1;
                }
                _ => return Err(fail(pos, "`.` or `[` is expected here")),
            }
        }
        if steps.last() == Some(&Step::Descendants) {
            return Err(fail(
                text.len(),
                "`..` needs a name, `*` or `[...]` after it",
            ));
        }
        Ok(JsonPath { steps })
    }

    /// Whether the path is `$`, the whole document.
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether the path names at most one location (no wildcard, no `..`).
    pub fn is_definite(&self) -> bool {
        self.steps
            .iter()
            .all(|step| matches!(step, Step::Member(_) | Step::Index(_)))
    }

    /// The nodes the path selects in `doc`, in document order.
    pub fn select<'a>(&self, doc: &'a Json) -> Vec<&'a Json> {
        let mut current = vec![doc];
        for step in &self.steps {
            let mut next = Vec::new();
            for node in current {
                apply(step, node, &mut next);
            }
            current = next;
        }
        current
    }

    /// The JSON Pointers (RFC 6901) of the nodes the path selects, for updates.
    pub fn locations(&self, doc: &Json) -> Vec<String> {
        let mut current = vec![(doc, String::new())];
        for step in &self.steps {
            let mut next = Vec::new();
            for (node, at) in current {
                apply_located(step, node, at, &mut next);
            }
            current = next;
        }
        current.into_iter().map(|(_, at)| at).collect()
    }

    /// Sets every location the path selects to `value`, as `JSON.SET key path value`
    /// does: a definite path whose last step is a member of an existing object adds
    /// that member; otherwise only existing locations change. Returns how many
    /// locations were set (0, with `doc` unchanged, when none exists), or why the
    /// update is impossible (an array index out of range).
    pub fn set(&self, doc: &mut Json, value: &Json) -> Result<usize, String> {
        let Some((last, parents)) = self.steps.split_last() else {
            *doc = value.clone();
            return Ok(1);
        };
        if self.is_definite() {
            let parent = JsonPath {
                steps: parents.to_vec(),
            };
            let Some(at) = parent.locations(doc).pop() else {
                return Ok(0);
            };
            let Some(node) = doc.pointer_mut(&at) else {
                return Ok(0);
            };
            return match (last, node) {
                (Step::Member(name), Json::Object(members)) => {
                    members.insert(name.clone(), value.clone());
                    Ok(1)
                }
                (Step::Index(index), Json::Array(elements)) => {
                    let Some(position) = resolve_index(*index, elements.len()) else {
                        return Err(format!(
                            "array index {index} is out of range (the array has {} elements)",
                            elements.len()
                        ));
                    };
                    elements[position] = value.clone();
                    Ok(1)
                }
                _ => Ok(0),
            };
        }
        let locations = self.locations(doc);
        // A selected node inside one replaced before it no longer exists: its pointer
        // finds nothing and it is skipped.
        let mut set = 0;
        for at in locations {
            if let Some(node) = doc.pointer_mut(&at) {
                *node = value.clone();
                set += 1;
            }
        }
        Ok(set)
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let position = if index < 0 {
        i64::try_from(len).ok()?.checked_add(index)?
    } else {
        index
    };
    usize::try_from(position).ok().filter(|p| *p < len)
}

fn apply<'a>(step: &Step, node: &'a Json, out: &mut Vec<&'a Json>) {
    match (step, node) {
        (Step::Member(name), Json::Object(members)) => out.extend(members.get(name)),
        (Step::Index(index), Json::Array(elements)) => {
            out.extend(resolve_index(*index, elements.len()).map(|p| &elements[p]))
        }
        (Step::Wildcard, Json::Object(members)) => out.extend(members.values()),
        (Step::Wildcard, Json::Array(elements)) => out.extend(elements.iter()),
        (Step::Descendants, _) => {
            // An explicit stack, so a deeply nested document cannot overflow ours.
            let mut stack = vec![node];
            while let Some(node) = stack.pop() {
                out.push(node);
                match node {
                    Json::Object(members) => stack.extend(members.values().rev()),
                    Json::Array(elements) => stack.extend(elements.iter().rev()),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn apply_located<'a>(step: &Step, node: &'a Json, at: String, out: &mut Vec<(&'a Json, String)>) {
    let child = |at: &str, token: &str| format!("{at}/{}", escape_pointer(token));
    match (step, node) {
        (Step::Member(name), Json::Object(members)) => {
            if let Some(value) = members.get(name) {
                out.push((value, child(&at, name)));
            }
        }
        (Step::Index(index), Json::Array(elements)) => {
            if let Some(p) = resolve_index(*index, elements.len()) {
                out.push((&elements[p], child(&at, &p.to_string())));
            }
        }
        (Step::Wildcard, Json::Object(members)) => {
            for (name, value) in members {
                out.push((value, child(&at, name)));
            }
        }
        (Step::Wildcard, Json::Array(elements)) => {
            for (p, value) in elements.iter().enumerate() {
                out.push((value, child(&at, &p.to_string())));
            }
        }
        (Step::Descendants, _) => {
            let mut stack = vec![(node, at)];
            while let Some((node, at)) = stack.pop() {
                match node {
                    Json::Object(members) => {
                        for (name, value) in members.iter().rev() {
                            stack.push((value, child(&at, name)));
                        }
                    }
                    Json::Array(elements) => {
                        for (p, value) in elements.iter().enumerate().rev() {
                            stack.push((value, child(&at, &p.to_string())));
                        }
                    }
                    _ => {}
                }
                out.push((node, at));
            }
        }
        _ => {}
    }
}

fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Reads a quoted name starting after its opening quote; returns it and the position
/// after the closing quote. `\` escapes the next character.
fn parse_quoted(text: &str, start: usize, quote: u8) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut chars = text[start..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => name.push(chars.next()?.1),
            c if c as u32 == u32::from(quote) => return Some((name, start + offset + 1)),
            c => name.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(path: &str, doc: &Json) -> Vec<Json> {
        JsonPath::parse(path)
            .unwrap()
            .select(doc)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn selects_members_indexes_wildcards_and_descendants() {
        let doc = json!({
            "a": {"b": 1, "c": [10, 20, {"b": 2}]},
            "odd key": "x",
            "l": ["p", "q"]
        });
        assert_eq!(select("$", &doc), vec![doc.clone()]);
        assert_eq!(select("$.a.b", &doc), vec![json!(1)]);
        assert_eq!(select("$['a'][\"b\"]", &doc), vec![json!(1)]);
        assert_eq!(select("$['odd key']", &doc), vec![json!("x")]);
        assert_eq!(select("$.a.c[1]", &doc), vec![json!(20)]);
        assert_eq!(select("$.a.c[-1].b", &doc), vec![json!(2)]);
        assert_eq!(select("$.l[*]", &doc), vec![json!("p"), json!("q")]);
        assert_eq!(select("$.l.*", &doc), vec![json!("p"), json!("q")]);
        assert_eq!(select("$..b", &doc), vec![json!(1), json!(2)]);
        assert_eq!(select("$..c[0]", &doc), vec![json!(10)]);
        assert!(select("$.a.c[3]", &doc).is_empty());
        assert!(select("$.a.c[-4]", &doc).is_empty());
        assert!(select("$.missing.b", &doc).is_empty());
        assert!(select("$.l.b", &doc).is_empty());
        assert!(JsonPath::parse("$.a.c[0]").unwrap().is_definite());
        assert!(!JsonPath::parse("$.a[*]").unwrap().is_definite());
        assert!(!JsonPath::parse("$..a").unwrap().is_definite());
    }

    #[test]
    fn malformed_paths_are_refused_with_a_position() {
        for (path, pos) in [
            ("", 0),
            ("a.b", 0),
            (".a", 0),
            ("$.", 2),
            ("$..", 3),
            ("$.a b", 3),
            ("$[", 2),
            ("$[1", 3),
            ("$[1:2]", 3),
            ("$[0,1]", 3),
            ("$['a", 2),
            ("$[?(@.a)]", 2),
            ("$a", 1),
            ("$[99999999999999999999]", 2),
        ] {
            let error = JsonPath::parse(path).unwrap_err();
            assert_eq!(error.pos, pos, "{path:?}: {error:?}");
        }
        assert!(JsonPath::parse(&format!("$.{}", "a".repeat(2000))).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_and_paths_never_panic(text in "\\$[.\\[\\]*'\"a-c0-9?:,\\-\\\\ ]{0,24}") {
            let doc = json!({"a": [1, {"b": [2, {"c": 3}]}], "b": {"a": null}, "c": "x"});
            if let Ok(path) = JsonPath::parse(&text) {
                let _ = path.select(&doc);
                let mut changed = doc.clone();
                let _ = path.set(&mut changed, &json!(0));
            }
        }
    }

    #[test]
    fn set_follows_json_set() {
        let mut doc = json!({"a": {"b": 1}, "l": [1, 2]});
        let set = |doc: &mut Json, path: &str, value: Json| {
            JsonPath::parse(path).unwrap().set(doc, &value)
        };
        assert_eq!(set(&mut doc, "$.a.c", json!(2)), Ok(1));
        assert_eq!(set(&mut doc, "$.x.y", json!(1)), Ok(0));
        assert_eq!(set(&mut doc, "$.a.b.z", json!(1)), Ok(0));
        assert!(set(&mut doc, "$.l[5]", json!(1)).is_err());
        assert_eq!(set(&mut doc, "$.l[-1]", json!(9)), Ok(1));
        assert_eq!(set(&mut doc, "$..b", json!(7)), Ok(1));
        assert_eq!(doc, json!({"a": {"b": 7, "c": 2}, "l": [1, 9]}));
        assert_eq!(set(&mut doc, "$.l[*]", json!(0)), Ok(2));
        assert_eq!(set(&mut doc, "$['a/b~']", json!(0)), Ok(1));
        assert_eq!(doc["a/b~"], json!(0));
        assert_eq!(set(&mut doc, "$..*", json!(1)), Ok(3));
        assert_eq!(set(&mut doc, "$", json!([])), Ok(1));
        assert_eq!(doc, json!([]));
    }
}

//! From a JSON document to a row and back, by the schema's JSONPaths, with
//! RediSearch's rules for `FT.CREATE ... ON JSON` where a value is missing, null or of
//! the wrong type (checked against Redis Stack 7.4; README "Differences from Redis"
//! lists where Strata is stricter).
//!
//! The row holds each field's indexed value and, in the field `$`, the document's
//! JSON text with every mapped vector replaced by `null`: the vector lives only in its
//! vector column and is put back when the document is read.

use serde_json::Value as Json;

use crate::model::doc::{Doc, Value};
use crate::model::error::{Error, Result};
use crate::model::json_path::JsonPath;
use crate::model::json_schema::{JSON_DOCUMENT_FIELD, JSON_TAG_SEPARATOR};
use crate::model::schema::{FieldKind, Schema};

/// One field mapped from a path.
#[derive(Debug)]
struct Mapped {
    position: usize,
    name: String,
    kind: FieldKind,
    path_text: String,
    path: JsonPath,
}

/// A JSON schema's fields with their parsed paths.
#[derive(Debug)]
pub(crate) struct Mapping {
    fields: Vec<Mapped>,
}

impl Mapping {
    /// The mapping of a JSON schema, `None` for a schema of plain fields.
    pub fn of(schema: &Schema) -> Option<Mapping> {
        if !schema.is_json() {
            return None;
        }
        let fields = schema
            .fields()
            .iter()
            .enumerate()
            .filter_map(|(position, field)| {
                let path_text = field.path.clone()?;
                // The schema checked every path when it was built or decoded.
                let path = JsonPath::parse(&path_text).ok()?;
                Some(Mapped {
                    position,
                    name: field.name.clone(),
                    kind: field.kind,
                    path_text,
                    path,
                })
            })
            .collect();
        Some(Mapping { fields })
    }

    /// The vector fields: schema position and path.
    fn vectors(&self) -> impl Iterator<Item = &Mapped> {
        self.fields
            .iter()
            .filter(|field| matches!(field.kind, FieldKind::Vector(_)))
    }

    /// The row for `doc`: each field's value by its path (fields whose path is missing
    /// or null are left out) and `$`, the document without its vectors.
    ///
    /// # Errors
    /// [`Error::JsonType`] naming the field, its path, what it takes and what it got.
    pub fn to_doc(&self, doc: &Json) -> Result<Doc> {
        let mut out = Doc::new();
        let mut body = doc.clone();
        for field in &self.fields {
            let matches = field.path.select(doc);
            let Some(value) = field_value(field, &matches)? else {
                continue;
            };
            if matches!(value, Value::Vector(_)) {
                // Vector paths are definite (checked with the schema): one location.
                field.path.set(&mut body, &Json::Null).map_err(|reason| {
                    Error::InvalidArgument {
                        reason: format!(
                            "cannot take the vector out of `{}`: {reason}",
                            field.path_text
                        ),
                    }
                })?;
            }
            out = out.with(&field.name, value);
        }
        Ok(out.with(JSON_DOCUMENT_FIELD, Value::Json(body.to_string())))
    }

    /// The whole document: the stored text of `$` with each vector the row has put
    /// back at its path.
    pub fn materialise<'v>(
        &self,
        body: &str,
        vector: impl Fn(usize) -> Option<&'v [f32]>,
    ) -> std::result::Result<Json, String> {
        let mut doc: Json =
            serde_json::from_str(body).map_err(|e| format!("stored JSON does not parse: {e}"))?;
        for field in self.vectors() {
            if let Some(components) = vector(field.position) {
                let array = Json::Array(components.iter().map(|c| f32_to_json(*c)).collect());
                field.path.set(&mut doc, &array)?;
            }
        }
        Ok(doc)
    }
}

/// An f32 as the shortest JSON number that reads back as it: `0.1f32` is `0.1`, not
/// `0.10000000149011612`, and an integral component is an integer (`1`, not `1.0`).
fn f32_to_json(component: f32) -> Json {
    if component.fract() == 0.0 && component.abs() < 9.0e15 {
        return Json::from(component as i64);
    }
    let shortest: f64 = component
        .to_string()
        .parse()
        .unwrap_or(f64::from(component));
    serde_json::Number::from_f64(shortest).map_or(Json::Null, Json::Number)
}

/// What a JSON value is, for messages.
fn describe(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The matches with each array's elements in its place (one level, as RediSearch
/// flattens `$.tags` holding an array, or `$.tags[*]` holding arrays) and nulls dropped.
fn flatten<'a>(matches: &[&'a Json]) -> Vec<&'a Json> {
    let mut out = Vec::new();
    for value in matches {
        match value {
            Json::Array(elements) => out.extend(elements.iter().filter(|e| !e.is_null())),
            Json::Null => {}
            other => out.push(*other),
        }
    }
    out
}

fn field_value(field: &Mapped, matches: &[&Json]) -> Result<Option<Value>> {
    let wrong = |expected: &'static str, found: String| Error::JsonType {
        field: field.name.clone(),
        path: field.path_text.clone(),
        expected,
        found,
    };
    match field.kind {
        FieldKind::Tag(options) => {
            const TAKES: &str = "a TAG field takes strings or booleans, arrays of them, or null";
            let mut tags = Vec::new();
            for value in flatten(matches) {
                let tag = match value {
                    Json::String(text) => text.clone(),
                    Json::Bool(flag) => flag.to_string(),
                    Json::Array(_) => return Err(wrong(TAKES, "an array inside an array".into())),
                    other => return Err(wrong(TAKES, describe(other).into())),
                };
                if options.separator == JSON_TAG_SEPARATOR && tag.contains(JSON_TAG_SEPARATOR) {
                    return Err(wrong(TAKES, "a string holding the character U+001F".into()));
                }
                tags.push(tag);
            }
            let mut raw = String::new();
            for (index, tag) in tags.iter().enumerate() {
                if index > 0 {
                    raw.push(options.separator);
                }
                raw.push_str(tag);
            }
            Ok((!tags.is_empty()).then_some(Value::Tag(raw)))
        }
        FieldKind::Text(_) => {
            const TAKES: &str = "a TEXT field takes a string, an array of strings, or null";
            let mut parts = Vec::new();
            for value in flatten(matches) {
                match value {
                    Json::String(text) => parts.push(text.as_str()),
                    Json::Array(_) => return Err(wrong(TAKES, "an array inside an array".into())),
                    other => return Err(wrong(TAKES, describe(other).into())),
                }
            }
            Ok((!parts.is_empty()).then(|| Value::Text(parts.join(" "))))
        }
        FieldKind::Numeric => {
            const TAKES: &str =
                "a NUMERIC field takes one number or null (Strata indexes one number per document)";
            let values = flatten(matches);
            match values.as_slice() {
                [] => Ok(None),
                [Json::Number(number)] => {
                    Ok(Some(Value::Numeric(number.as_f64().unwrap_or(f64::NAN))))
                }
                [other] => Err(wrong(TAKES, describe(other).into())),
                more => Err(wrong(TAKES, format!("{} values", more.len()))),
            }
        }
        FieldKind::Vector(_) => {
            const TAKES: &str = "a VECTOR field takes one array of numbers or null";
            let present: Vec<&Json> = matches.iter().copied().filter(|m| !m.is_null()).collect();
            match present.as_slice() {
                [] => Ok(None),
                [Json::Array(elements)] => {
                    let mut vector = Vec::with_capacity(elements.len());
                    for (index, element) in elements.iter().enumerate() {
                        let Some(number) = element.as_f64() else {
                            return Err(wrong(
                                TAKES,
                                format!("{} at index {index}", describe(element)),
                            ));
                        };
                        vector.push(number as f32);
                    }
                    Ok(Some(Value::Vector(vector)))
                }
                [other] => Err(wrong(TAKES, describe(other).into())),
                more => Err(wrong(TAKES, format!("{} matches of the path", more.len()))),
            }
        }
        FieldKind::Json => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::{Metric, VectorIndex};
    use serde_json::json;

    fn schema() -> Schema {
        Schema::builder()
            .json_tag("$.metadata.category", "category")
            .json_tag("$.tags[*]", "tags")
            .json_numeric("$.price", "price")
            .json_vector(
                "$.embedding",
                "embedding",
                3,
                Metric::L2,
                VectorIndex::flat(),
            )
            .json_text("$.body", "body")
            .build()
            .unwrap()
    }

    fn row(doc: Json) -> Result<Doc> {
        Mapping::of(&schema()).unwrap().to_doc(&doc)
    }

    #[test]
    fn fields_come_from_their_paths_and_the_vector_leaves_the_body() {
        let doc = json!({
            "metadata": {"category": "shoes"}, "tags": ["Red", true, null],
            "price": 10, "embedding": [0.1, 0.5, 1], "body": ["red", "shoes"], "extra": {"k": 1}
        });
        let row = row(doc.clone()).unwrap();
        assert_eq!(row.get_tag("category"), Some("shoes"));
        assert_eq!(row.get_tag("tags"), Some("Red\u{1f}true"));
        assert_eq!(row.get_numeric("price"), Some(10.0));
        assert_eq!(row.get_vector("embedding"), Some(&[0.1f32, 0.5, 1.0][..]));
        assert_eq!(row.get_text("body"), Some("red shoes"));
        let Some(Value::Json(body)) = row.get("$") else {
            panic!("no body")
        };
        let stored: Json = serde_json::from_str(body).unwrap();
        assert_eq!(stored["embedding"], Json::Null);
        let mapping = Mapping::of(&schema()).unwrap();
        let back = mapping
            .materialise(body, |position| {
                row.get_vector(&schema().fields()[position].name)
            })
            .unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn missing_and_null_values_leave_the_field_out() {
        let row =
            row(json!({"metadata": {}, "price": null, "embedding": null, "tags": "x"})).unwrap();
        assert_eq!(row.len(), 1, "{row:?}");
        assert!(row.get("$").is_some());
    }

    #[test]
    fn wrong_types_are_refused_naming_the_path() {
        for (doc, path, found) in [
            (
                json!({"metadata": {"category": 5}}),
                "$.metadata.category",
                "a number",
            ),
            (
                json!({"metadata": {"category": {"a": 1}}}),
                "$.metadata.category",
                "an object",
            ),
            (json!({"tags": [["a"], "b", [1]]}), "$.tags[*]", "a number"),
            (json!({"price": "20"}), "$.price", "a string"),
            (json!({"price": true}), "$.price", "a boolean"),
            (json!({"price": [1, 2]}), "$.price", "2 values"),
            (json!({"body": 5}), "$.body", "a number"),
            (
                json!({"embedding": [1, "2", 3]}),
                "$.embedding",
                "a string at index 1",
            ),
            (json!({"embedding": "abc"}), "$.embedding", "a string"),
            (
                json!({"embedding": [1, null, 3]}),
                "$.embedding",
                "null at index 1",
            ),
            (json!({"tags": ["a\u{1f}b"]}), "$.tags[*]", "U+001F"),
        ] {
            match row(doc.clone()) {
                Err(Error::JsonType {
                    path: got,
                    found: what,
                    ..
                }) => {
                    assert_eq!(got, path, "{doc}");
                    assert!(what.contains(found), "{doc}: {what}");
                }
                other => panic!("{doc}: {other:?}"),
            }
        }
    }

    #[test]
    fn components_come_back_in_their_shortest_form() {
        assert_eq!(f32_to_json(0.1), json!(0.1));
        assert_eq!(f32_to_json(-2.0), json!(-2));
        assert_eq!(f32_to_json(1.5e-7), json!(1.5e-7));
        assert_eq!(f32_to_json(3.0e20), json!(3.0e20));
    }
}

//! The JSON rules of a schema (RediSearch's `FT.CREATE ... ON JSON`): which fields
//! take their values from JSONPaths, and the field `$` that holds the document.

use crate::model::error::{Error, Result};
use crate::model::json_path::JsonPath;
use crate::model::schema::{Field, FieldKind};

/// The name of the field that holds the document itself, as RediSearch's `RETURN 1 $`.
pub const JSON_DOCUMENT_FIELD: &str = "$";

/// The separator of a JSON TAG field unless the schema gives one. RediSearch does not
/// split the strings of a JSON TAG field, so the values of a multi-valued field are
/// joined with a character no tag is expected to hold, and a tag holding it is refused.
pub const JSON_TAG_SEPARATOR: char = '\u{1f}';

/// Parses `text` as a JSONPath, or says where and why it does not parse.
pub(crate) fn parse_path(text: &str) -> Result<JsonPath> {
    JsonPath::parse(text).map_err(|e| Error::InvalidJsonPath {
        path: text.to_string(),
        pos: e.pos,
        reason: e.reason,
    })
}

/// The JSON rules of a schema: either no field has a path and none is `$`, or every
/// field but the last has a path that parses (a vector's names one location) and the
/// last is `$`, of kind [`FieldKind::Json`].
pub(crate) fn check_schema(fields: &[Field]) -> Result<()> {
    let invalid = |reason: String| Err(Error::InvalidSchema { reason });
    let json_fields = fields.iter().filter(|f| f.kind == FieldKind::Json).count();
    if fields.iter().all(|field| field.path.is_none()) {
        if json_fields > 0 {
            return invalid(
                "a JSON field (`$`) belongs only to a schema of JSONPath fields; declare \
                 them with json_tag, json_numeric, json_text, json_vector or json_field"
                    .to_string(),
            );
        }
        return Ok(());
    }
    let Some((last, mapped)) = fields.split_last() else {
        return Ok(());
    };
    if json_fields != 1 || last.kind != FieldKind::Json || last.name != JSON_DOCUMENT_FIELD {
        return invalid(format!(
            "a schema of JSONPath fields ends with one field `{JSON_DOCUMENT_FIELD}` of kind \
             JSON, which SchemaBuilder::build adds; do not declare it"
        ));
    }
    if last.path.is_some() {
        return invalid(format!("the field `{JSON_DOCUMENT_FIELD}` has no JSONPath"));
    }
    for field in mapped {
        let Some(text) = &field.path else {
            return invalid(format!(
                "field `{}` has no JSONPath; in a schema of JSON documents every field comes \
                 from one (json_tag, json_numeric, json_text, json_vector, json_field)",
                field.name
            ));
        };
        let path = parse_path(text)?;
        if matches!(field.kind, FieldKind::Vector(_)) && !path.is_definite() {
            return Err(Error::InvalidJsonPath {
                path: text.clone(),
                pos: 0,
                reason: format!(
                    "vector field `{}` needs a path to one location (no `*` or `..`): the \
                     vector is stored once, outside the document, and put back there",
                    field.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::error::Error;
    use crate::model::schema::{FieldKind, Metric, Schema, VectorIndex};

    #[test]
    fn json_schemas_are_checked() {
        let schema = Schema::builder()
            .json_tag("$.a", "a")
            .json_vector("$.v[0]", "v", 2, Metric::L2, VectorIndex::flat())
            .build()
            .unwrap();
        assert!(schema.is_json());
        assert_eq!(schema.fields().len(), 3);
        assert_eq!(schema.fields()[2].kind, FieldKind::Json);
        assert!(!Schema::builder().tag("a").build().unwrap().is_json());
        for builder in [
            Schema::builder().json_tag("$.a", "a").tag("b"),
            Schema::builder().field("$", FieldKind::Json),
            Schema::builder()
                .json_tag("$.a", "a")
                .field("$", FieldKind::Json),
            Schema::builder().json_tag("$.a", "$"),
            Schema::builder().json_tag("$.a", "a b"),
        ] {
            assert!(
                matches!(
                    builder.clone().build(),
                    Err(Error::InvalidSchema { .. }
                        | Error::InvalidName { .. }
                        | Error::DuplicateField { .. })
                ),
                "{builder:?}"
            );
        }
        for builder in [
            Schema::builder().json_tag("a", "a"),
            Schema::builder().json_numeric("$.a[", "a"),
            Schema::builder().json_vector("$.v[*]", "v", 2, Metric::L2, VectorIndex::flat()),
            Schema::builder().json_vector("$..v", "v", 2, Metric::L2, VectorIndex::flat()),
        ] {
            assert!(
                matches!(builder.clone().build(), Err(Error::InvalidJsonPath { .. })),
                "{builder:?}"
            );
        }
    }
}

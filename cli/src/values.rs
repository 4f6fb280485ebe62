//! Hash values to and from what collections store: field values converted for their
//! index field kinds (and back, byte for byte), and the `_rest` document encoding.

use serde_json::{json, Value as Json};
use strata::{FieldKind, Value};

use crate::keyspace::{Failure, Hash};

/// A stored value as the bytes a Redis client would get back.
pub fn value_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Text(s) | Value::Tag(s) | Value::Json(s) => s.as_bytes().to_vec(),
        Value::Numeric(x) => crate::resp::format_double(*x).into_bytes(),
        Value::Vector(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// A hash field's bytes as the value its index field takes, or why not. Redis would
/// store the hash and count an indexing failure; here the write is refused.
pub fn convert(key: &str, field: &str, kind: FieldKind, bytes: &[u8]) -> Result<Value, Failure> {
    let text = || {
        std::str::from_utf8(bytes).map(str::to_string).map_err(|_| {
            format!(
                "field `{field}` of `{key}` is not UTF-8 text, which its {} index field needs",
                kind.name()
            )
        })
    };
    Ok(match kind {
        // Only a collection made through the Rust API's JSON schemas has this field;
        // its documents are JSON, not hashes.
        FieldKind::Json => {
            return Err(format!(
                "`{key}` would go to a collection of JSON documents, which takes JSON.SET, \
                 not hash fields"
            ))
        }
        FieldKind::Text(_) => Value::Text(text()?),
        FieldKind::Tag(_) => Value::Tag(text()?),
        FieldKind::Numeric => {
            let t = text()?;
            let x: f64 = t.trim().parse().map_err(|_| {
                format!("field `{field}` of `{key}` is `{t}`, not a number, and its index field is NUMERIC")
            })?;
            Value::Numeric(x)
        }
        FieldKind::Vector(options) => {
            if bytes.len() != options.dim * 4 {
                return Err(format!(
                    "field `{field}` of `{key}` is {} bytes; its index field holds {}-dimensional FLOAT32 vectors ({} bytes)",
                    bytes.len(),
                    options.dim,
                    options.dim * 4
                ));
            }
            Value::Vector(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
    })
}

fn encode_bytes(bytes: &[u8]) -> Json {
    match std::str::from_utf8(bytes) {
        Ok(s) => Json::String(s.to_string()),
        Err(_) => json!({ "x": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

fn decode_bytes(json: &Json) -> Option<Vec<u8>> {
    match json {
        Json::String(s) => Some(s.as_bytes().to_vec()),
        Json::Object(o) => {
            let hex = o.get("x")?.as_str()?;
            (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect()
        }
        _ => None,
    }
}

/// The `_rest` document: a JSON array of `[name, value]`, each a string or, for bytes
/// that are not UTF-8, `{"x": hex}`.
pub fn encode_rest(hash: &Hash) -> String {
    Json::Array(
        hash.iter()
            .map(|(n, v)| Json::Array(vec![encode_bytes(n), encode_bytes(v)]))
            .collect(),
    )
    .to_string()
}

/// What a `_rest` document holds: the fields of a hash no index holds exactly, a JSON
/// document no JSON index watches (`{"json": doc}`), or a list (`{"list": [item..]}`,
/// items encoded as hash values are).
pub enum RestValue {
    Hash(Hash),
    Json(Json),
    List(Vec<Vec<u8>>),
}

fn damaged() -> Failure {
    "a `_rest` document is damaged; restore a backup".to_string()
}

/// The `_rest` document of a JSON document.
pub fn encode_json_rest(doc: &Json) -> String {
    json!({ "json": doc }).to_string()
}

/// The `_rest` document of a list.
pub fn encode_list_rest(items: &[Vec<u8>]) -> String {
    json!({ "list": items.iter().map(|i| encode_bytes(i)).collect::<Vec<_>>() }).to_string()
}

pub fn decode_rest_value(text: &str) -> Result<RestValue, Failure> {
    let json: Json = serde_json::from_str(text).map_err(|_| damaged())?;
    match json {
        Json::Array(pairs) => decode_pairs(&pairs).map(RestValue::Hash),
        Json::Object(mut o) => {
            if let Some(doc) = o.remove("json") {
                return Ok(RestValue::Json(doc));
            }
            o.get("list")
                .and_then(Json::as_array)
                .ok_or_else(damaged)?
                .iter()
                .map(|item| decode_bytes(item).ok_or_else(damaged))
                .collect::<Result<_, _>>()
                .map(RestValue::List)
        }
        _ => Err(damaged()),
    }
}

/// The hash of a `_rest` document; an error for one holding another kind of value.
pub fn decode_rest(text: &str) -> Result<Hash, Failure> {
    match decode_rest_value(text)? {
        RestValue::Hash(hash) => Ok(hash),
        _ => Err(crate::keyspace::WRONGTYPE.to_string()),
    }
}

fn decode_pairs(pairs: &[Json]) -> Result<Hash, Failure> {
    pairs
        .iter()
        .map(|pair| {
            let name = decode_bytes(pair.get(0).ok_or_else(damaged)?).ok_or_else(damaged)?;
            let value = decode_bytes(pair.get(1).ok_or_else(damaged)?).ok_or_else(damaged)?;
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_encoding_round_trips_binary() {
        let hash: Hash = vec![
            (b"a".to_vec(), vec![0xff, 0, 1]),
            (b"b".to_vec(), b"text".to_vec()),
        ];
        assert_eq!(decode_rest(&encode_rest(&hash)).unwrap(), hash);
        assert!(decode_rest("{").is_err());
        let items = vec![vec![0xff, 0], b"b".to_vec()];
        assert!(
            matches!(decode_rest_value(&encode_list_rest(&items)), Ok(RestValue::List(l)) if l == items)
        );
        let doc = json!({"a": [1, {"b": null}]});
        assert!(
            matches!(decode_rest_value(&encode_json_rest(&doc)), Ok(RestValue::Json(d)) if d == doc)
        );
        assert!(decode_rest(&encode_json_rest(&doc))
            .unwrap_err()
            .starts_with("WRONGTYPE"));
    }
}

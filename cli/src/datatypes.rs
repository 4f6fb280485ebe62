//! The JSON and list commands: `JSON.SET`, `JSON.GET`, `JSON.MGET`, `JSON.DEL`
//! (`JSON.FORGET`), and `LPUSH`, `RPUSH`, `LPUSHX`, `RPUSHX`, `LRANGE`, `LTRIM`, `LLEN`,
//! `LPOP`, `RPOP`, with RedisJSON's and Redis's replies.

use serde_json::Value as Json;
use strata::JsonPath;

use crate::ft::wrong_args;
use crate::keyspace::{Failure, Keyspace, SetCondition};
use crate::resp::Reply;

type Args<'a> = &'a [Vec<u8>];

fn err(message: impl AsRef<str>) -> Reply {
    let message = message.as_ref();
    if message.starts_with("WRONGTYPE") {
        Reply::error(message.to_string())
    } else {
        Reply::error(format!("ERR {message}"))
    }
}

fn text(arg: &[u8]) -> Result<&str, Failure> {
    std::str::from_utf8(arg).map_err(|_| "keys, paths and JSON must be UTF-8 text".to_string())
}

fn integer(arg: &[u8]) -> Result<i64, Failure> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "value is not an integer or out of range".to_string())
}

/// A path as given (RedisJSON's legacy `.a.b` or a JSONPath `$.a.b`) parsed as a
/// JSONPath, and whether it was legacy: legacy paths reply with one value, JSONPaths
/// with an array of every match.
fn path(arg: &str) -> Result<(JsonPath, bool), Failure> {
    let parsed = JsonPath::parse(&as_jsonpath(arg)).map_err(|e| e.to_string())?;
    Ok((parsed, !arg.starts_with('$')))
}

fn as_jsonpath(arg: &str) -> String {
    if arg.starts_with('$') {
        arg.to_string()
    } else if arg == "." {
        "$".to_string()
    } else if arg.starts_with('.') || arg.starts_with('[') {
        format!("${arg}")
    } else {
        format!("$.{arg}")
    }
}

/// `JSON.*` and list commands; `name` is upper case.
pub fn execute(ks: &Keyspace, name: &str, args: Args<'_>) -> Reply {
    let result = match name {
        "JSON.SET" => json_set(ks, args),
        "JSON.GET" => json_get(ks, args),
        "JSON.MGET" => json_mget(ks, args),
        "JSON.DEL" | "JSON.FORGET" => json_del(ks, name, args),
        "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" => match args {
            [key, values @ ..] if !values.is_empty() => text(key)
                .and_then(|k| ks.list_push(k, values, name.starts_with('L'), name.ends_with('X')))
                .map(Reply::Int),
            _ => return wrong_args(&name.to_ascii_lowercase()),
        },
        "LRANGE" => match args {
            [key, start, stop] => (|| {
                let items = ks.list_range(text(key)?, integer(start)?, integer(stop)?)?;
                Ok(Reply::Array(items.into_iter().map(Reply::Bulk).collect()))
            })(),
            _ => return wrong_args("lrange"),
        },
        "LTRIM" => match args {
            [key, start, stop] => (|| {
                ks.list_trim(text(key)?, integer(start)?, integer(stop)?)?;
                Ok(Reply::ok())
            })(),
            _ => return wrong_args("ltrim"),
        },
        "LLEN" => match args {
            [key] => text(key).and_then(|k| ks.list_len(k)).map(Reply::Int),
            _ => return wrong_args("llen"),
        },
        "LPOP" | "RPOP" => match args {
            [key] => text(key)
                .and_then(|k| ks.list_pop(k, name == "LPOP", 1))
                .map(|popped| match popped.and_then(|p| p.into_iter().next()) {
                    Some(item) => Reply::Bulk(item),
                    None => Reply::Nil,
                }),
            [key, count] => (|| {
                let count = usize::try_from(integer(count)?)
                    .map_err(|_| "value is out of range, must be positive".to_string())?;
                Ok(match ks.list_pop(text(key)?, name == "LPOP", count)? {
                    Some(items) => Reply::Array(items.into_iter().map(Reply::Bulk).collect()),
                    None => Reply::Nil,
                })
            })(),
            _ => return wrong_args(&name.to_ascii_lowercase()),
        },
        _ => Err(format!("{name} is not a JSON or list command")),
    };
    match result {
        Ok(reply) => reply,
        // RedisJSON's wording, without an error code, as it replies.
        Err(e) if e.starts_with("WRONGTYPE") && name.starts_with("JSON.") => {
            Reply::error("Existing key has wrong Redis type")
        }
        Err(e) => err(e),
    }
}

fn json_set(ks: &Keyspace, args: Args<'_>) -> Result<Reply, Failure> {
    let (key, path_arg, value, condition) = match args {
        [key, path, value] => (key, path, value, SetCondition::Always),
        [key, path, value, flag] => {
            let condition = match text(flag)?.to_ascii_uppercase().as_str() {
                "NX" => SetCondition::Nx,
                "XX" => SetCondition::Xx,
                _ => return Err("syntax error".to_string()),
            };
            (key, path, value, condition)
        }
        _ => return Ok(wrong_args("json.set")),
    };
    let (path, _) = path(text(path_arg)?)?;
    let value: Json = serde_json::from_str(text(value)?).map_err(|e| e.to_string())?;
    Ok(if ks.json_set(text(key)?, &path, value, condition)? {
        Reply::ok()
    } else {
        Reply::Nil
    })
}

/// `JSON.GET key [INDENT s] [NEWLINE s] [SPACE s] [path ..]`.
fn json_get(ks: &Keyspace, args: Args<'_>) -> Result<Reply, Failure> {
    let Some((key, rest)) = args.split_first() else {
        return Ok(wrong_args("json.get"));
    };
    let mut style = Style::default();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let word = text(&rest[i])?;
        let slot = match word.to_ascii_uppercase().as_str() {
            "INDENT" => Some(&mut style.indent),
            "NEWLINE" => Some(&mut style.newline),
            "SPACE" => Some(&mut style.space),
            "NOESCAPE" => {
                i += 1;
                continue;
            }
            _ => None,
        };
        match slot {
            Some(slot) => {
                *slot = text(rest.get(i + 1).ok_or("syntax error")?)?.to_string();
                i += 2;
            }
            None => {
                paths.push((word.to_string(), path(word)?));
                i += 1;
            }
        }
    }
    let Some(doc) = ks.json_get(text(key)?)? else {
        return Ok(Reply::Nil);
    };
    let out = match paths.as_slice() {
        [] => doc,
        [(given, (path, legacy))] => one_path(&doc, given, path, *legacy)?,
        _ => {
            let any_jsonpath = paths.iter().any(|(_, (_, legacy))| !legacy);
            let mut object = serde_json::Map::new();
            for (given, (path, legacy)) in &paths {
                object.insert(
                    given.clone(),
                    one_path(&doc, given, path, *legacy && !any_jsonpath)?,
                );
            }
            Json::Object(object)
        }
    };
    Ok(Reply::Bulk(style.format(&out).into_bytes()))
}

/// What one path gives: every match as an array for a JSONPath, the first match for
/// a legacy path (an error when there is none, as RedisJSON replies).
fn one_path(doc: &Json, given: &str, path: &JsonPath, legacy: bool) -> Result<Json, Failure> {
    let matches = path.select(doc);
    if !legacy {
        return Ok(Json::Array(matches));
    }
    // RedisJSON names the path as the JSONPath it read the legacy one as.
    matches
        .into_iter()
        .next()
        .ok_or_else(|| format!("Path '{}' does not exist", as_jsonpath(given)))
}

/// `JSON.MGET key [key ..] path`: per key the path's value, nil for a missing key or
/// one holding another type.
fn json_mget(ks: &Keyspace, args: Args<'_>) -> Result<Reply, Failure> {
    let Some((path_arg, keys)) = args.split_last() else {
        return Ok(wrong_args("json.mget"));
    };
    if keys.is_empty() {
        return Ok(wrong_args("json.mget"));
    }
    let given = text(path_arg)?;
    let (path, legacy) = path(given)?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let doc = match ks.json_get(text(key)?) {
            Ok(Some(doc)) => doc,
            Ok(None) => {
                out.push(Reply::Nil);
                continue;
            }
            Err(e) if e.starts_with("WRONGTYPE") => {
                out.push(Reply::Nil);
                continue;
            }
            Err(e) => return Err(e),
        };
        out.push(match one_path(&doc, given, &path, legacy) {
            Ok(value) => Reply::Bulk(value.to_string().into_bytes()),
            Err(_) => Reply::Nil,
        });
    }
    Ok(Reply::Array(out))
}

fn json_del(ks: &Keyspace, name: &str, args: Args<'_>) -> Result<Reply, Failure> {
    let (key, path_text) = match args {
        [key] => (key, "$"),
        [key, path] => (key, text(path)?),
        _ => return Ok(wrong_args(&name.to_ascii_lowercase())),
    };
    let (path, _) = path(path_text)?;
    ks.json_del(text(key)?, &path).map(Reply::Int)
}

/// `JSON.GET`'s formatting: compact unless INDENT, NEWLINE or SPACE say otherwise.
#[derive(Default)]
struct Style {
    indent: String,
    newline: String,
    space: String,
}

impl Style {
    fn format(&self, value: &Json) -> String {
        let mut out = String::new();
        self.write(value, 0, &mut out);
        out
    }

    fn write(&self, value: &Json, level: usize, out: &mut String) {
        let (open, close, items): (char, char, Vec<(Option<&String>, &Json)>) = match value {
            Json::Object(members) => (
                '{',
                '}',
                members.iter().map(|(k, v)| (Some(k), v)).collect(),
            ),
            Json::Array(elements) => ('[', ']', elements.iter().map(|v| (None, v)).collect()),
            scalar => {
                out.push_str(&scalar.to_string());
                return;
            }
        };
        out.push(open);
        if items.is_empty() {
            out.push(close);
            return;
        }
        for (i, (name, item)) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&self.newline);
            out.push_str(&self.indent.repeat(level + 1));
            if let Some(name) = name {
                out.push_str(&Json::String(name.clone()).to_string());
                out.push(':');
                out.push_str(&self.space);
            }
            self.write(item, level + 1, out);
        }
        out.push_str(&self.newline);
        out.push_str(&self.indent.repeat(level));
        out.push(close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_paths_become_jsonpaths() {
        let doc = serde_json::json!({"a": {"b": [1, 2]}});
        for (given, legacy, want) in [
            (".", true, serde_json::json!([doc.clone()])),
            ("$", false, serde_json::json!([doc.clone()])),
            (".a.b", true, serde_json::json!([[1, 2]])),
            ("a.b[1]", true, serde_json::json!([2])),
            ("$.a.b[*]", false, serde_json::json!([1, 2])),
        ] {
            let (path, is_legacy) = path(given).unwrap();
            assert_eq!(is_legacy, legacy, "{given}");
            assert_eq!(Json::Array(path.select(&doc)), want, "{given}");
        }
        assert!(path("$.a[?(@.b)]").is_err());
    }

    #[test]
    fn json_get_formats_as_redisjson_does() {
        let doc = serde_json::json!({"a": [1, {}], "b": "x"});
        assert_eq!(Style::default().format(&doc), r#"{"a":[1,{}],"b":"x"}"#);
        let style = Style {
            indent: "  ".into(),
            newline: "\n".into(),
            space: " ".into(),
        };
        assert_eq!(
            style.format(&doc),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": \"x\"\n}"
        );
    }
}

//! The data set's side files: `meta.jsonl` (one JSON object of fields per base row)
//! and `gt_filtered.json` (filters in RediSearch syntax with their exact top-k).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use crate::{BenchError, Result};

/// The fields of one base row that the bench ingests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    /// `text`: the summary, a TEXT field.
    pub text: Option<String>,
    /// `topic`: one or more tags, a TAG field.
    pub topics: Vec<String>,
    /// `year`: a NUMERIC field; absent on some rows.
    pub year: Option<f64>,
    /// `popularity`: a NUMERIC field.
    pub popularity: Option<f64>,
}

/// Reads the first `limit` rows (all when `None`) of a `meta.jsonl` file.
pub fn read_meta(path: &Path, limit: Option<usize>) -> Result<Vec<Meta>> {
    let shown = path.display();
    let file = File::open(path)
        .map_err(|e| BenchError::new(format!("cannot open meta file {shown}: {e}")))?;
    let mut rows = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        if limit.is_some_and(|limit| rows.len() >= limit) {
            break;
        }
        let line = line.map_err(|e| BenchError::new(format!("cannot read {shown}: {e}")))?;
        let at = |what: String| BenchError::new(format!("{shown}:{}: {what}", index + 1));
        if line.trim().is_empty() {
            return Err(at("empty line; every base row needs its object".to_string()));
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|e| at(format!("invalid JSON: {e}")))?;
        rows.push(parse_meta(&value).map_err(at)?);
    }
    Ok(rows)
}

fn parse_meta(value: &Value) -> std::result::Result<Meta, String> {
    let object = value.as_object().ok_or("expected a JSON object")?;
    let text = match object.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => return Err(format!("`text` should be a string, got {other}")),
    };
    let topics = match object.get("topic") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(topic)) => vec![topic.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`topic` items should be strings, got {item}"))
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(other) => return Err(format!("`topic` should be a list of strings, got {other}")),
    };
    let number = |field: &str| match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(format!("`{field}` should be a number, got {other}")),
    };
    Ok(Meta {
        text,
        topics,
        year: number("year")?,
        popularity: number("popularity")?,
    })
}

/// One filter of `gt_filtered.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterSpec {
    /// Short name, such as `sel_10pct`.
    pub name: String,
    /// The filter in RediSearch dialect-2 syntax, such as `@topic:{devops}`.
    pub filter: String,
    /// Fraction of base rows that match, when the file says.
    pub selectivity: Option<f64>,
    /// The queries (rows of the query file) this filter is measured with.
    pub query_ids: Vec<usize>,
    /// Exact filtered top-k base ids for each of `query_ids`, nearest first; shorter
    /// than k when fewer rows match.
    pub gt: Vec<Vec<u32>>,
}

/// Reads `gt_filtered.json`: `{"filters": [{"name", "filter", "query_ids", "gt", ...}]}`.
pub fn read_filters(path: &Path) -> Result<Vec<FilterSpec>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| BenchError::new(format!("cannot read filters file {shown}: {e}")))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| BenchError::new(format!("{shown}: invalid JSON: {e}")))?;
    parse_filters(&value).map_err(|e| BenchError::new(format!("{shown}: {e}")))
}

fn parse_filters(value: &Value) -> std::result::Result<Vec<FilterSpec>, String> {
    let filters = value
        .get("filters")
        .and_then(Value::as_array)
        .ok_or("expected an object with a `filters` array")?;
    filters
        .iter()
        .enumerate()
        .map(|(index, filter)| parse_filter(filter).map_err(|e| format!("filters[{index}]: {e}")))
        .collect()
}

fn parse_filter(value: &Value) -> std::result::Result<FilterSpec, String> {
    let string = |field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(format!("`{field}` should be a string"))
    };
    let ids = |item: &Value, what: &str| -> std::result::Result<Vec<u64>, String> {
        item.as_array()
            .ok_or(format!("`{what}` should be an array"))?
            .iter()
            .map(|id| {
                id.as_u64()
                    .ok_or(format!("`{what}` holds {id}, not a non-negative integer"))
            })
            .collect()
    };
    let query_ids = ids(value.get("query_ids").unwrap_or(&Value::Null), "query_ids")?
        .into_iter()
        .map(|id| usize::try_from(id).map_err(|_| format!("query id {id} out of range")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let gt = value
        .get("gt")
        .and_then(Value::as_array)
        .ok_or("`gt` should be an array of arrays")?
        .iter()
        .map(|row| {
            ids(row, "gt")?
                .into_iter()
                .map(|id| u32::try_from(id).map_err(|_| format!("gt id {id} out of range")))
                .collect()
        })
        .collect::<std::result::Result<Vec<Vec<u32>>, String>>()?;
    if gt.len() != query_ids.len() {
        return Err(format!(
            "{} query ids but {} ground-truth rows",
            query_ids.len(),
            gt.len()
        ));
    }
    Ok(FilterSpec {
        name: string("name")?,
        filter: string("filter")?,
        selectivity: value.get("selectivity").and_then(Value::as_f64),
        query_ids,
        gt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn meta_rows_parse_with_optional_fields() {
        let full = json!({"id": "pypi:x", "name": "x", "text": "a b", "topic": ["ai", "web"],
                          "year": 2024, "popularity": 7});
        let meta = parse_meta(&full).unwrap();
        assert_eq!(meta.topics, ["ai", "web"]);
        assert_eq!((meta.year, meta.popularity), (Some(2024.0), Some(7.0)));
        assert_eq!(parse_meta(&json!({})).unwrap(), Meta::default());
        assert!(parse_meta(&json!({"year": "2024"}))
            .unwrap_err()
            .contains("`year`"));
        assert!(parse_meta(&json!([1])).is_err());
    }

    #[test]
    fn meta_file_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.jsonl");
        std::fs::write(&path, "{\"text\": \"ok\"}\n{broken\n").unwrap();
        let message = read_meta(&path, None).unwrap_err().to_string();
        assert!(message.contains("meta.jsonl:2: invalid JSON"), "{message}");
        assert_eq!(read_meta(&path, Some(1)).unwrap().len(), 1);
    }

    #[test]
    fn filters_parse_and_are_checked() {
        let file = json!({"filters": [{"name": "sel", "filter": "@topic:{ai}",
            "selectivity": 0.1, "query_ids": [0, 3], "gt": [[5, 1], [2]]}]});
        let filters = parse_filters(&file).unwrap();
        assert_eq!(filters[0].query_ids, [0, 3]);
        assert_eq!(filters[0].gt, vec![vec![5, 1], vec![2]]);

        let short = json!({"filters": [{"name": "s", "filter": "f", "query_ids": [0], "gt": []}]});
        assert!(parse_filters(&short)
            .unwrap_err()
            .contains("1 query ids but 0"));
        let negative =
            json!({"filters": [{"name": "s", "filter": "f", "query_ids": [-1], "gt": [[]]}]});
        assert!(parse_filters(&negative).is_err());
        assert!(parse_filters(&json!({})).is_err());
    }
}

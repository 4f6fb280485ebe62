//! `FT.CREATE` arguments to a Strata schema, and the index description `FT.INFO`
//! prints. The arguments are kept as given (in the server's catalog collection) and
//! parsed again on every start, so this parser is the one definition of an index.

use strata::{FieldKind, Metric, Schema, TagOptions, TextOptions, VectorIndex, VectorOptions};

/// One field of an index: the hash field it reads, the attribute name queries use
/// (`AS`), and its kind.
#[derive(Clone, Debug)]
pub struct IndexField {
    pub hash_name: String,
    pub attribute: String,
    pub kind: FieldKind,
    pub sortable: bool,
    /// Default `EF_RUNTIME` of an HNSW field, applied to KNN clauses that give none.
    pub ef_runtime: Option<usize>,
}

/// A parsed `FT.CREATE`.
#[derive(Clone, Debug)]
pub struct IndexDef {
    /// Key prefixes the index watches; empty watches every key, as in Redis.
    pub prefixes: Vec<String>,
    pub fields: Vec<IndexField>,
    pub skip_initial_scan: bool,
    /// `ON JSON`: the index watches JSON documents, its fields are JSONPaths.
    pub on_json: bool,
    /// The arguments it was parsed from (after the index name).
    pub args: Vec<String>,
}

impl IndexDef {
    /// The Strata schema of the index's collection.
    pub fn schema(&self) -> Result<Schema, String> {
        let mut builder = Schema::builder();
        for field in &self.fields {
            builder = if self.on_json {
                builder.json_field(&field.hash_name, &field.attribute, field.kind)
            } else {
                builder.field(&field.attribute, field.kind)
            };
        }
        builder.build().map_err(|e| e.to_string())
    }

    /// Whether the index watches `key`.
    pub fn watches(&self, key: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }
}

struct Args<'a> {
    args: &'a [String],
    at: usize,
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let arg = self.args.get(self.at)?;
        self.at += 1;
        Some(arg.as_str())
    }

    fn peek_is(&self, word: &str) -> bool {
        self.args
            .get(self.at)
            .is_some_and(|a| a.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, what: &str) -> Result<&'a str, String> {
        self.next()
            .ok_or_else(|| format!("Missing argument: expected {what}"))
    }

    fn count(&mut self, what: &str) -> Result<usize, String> {
        let arg = self.expect(what)?;
        arg.parse()
            .map_err(|_| format!("Bad arguments for {what}: `{arg}` is not a whole number"))
    }
}

/// Parses the arguments after the index name. Errors are the text of a Redis error
/// reply (without the `ERR ` code).
pub fn parse(args: &[String]) -> Result<IndexDef, String> {
    let mut def = IndexDef {
        prefixes: Vec::new(),
        fields: Vec::new(),
        skip_initial_scan: false,
        on_json: false,
        args: args.to_vec(),
    };
    let mut args = Args { args, at: 0 };
    loop {
        let Some(word) = args.next() else {
            return Err("No schema found".to_string());
        };
        match word.to_ascii_uppercase().as_str() {
            "ON" => {
                let kind = args.expect("HASH or JSON after ON")?;
                if kind.eq_ignore_ascii_case("JSON") {
                    def.on_json = true;
                } else if !kind.eq_ignore_ascii_case("HASH") {
                    return Err(format!(
                        "Unknown index type `{kind}`: use ON HASH or ON JSON"
                    ));
                }
            }
            "PREFIX" => {
                let n = args.count("PREFIX count")?;
                for _ in 0..n {
                    let prefix = args.expect("a prefix")?;
                    // An empty prefix watches every key; Redis treats it the same way.
                    if !prefix.is_empty() {
                        def.prefixes.push(prefix.to_string());
                    } else {
                        def.prefixes.clear();
                        def.prefixes.push(String::new());
                    }
                }
                if def.prefixes.iter().any(String::is_empty) {
                    def.prefixes.clear();
                }
            }
            "STOPWORDS" => {
                // Stop words shape full-text search, which this server does not do yet,
                // so they cannot change any answer; the list is kept with the index.
                let n = args.count("STOPWORDS count")?;
                for _ in 0..n {
                    args.expect("a stop word")?;
                }
            }
            "LANGUAGE" => {
                let language = args.expect("a language")?;
                if !language.eq_ignore_ascii_case("english") {
                    return Err(format!(
                        "LANGUAGE {language} is not available: only the default, english"
                    ));
                }
            }
            "SCORE" => {
                let score = args.expect("a default score")?;
                if score.parse::<f64>() != Ok(1.0) {
                    return Err("SCORE other than 1 needs a text scorer, which this server does not have yet".to_string());
                }
            }
            "MAXTEXTFIELDS" | "NOOFFSETS" | "NOHL" | "NOFIELDS" | "NOFREQS" => {}
            "SKIPINITIALSCAN" => def.skip_initial_scan = true,
            "FILTER" | "TEMPORARY" | "LANGUAGE_FIELD" | "SCORE_FIELD" | "PAYLOAD_FIELD" => {
                return Err(format!(
                    "FT.CREATE option {word} is not available on this server; create the index without it"
                ));
            }
            "SCHEMA" => break,
            _ => return Err(format!("Unknown argument `{word}`")),
        }
    }
    while let Some(name) = args.next() {
        let mut attribute = name.to_string();
        if args.peek_is("AS") {
            args.next();
            attribute = args.expect("an attribute name after AS")?.to_string();
        } else if def.on_json {
            return Err(format!(
                "JSON field `{name}` needs a name: write `{name} AS name`, and query it as @name"
            ));
        }
        let kind_word = args
            .next()
            .ok_or_else(|| format!("Field `{name}` has no type"))?;
        let mut field = IndexField {
            hash_name: name.to_string(),
            attribute,
            kind: FieldKind::Text(TextOptions::default()),
            sortable: false,
            ef_runtime: None,
        };
        match kind_word.to_ascii_uppercase().as_str() {
            "TEXT" => {
                let mut options = TextOptions::default();
                loop {
                    if args.peek_is("WEIGHT") {
                        args.next();
                        let value = args.expect("a weight")?;
                        options.weight = value
                            .parse::<f64>()
                            .map_err(|_| format!("Invalid WEIGHT `{value}` for field `{name}`"))?;
                    } else if args.peek_is("NOSTEM") {
                        args.next();
                        options.no_stem = true;
                    } else if args.peek_is("PHONETIC") {
                        args.next();
                        args.expect("a value")?;
                    } else if !flag(&mut args, &mut field.sortable, &["WITHSUFFIXTRIE"]) {
                        break;
                    }
                }
                field.kind = FieldKind::Text(options);
            }
            "TAG" => {
                let mut options = TagOptions::default();
                if def.on_json {
                    // RediSearch does not split a JSON TAG's strings unless told to.
                    options.separator = strata::JSON_TAG_SEPARATOR;
                }
                loop {
                    if args.peek_is("SEPARATOR") {
                        args.next();
                        let sep = args.expect("a separator")?;
                        let mut chars = sep.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) if c.is_ascii() => options.separator = c,
                            _ => {
                                return Err(format!(
                                    "Tag separator must be a single character. Got `{sep}`"
                                ))
                            }
                        }
                    } else if args.peek_is("CASESENSITIVE") {
                        args.next();
                        options.case_sensitive = true;
                    } else if !flag(&mut args, &mut field.sortable, &["WITHSUFFIXTRIE"]) {
                        break;
                    }
                }
                field.kind = FieldKind::Tag(options);
            }
            "NUMERIC" => {
                field.kind = FieldKind::Numeric;
                while flag(&mut args, &mut field.sortable, &[]) {}
            }
            "VECTOR" => {
                let (options, ef) = parse_vector(&mut args, name)?;
                field.kind = FieldKind::Vector(options);
                field.ef_runtime = ef;
            }
            "GEO" | "GEOSHAPE" => {
                return Err(format!(
                    "Field `{name}`: {kind_word} fields are not available on this server"
                ))
            }
            _ => return Err(format!("Invalid field type for field `{name}`")),
        }
        def.fields.push(field);
    }
    if def.fields.is_empty() {
        return Err("Fields arguments are missing".to_string());
    }
    Ok(def)
}

/// Consumes one field flag that does not change answers here (SORTABLE, NOINDEX,
/// ...); false when the next argument is not one.
fn flag(args: &mut Args<'_>, sortable: &mut bool, extra: &[&str]) -> bool {
    const COMMON: [&str; 5] = ["SORTABLE", "UNF", "NOINDEX", "INDEXEMPTY", "INDEXMISSING"];
    for word in COMMON.iter().chain(extra) {
        if args.peek_is(word) {
            args.next();
            if *word == "SORTABLE" {
                *sortable = true;
            }
            return true;
        }
    }
    false
}

fn parse_vector(args: &mut Args<'_>, name: &str) -> Result<(VectorOptions, Option<usize>), String> {
    let algorithm = args
        .expect("a vector algorithm (FLAT, HNSW or IVF_PQ)")?
        .to_ascii_uppercase();
    let n = args.count("the number of vector attributes")?;
    if n % 2 != 0 {
        return Err(format!(
            "Bad arguments for vector similarity number of parameters: {n} is odd"
        ));
    }
    let (mut dim, mut metric, mut ty) = (None, None, None);
    let (mut m, mut ef_construction, mut ef_runtime) = (None, None, None);
    let mut nlist = None;
    for _ in 0..n / 2 {
        let key = args.expect("a vector attribute")?.to_ascii_uppercase();
        let value = args.expect("a vector attribute value")?;
        let number = || {
            value.parse::<usize>().map_err(|_| {
                format!("Bad arguments for vector similarity {key} of field `{name}`: `{value}` is not a whole number")
            })
        };
        match key.as_str() {
            "TYPE" => ty = Some(value.to_ascii_uppercase()),
            "DIM" => dim = Some(number()?),
            "DISTANCE_METRIC" => {
                metric = Some(match value.to_ascii_uppercase().as_str() {
                    "COSINE" => Metric::Cosine,
                    "L2" => Metric::L2,
                    "IP" => Metric::InnerProduct,
                    _ => return Err(format!("Bad arguments for vector similarity DISTANCE_METRIC: `{value}` (use COSINE, L2 or IP)")),
                })
            }
            "M" => m = Some(number()?),
            "EF_CONSTRUCTION" => ef_construction = Some(number()?),
            "EF_RUNTIME" => ef_runtime = Some(number()?),
            "NLIST" => nlist = Some(number()?),
            // Capacity hints and the range-search default do not change answers here.
            "INITIAL_CAP" | "BLOCK_SIZE" => {
                number()?;
            }
            "EPSILON" => {
                value.parse::<f64>().map_err(|_| format!("Bad arguments for vector similarity EPSILON: `{value}`"))?;
            }
            _ => return Err(format!("Bad arguments for vector similarity {algorithm} index params: unknown attribute `{key}`")),
        }
    }
    match ty.as_deref() {
        Some("FLOAT32") => {}
        Some(other) => return Err(format!("Field `{name}`: vector TYPE {other} is not available; use FLOAT32")),
        None => return Err(format!("Missing mandatory parameter: cannot create {algorithm} index without specifying TYPE argument")),
    }
    let dim = dim.ok_or_else(|| format!("Missing mandatory parameter: cannot create {algorithm} index without specifying DIM argument"))?;
    let metric = metric.ok_or_else(|| format!("Missing mandatory parameter: cannot create {algorithm} index without specifying DISTANCE_METRIC argument"))?;
    let index = match algorithm.as_str() {
        "FLAT" => VectorIndex::flat(),
        "HNSW" => VectorIndex::hnsw(m.unwrap_or(16), ef_construction.unwrap_or(200)),
        "IVF_PQ" => VectorIndex::ivf_pq(
            nlist.ok_or("Missing mandatory parameter: IVF_PQ needs NLIST")?,
            m.ok_or("Missing mandatory parameter: IVF_PQ needs M")?,
        ),
        _ => return Err(format!("Bad arguments for vector similarity algorithm: `{algorithm}` (use FLAT, HNSW or IVF_PQ)")),
    };
    Ok((VectorOptions { dim, metric, index }, ef_runtime))
}

/// The metric's RediSearch name.
pub fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Cosine => "COSINE",
        Metric::L2 => "L2",
        Metric::InnerProduct => "IP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn redis_py_and_redisvl_forms_parse() {
        let def = parse(&args(
            "ON HASH PREFIX 1 doc: SCHEMA title TEXT WEIGHT 1.0 SORTABLE genre TAG SEPARATOR | \
             price NUMERIC SORTABLE v VECTOR HNSW 10 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE M 8 EF_RUNTIME 50",
        ))
        .unwrap();
        assert_eq!(def.prefixes, vec!["doc:"]);
        assert_eq!(def.fields.len(), 4);
        assert!(matches!(
            def.fields[1].kind,
            FieldKind::Tag(TagOptions { separator: '|', .. })
        ));
        assert_eq!(def.fields[3].ef_runtime, Some(50));
        assert!(def.schema().is_ok());
        assert!(def.watches("doc:1") && !def.watches("user:1"));
    }

    #[test]
    fn json_definitions_map_paths_to_attributes() {
        let def = parse(&args(
            "ON JSON PREFIX 1 j: SCHEMA $.meta.tags[*] AS tags TAG $.price AS price NUMERIC \
             $.v AS v VECTOR FLAT 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2",
        ))
        .unwrap();
        assert!(def.on_json);
        let schema = def.schema().unwrap();
        assert!(schema.is_json());
        let (_, tags) = schema.field("tags").unwrap();
        assert_eq!(tags.path.as_deref(), Some("$.meta.tags[*]"));
        assert!(matches!(
            tags.kind,
            FieldKind::Tag(TagOptions {
                separator: strata::JSON_TAG_SEPARATOR,
                ..
            })
        ));
    }

    #[test]
    fn bad_definitions_say_what_is_wrong() {
        assert_eq!(
            parse(&args("SCHEMA a BOGUS")).unwrap_err(),
            "Invalid field type for field `a`"
        );
        assert!(parse(&args("ON HASH")).unwrap_err().contains("No schema"));
        assert!(
            parse(&args("SCHEMA v VECTOR FLAT 4 DIM 3 DISTANCE_METRIC L2"))
                .unwrap_err()
                .contains("TYPE")
        );
        assert!(parse(&args(
            "SCHEMA v VECTOR FLAT 6 TYPE FLOAT64 DIM 3 DISTANCE_METRIC L2"
        ))
        .unwrap_err()
        .contains("FLOAT32"));
        assert!(parse(&args("ON JSON SCHEMA $.a TEXT"))
            .unwrap_err()
            .contains("AS"));
        assert!(parse(&args("ON XML SCHEMA a TEXT"))
            .unwrap_err()
            .contains("ON JSON"));
    }
}

//! The KNN clause and the `=>{$name: value; ...}` attribute blocks of vector queries.

use crate::ast::{Filter, HybridPolicy, Value, VectorClause};
use crate::error::QueryError;
use crate::parser::Parser;

/// Largest `NPROBE`: the most lists an IVF-PQ index can have.
pub const MAX_NPROBE: u64 = 1 << 16;
/// Largest `REFINE`: re-ranking more than 1,000 k candidates is an exact search.
pub const MAX_REFINE: u64 = 1_000;

/// Attributes RediSearch accepts on text nodes; named so the error says "not
/// supported" rather than "unknown".
const TEXT_ATTRIBUTES: [&str; 4] = ["WEIGHT", "SLOP", "INORDER", "PHONETIC"];

impl Parser<'_> {
    /// `[KNN k @field $vec (EF_RUNTIME n | HYBRID_POLICY p | BATCH_SIZE b | NPROBE p |
    /// REFINE r)* (AS alias)]`;
    /// the cursor is on `[`. As in RediSearch, `AS` can only come last.
    pub(crate) fn parse_knn(&mut self) -> Result<VectorClause, QueryError> {
        let open = self.cursor.pos();
        self.cursor.bump();
        self.cursor.skip_space();
        let keyword_start = self.cursor.pos();
        let keyword = self.cursor.read_word()?;
        if !keyword.eq_ignore_ascii_case("KNN") {
            let expected = if keyword.eq_ignore_ascii_case("VECTOR_RANGE") {
                "`KNN` (VECTOR_RANGE goes in a field predicate: `@field:[VECTOR_RANGE r $vec]`)"
            } else {
                "`KNN`"
            };
            return Err(self.cursor.error_at(keyword_start, expected));
        }
        self.cursor.skip_space();
        // `KNN 0` is valid in RediSearch: it matches nothing (a zero total).
        let k = self.parse_count_value(
            "the number of neighbours k: a whole number or a `$parameter`",
            0,
            self.limits.max_k,
            "KNN k",
        )?;
        self.cursor.skip_space();
        if !self.cursor.eat('@') {
            return Err(self.cursor.error("`@field` naming the vector field"));
        }
        let field = self.cursor.read_name("a field name after `@`")?;
        self.cursor.skip_space();
        let vector_param = self.parse_vector_param()?;
        let mut clause = VectorClause {
            k,
            field,
            vector_param,
            ef_runtime: None,
            hybrid_policy: None,
            batch_size: None,
            nprobe: None,
            refine: None,
            alias: None,
        };
        loop {
            self.cursor.skip_space();
            if self.cursor.eat(']') {
                return Ok(clause);
            }
            let name_start = self.cursor.pos();
            let name = self.cursor.read_word()?.to_ascii_uppercase();
            match name.as_str() {
                "EF_RUNTIME" | "HYBRID_POLICY" | "BATCH_SIZE" | "NPROBE" | "REFINE" => {
                    self.cursor.skip_space();
                    self.parse_knn_parameter(&mut clause, &name, name_start)?;
                }
                "AS" => {
                    self.cursor.skip_space();
                    clause.alias = Some(self.cursor.read_name("a name for the distance after AS")?);
                    self.cursor.skip_space();
                    if !self.cursor.eat(']') {
                        return Err(self.cursor.error(format!(
                            "`]` to close the KNN clause opened at byte {open} (AS comes last)"
                        )));
                    }
                    return Ok(clause);
                }
                _ => {
                    return Err(self.cursor.error_at(
                        name_start,
                        format!(
                            "EF_RUNTIME, HYBRID_POLICY, BATCH_SIZE, NPROBE, REFINE, AS or `]` to \
                             close the KNN clause opened at byte {open}"
                        ),
                    ))
                }
            }
        }
    }

    /// The value of one KNN parameter, whether inline or as a `$NAME:` attribute.
    fn parse_knn_parameter(
        &mut self,
        clause: &mut VectorClause,
        name: &str,
        name_start: usize,
    ) -> Result<(), QueryError> {
        let already_set = match name {
            "EF_RUNTIME" => clause.ef_runtime.is_some(),
            "HYBRID_POLICY" => clause.hybrid_policy.is_some(),
            "BATCH_SIZE" => clause.batch_size.is_some(),
            "NPROBE" => clause.nprobe.is_some(),
            "REFINE" => clause.refine.is_some(),
            _ => clause.alias.is_some(),
        };
        if already_set {
            return Err(self
                .cursor
                .error_at(name_start, "each KNN parameter at most once"));
        }
        match name {
            "EF_RUNTIME" => {
                clause.ef_runtime = Some(self.parse_count_value(
                    "EF_RUNTIME: a whole number or a `$parameter`",
                    1,
                    self.limits.max_ef_runtime,
                    "EF_RUNTIME",
                )?);
            }
            "HYBRID_POLICY" => {
                let start = self.cursor.pos();
                let policy = self.cursor.read_word()?;
                clause.hybrid_policy = Some(if policy.eq_ignore_ascii_case("ADHOC_BF") {
                    HybridPolicy::AdhocBruteForce
                } else if policy.eq_ignore_ascii_case("BATCHES") {
                    HybridPolicy::Batches
                } else {
                    return Err(self.cursor.error_at(start, "ADHOC_BF or BATCHES"));
                });
            }
            "BATCH_SIZE" => {
                clause.batch_size = Some(self.parse_count_value(
                    "BATCH_SIZE: a whole number or a `$parameter`",
                    1,
                    self.limits.max_batch_size,
                    "BATCH_SIZE",
                )?);
            }
            "NPROBE" => {
                clause.nprobe = Some(self.parse_count_value(
                    "NPROBE: a whole number or a `$parameter`",
                    1,
                    MAX_NPROBE,
                    "NPROBE",
                )?);
            }
            "REFINE" => {
                clause.refine = Some(self.parse_count_value(
                    "REFINE: a whole number or a `$parameter`",
                    1,
                    MAX_REFINE,
                    "REFINE",
                )?);
            }
            _ => {
                clause.alias = Some(self.cursor.read_name("a name for the distance")?);
            }
        }
        Ok(())
    }

    /// A count of at least `min` and at most `limit`, or a `$parameter`.
    fn parse_count_value(
        &mut self,
        what: &str,
        min: u64,
        limit: u64,
        limit_name: &'static str,
    ) -> Result<Value<u64>, QueryError> {
        if self.cursor.eat('$') {
            return Ok(Value::Param(
                self.cursor.read_name("a parameter name after `$`")?,
            ));
        }
        let start = self.cursor.pos();
        let count = self.cursor.read_count(what)?;
        if count < min {
            return Err(self
                .cursor
                .error_at(start, format!("{limit_name} of at least {min}")));
        }
        if count > limit {
            return Err(QueryError::LimitExceeded {
                what: limit_name,
                limit,
                found: count,
            });
        }
        Ok(Value::Literal(count))
    }

    /// `{$YIELD_DISTANCE_AS: d; $EF_RUNTIME: n; ...}` after a KNN clause.
    pub(crate) fn parse_knn_attributes(
        &mut self,
        clause: &mut VectorClause,
    ) -> Result<(), QueryError> {
        self.parse_attribute_block(|parser, name, name_start| match name {
            "EF_RUNTIME" | "HYBRID_POLICY" | "BATCH_SIZE" | "NPROBE" | "REFINE" => {
                parser.parse_knn_parameter(clause, name, name_start)
            }
            "YIELD_DISTANCE_AS" => parser.parse_knn_parameter(clause, "AS", name_start),
            _ => Err(parser.unknown_attribute(
                name,
                name_start,
                "$YIELD_DISTANCE_AS, $EF_RUNTIME, $HYBRID_POLICY, $BATCH_SIZE, $NPROBE or \
                 $REFINE",
            )),
        })
    }

    /// `{$YIELD_DISTANCE_AS: d; $EPSILON: e}` after a VECTOR_RANGE predicate.
    pub(crate) fn parse_range_attributes(&mut self, range: &mut Filter) -> Result<(), QueryError> {
        let Filter::VectorRange {
            yield_distance_as,
            epsilon,
            ..
        } = range
        else {
            return Ok(());
        };
        self.parse_attribute_block(|parser, name, name_start| {
            let already_set = match name {
                "YIELD_DISTANCE_AS" => yield_distance_as.is_some(),
                "EPSILON" => epsilon.is_some(),
                _ => {
                    return Err(parser.unknown_attribute(
                        name,
                        name_start,
                        "$YIELD_DISTANCE_AS or $EPSILON",
                    ))
                }
            };
            if already_set {
                return Err(parser
                    .cursor
                    .error_at(name_start, "each attribute at most once"));
            }
            if name == "EPSILON" {
                *epsilon =
                    Some(parser.parse_distance_value(
                        "$EPSILON: a non-negative number or a `$parameter`",
                    )?);
            } else {
                *yield_distance_as = Some(parser.cursor.read_name("a name for the distance")?);
            }
            Ok(())
        })
    }

    fn unknown_attribute(&self, name: &str, name_start: usize, expected: &str) -> QueryError {
        if TEXT_ATTRIBUTES.contains(&name) {
            self.cursor
                .unsupported_at(name_start, format!("the `${name}` attribute"))
        } else {
            self.cursor.error_at(name_start, expected)
        }
    }

    /// `{ $name: value ; ... }` with `apply` reading each value; the cursor is on `{`.
    /// `apply` gets the upper-cased name (attribute names are case-insensitive).
    fn parse_attribute_block(
        &mut self,
        mut apply: impl FnMut(&mut Self, &str, usize) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let open = self.cursor.pos();
        self.cursor.bump();
        let unclosed = format!("`}}` to close the attributes opened at byte {open}");
        loop {
            self.cursor.skip_space();
            match self.cursor.peek() {
                Some('}') => {
                    self.cursor.bump();
                    return Ok(());
                }
                Some(';') => {
                    self.cursor.bump();
                    continue;
                }
                Some('$') => {}
                None => return Err(self.cursor.error(unclosed)),
                Some(_) => return Err(self.cursor.error("a `$name: value` attribute or `}`")),
            }
            let name_start = self.cursor.pos();
            self.cursor.bump();
            let name = self
                .cursor
                .read_name("an attribute name after `$`")?
                .to_ascii_uppercase();
            self.cursor.skip_space();
            if !self.cursor.eat(':') {
                return Err(self.cursor.error("`:` after the attribute name"));
            }
            self.cursor.skip_space();
            apply(self, &name, name_start)?;
            self.cursor.skip_space();
            match self.cursor.peek() {
                Some(';' | '}') => {}
                None => return Err(self.cursor.error(unclosed)),
                Some(_) => return Err(self.cursor.error("`;` or `}` after the attribute value")),
            }
        }
    }
}

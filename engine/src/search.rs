//! Search requests — the typed builder and the query-string builder — and results.
//! Both produce the same `strata_query::Query` and run through one executor.

use strata_query::{
    Filter as Ast, Page, ParamValue, Params, Query, QueryOptions, ReturnField, SortBy, SortOrder,
    Value, VectorClause,
};

use crate::collection::Collection;
use crate::doc::Doc;
use crate::error::Result;
use crate::execute::Explain;
use crate::filter::Filter;

/// Name of the vector parameter the typed builder uses.
const BUILDER_VECTOR: &str = "vector";

/// A search built in Rust: the same query a RediSearch string would give.
///
/// ```
/// use strata::{Filter, Search};
/// let request = Search::knn("embedding", &[0.1, 0.2, 0.3], 10)
///     .filter(Filter::tag("category", ["AI"]).and(Filter::range("price", 0.0..=100.0)))
///     .ef_runtime(64)
///     .return_fields(["title"]);
/// assert_eq!(
///     request.to_query_string(),
///     "(@category:{AI} @price:[0 100])=>[KNN 10 @embedding $vector EF_RUNTIME 64]"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Search {
    pub(crate) query: Query,
    pub(crate) params: Params,
}

impl Search {
    /// The `k` documents whose `field` vectors are nearest to `vector`, nearest first
    /// (`*=>[KNN k @field $vector]`, with `LIMIT 0 k`).
    pub fn knn(field: &str, vector: &[f32], k: usize) -> Search {
        Search {
            query: Query {
                filter: Ast::All,
                vector: Some(VectorClause::new(k as u64, field, BUILDER_VECTOR)),
                options: QueryOptions {
                    limit: Some(Page {
                        offset: 0,
                        count: k as u64,
                    }),
                    ..QueryOptions::default()
                },
            },
            params: Params::new().with_vector(BUILDER_VECTOR, vector.to_vec()),
        }
    }

    /// Every document whose `field` vector lies within `radius` of `vector`, nearest
    /// first (`@field:[VECTOR_RANGE radius $vector]`). Returns at most 10 unless
    /// [`Search::limit`] says otherwise, as in RediSearch.
    pub fn range(field: &str, vector: &[f32], radius: f64) -> Search {
        Search {
            query: Query {
                filter: Ast::VectorRange {
                    field: field.to_string(),
                    radius: Value::Literal(radius),
                    vector_param: BUILDER_VECTOR.to_string(),
                    yield_distance_as: None,
                    epsilon: None,
                },
                vector: None,
                options: QueryOptions::default(),
            },
            params: Params::new().with_vector(BUILDER_VECTOR, vector.to_vec()),
        }
    }

    /// `$EPSILON` of a [`Search::range`] on an HNSW field: how far past the radius the
    /// graph walk explores, relative to it (RediSearch's default is 0.01). Larger
    /// finds more of the rows inside the radius at the cost of a longer walk; FLAT
    /// fields and small segments are measured exactly and ignore it. Without a
    /// VECTOR_RANGE clause it does nothing.
    ///
    /// ```
    /// use strata::Search;
    /// let request = Search::range("embedding", &[0.1, 0.2], 0.3).epsilon(0.05);
    /// assert_eq!(
    ///     request.to_query_string(),
    ///     "@embedding:[VECTOR_RANGE 0.3 $vector]=>{$EPSILON: 0.05}"
    /// );
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Search {
        fn set(filter: &mut Ast, epsilon: f64) -> bool {
            match filter {
                Ast::VectorRange { epsilon: slot, .. } => {
                    *slot = Some(Value::Literal(epsilon));
                    true
                }
                Ast::And(children) => children.iter_mut().any(|child| set(child, epsilon)),
                _ => false,
            }
        }
        set(&mut self.query.filter, epsilon);
        self
    }

    /// Only documents matching `filter` (a pre-filter: k nearest among the matches).
    pub fn filter(mut self, filter: Filter) -> Search {
        self.query.filter = match std::mem::replace(&mut self.query.filter, Ast::All) {
            Ast::All => filter.0,
            range @ Ast::VectorRange { .. } => Ast::And(vec![range, filter.0]),
            other => Ast::And(vec![other, filter.0]),
        };
        self
    }

    /// `EF_RUNTIME`: the HNSW search breadth (ignored by FLAT, which is exact).
    pub fn ef_runtime(mut self, ef: usize) -> Search {
        if let Some(clause) = &mut self.query.vector {
            clause.ef_runtime = Some(Value::Literal(ef as u64));
        }
        self
    }

    /// RediSearch's `HYBRID_POLICY`: `true` for `ADHOC_BF` (exact search over the
    /// filter's matches), `false` for `BATCHES` (the HNSW graph, filtered while it is
    /// walked). Without it the planner chooses per segment.
    pub fn brute_force(mut self, exact: bool) -> Search {
        if let Some(clause) = &mut self.query.vector {
            clause.hybrid_policy = Some(if exact {
                strata_query::HybridPolicy::AdhocBruteForce
            } else {
                strata_query::HybridPolicy::Batches
            });
        }
        self
    }

    /// Returns only these fields with each hit, like `RETURN`. Vector fields are
    /// returned only when named. An empty list is `NOCONTENT`.
    pub fn return_fields<I, S>(mut self, fields: I) -> Search
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields: Vec<ReturnField> = fields
            .into_iter()
            .map(|name| ReturnField {
                name: name.into(),
                alias: None,
            })
            .collect();
        if fields.is_empty() {
            return self.no_content();
        }
        self.query.options.return_fields = Some(fields);
        self
    }

    /// Returns keys and distances only, like `NOCONTENT`.
    pub fn no_content(mut self) -> Search {
        self.query.options.no_content = true;
        self
    }

    /// Skips `offset` results and returns at most `count`, like `LIMIT offset count`.
    pub fn limit(mut self, offset: usize, count: usize) -> Search {
        self.query.options.limit = Some(Page {
            offset: offset as u64,
            count: count as u64,
        });
        self
    }

    /// Orders results by a field, like `SORTBY field ASC|DESC`.
    pub fn sort_by(mut self, field: &str, descending: bool) -> Search {
        let order = if descending {
            SortOrder::Descending
        } else {
            SortOrder::Ascending
        };
        self.query.options.sort_by = Some(SortBy {
            field: field.to_string(),
            order,
        });
        self
    }

    /// The query in the RediSearch dialect (the vector is the parameter `$vector`).
    pub fn to_query_string(&self) -> String {
        self.query.to_string()
    }
}

/// A parameter value for [`QueryBuilder::param`]: a vector, text or a number.
#[derive(Clone, Debug, PartialEq)]
pub struct Param(pub(crate) ParamValue);

impl From<&[f32]> for Param {
    fn from(vector: &[f32]) -> Param {
        Param(ParamValue::Vector(vector.to_vec()))
    }
}

impl From<&Vec<f32>> for Param {
    fn from(vector: &Vec<f32>) -> Param {
        Param(ParamValue::Vector(vector.clone()))
    }
}

impl From<Vec<f32>> for Param {
    fn from(vector: Vec<f32>) -> Param {
        Param(ParamValue::Vector(vector))
    }
}

impl From<&str> for Param {
    fn from(text: &str) -> Param {
        Param(ParamValue::Text(text.to_string()))
    }
}

impl From<String> for Param {
    fn from(text: String) -> Param {
        Param(ParamValue::Text(text))
    }
}

impl From<f64> for Param {
    fn from(number: f64) -> Param {
        Param(ParamValue::Text(number.to_string()))
    }
}

impl From<i64> for Param {
    fn from(number: i64) -> Param {
        Param(ParamValue::Text(number.to_string()))
    }
}

/// A query in the RediSearch dialect, with its parameters; see [`Collection::query`].
#[derive(Debug)]
#[must_use]
pub struct QueryBuilder<'c> {
    collection: &'c Collection,
    text: String,
    args: Vec<String>,
    params: Params,
    ef_runtime: Option<usize>,
}

impl<'c> QueryBuilder<'c> {
    pub(crate) fn new(collection: &'c Collection, text: &str) -> QueryBuilder<'c> {
        QueryBuilder {
            collection,
            text: text.to_string(),
            args: Vec::new(),
            params: Params::new(),
            ef_runtime: None,
        }
    }

    /// Binds `$name` to a value (a vector for KNN and VECTOR_RANGE, text or a number
    /// elsewhere), like `PARAMS`.
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> QueryBuilder<'c> {
        self.params.insert(name, value.into().0);
        self
    }

    /// Overrides `EF_RUNTIME` of the KNN clause.
    pub fn ef_runtime(mut self, ef: usize) -> QueryBuilder<'c> {
        self.ef_runtime = Some(ef);
        self
    }

    /// FT.SEARCH options after the query string, as separate arguments: `RETURN`,
    /// `SORTBY`, `LIMIT`, `NOCONTENT`, `PARAMS`, `DIALECT`.
    pub fn args<I, S>(mut self, args: I) -> QueryBuilder<'c>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn search(&self) -> Result<Search> {
        let limits = self.collection.limits().query();
        let mut query = strata_query::parse_search(&self.text, &self.args, &limits)?;
        if let (Some(ef), Some(clause)) = (self.ef_runtime, &mut query.vector) {
            clause.ef_runtime = Some(Value::Literal(ef as u64));
        }
        Ok(Search {
            query,
            params: self.params.clone(),
        })
    }

    /// Runs the query. Without `LIMIT`, at most 10 results come back, as in RediSearch.
    pub fn run(self) -> Result<Vec<Hit>> {
        self.collection.search(&self.search()?)
    }

    /// How the query would run: per source, live and matching rows and the strategy.
    pub fn explain(self) -> Result<Explain> {
        self.collection.explain(&self.search()?)
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The document's key.
    pub key: String,
    /// Distance to the query under the field's metric (smaller is nearer): COSINE is
    /// `1 - cosine similarity`, IP is `1 - dot product`, L2 is the *squared* Euclidean
    /// distance, as in Redis. 0 for queries without a vector clause.
    pub distance: f32,
    /// The returned fields: by default every non-vector field, plus the distance under
    /// its alias (`AS score`, `$YIELD_DISTANCE_AS`) when the query names one.
    pub doc: Doc,
}

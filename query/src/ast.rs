//! The typed query tree the parser produces and the printer writes back.

/// A value written in the query either literally or as a `$name` parameter that
/// [`Query::bind`](crate::Query::bind) fills in later.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<T> {
    /// Written out in the query.
    Literal(T),
    /// A `$name` reference; holds the name without the `$`.
    Param(String),
}

impl<T> Value<T> {
    /// The literal, or `None` while the value is still an unbound parameter.
    pub fn literal(&self) -> Option<&T> {
        match self {
            Value::Literal(value) => Some(value),
            Value::Param(_) => None,
        }
    }

    /// The parameter name (without `$`), or `None` for a literal.
    pub fn param_name(&self) -> Option<&str> {
        match self {
            Value::Literal(_) => None,
            Value::Param(name) => Some(name),
        }
    }
}

/// One end of a numeric range. `value` may be `-inf` / `+inf` for an open end.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeBound {
    /// The bound; never NaN when it comes from the parser or from `bind`.
    pub value: Value<f64>,
    /// `false` when the bound was written with a leading `(`.
    pub inclusive: bool,
}

impl RangeBound {
    /// An inclusive literal bound.
    pub fn inclusive(value: f64) -> RangeBound {
        RangeBound {
            value: Value::Literal(value),
            inclusive: true,
        }
    }

    /// An exclusive literal bound (written `(value`).
    pub fn exclusive(value: f64) -> RangeBound {
        RangeBound {
            value: Value::Literal(value),
            inclusive: false,
        }
    }
}

/// What a text predicate matches. Field modifiers live on [`Filter::Text`].
#[derive(Debug, Clone, PartialEq)]
pub enum TextTerm {
    /// A bare word such as `hello`, or a `$param` standing for one.
    Word(Value<String>),
    /// A quoted phrase `"hello world"`: the words, in order and adjacent. A quoted
    /// single word is a one-word phrase (RediSearch matches it verbatim, unstemmed).
    Phrase(Vec<String>),
    /// A prefix match `hel*`; holds the part before the `*`.
    Prefix(String),
    /// `%word%` (Levenshtein distance 1), `%%word%%` (2) or `%%%word%%%` (3).
    Fuzzy {
        /// The word between the `%`s.
        word: String,
        /// The number of `%` on each side: the largest edit distance matched.
        distance: u8,
    },
}

/// A tag wildcard (RediSearch 2.6+): the part of the value around the `*`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagPattern {
    /// `{fin*}`: tags that start with the text.
    Prefix(String),
    /// `{*ance}`: tags that end with the text.
    Suffix(String),
    /// `{*an*}`: tags that contain the text.
    Infix(String),
}

impl TagPattern {
    /// The text between the wildcards.
    pub fn text(&self) -> &str {
        match self {
            TagPattern::Prefix(text) | TagPattern::Suffix(text) | TagPattern::Infix(text) => text,
        }
    }
}

/// The boolean filter part of a query (everything before `=>[KNN ...]`).
///
/// Trees from the parser keep two invariants the printer relies on for an exact
/// round trip: `And` and `Or` hold at least two children, and every string is
/// non-empty. Parentheses never create nodes of their own, so `(a b) c` is
/// `And([And([a, b]), c])` while `a b c` is `And([a, b, c])`.
///
/// `Clone`, `PartialEq`, `Debug` and `Drop` never recurse (see `deep.rs`), so a tree
/// built in code may be nested arbitrarily deep; only the engine's limits refuse it.
pub enum Filter {
    /// `*`: every document.
    All,
    /// `@field:{a | b}`: the tag field holds any of the values.
    Tag {
        /// Field name, unescaped.
        field: String,
        /// Values, unescaped, as written (case folding is the index's business).
        values: Vec<Value<String>>,
    },
    /// `@field:{fin*}`, `{*ance}`, `{*an*}`: the tag field holds a tag matching the
    /// pattern. A list mixing patterns and values, `{fin* | web}`, parses to the `Or`
    /// of a `Tag` with the values and one `TagMatch` per pattern.
    TagMatch {
        /// Field name, unescaped.
        field: String,
        /// The wildcard and its text (non-empty, unescaped).
        pattern: TagPattern,
    },
    /// `@field:[low high]`; also what `@f:[v]`, `@f==v`, `@f>v` and friends parse to.
    Range {
        /// Field name, unescaped.
        field: String,
        /// Lower bound.
        low: RangeBound,
        /// Upper bound.
        high: RangeBound,
    },
    /// A full-text predicate: `hello`, `"hello world"`, `hel*`, `@title:hello`.
    /// `@title:(a b)` distributes the field over its words: `And` of two `Text`.
    Text {
        /// `None` searches every text field.
        field: Option<String>,
        /// The word, phrase or prefix.
        term: TextTerm,
    },
    /// `@field:[VECTOR_RANGE radius $vec]=>{$YIELD_DISTANCE_AS: d; $EPSILON: e}`.
    VectorRange {
        /// Vector field name.
        field: String,
        /// Maximum distance, non-negative.
        radius: Value<f64>,
        /// Name of the parameter holding the query vector (without `$`).
        vector_param: String,
        /// Name under which each hit's distance is returned.
        yield_distance_as: Option<String>,
        /// HNSW range-search slack, non-negative.
        epsilon: Option<Value<f64>>,
    },
    /// Juxtaposition: every child matches.
    And(Vec<Filter>),
    /// `a | b`: any child matches.
    Or(Vec<Filter>),
    /// `-a`: the child does not match.
    Not(Box<Filter>),
}

/// `HYBRID_POLICY` inside a KNN clause: how a filtered KNN runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HybridPolicy {
    /// `ADHOC_BF`: brute force over the documents the filter admits.
    AdhocBruteForce,
    /// `BATCHES`: pull batches from the vector index and filter them.
    Batches,
}

impl HybridPolicy {
    /// The keyword as written in a query.
    pub fn keyword(self) -> &'static str {
        match self {
            HybridPolicy::AdhocBruteForce => "ADHOC_BF",
            HybridPolicy::Batches => "BATCHES",
        }
    }
}

/// `=>[KNN k @field $vec EF_RUNTIME n HYBRID_POLICY p BATCH_SIZE b NPROBE p REFINE r
/// AS alias]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorClause {
    /// Number of neighbours; `KNN 0` matches nothing, as in RediSearch.
    pub k: Value<u64>,
    /// Vector field name.
    pub field: String,
    /// Name of the parameter holding the query vector (without `$`).
    pub vector_param: String,
    /// HNSW search breadth for this query.
    pub ef_runtime: Option<Value<u64>>,
    /// Planner hint for filtered KNN.
    pub hybrid_policy: Option<HybridPolicy>,
    /// Batch size hint for the `BATCHES` policy.
    pub batch_size: Option<Value<u64>>,
    /// IVF-PQ: coarse lists probed for this query (faiss's `nprobe`).
    pub nprobe: Option<Value<u64>>,
    /// IVF-PQ: candidates re-ranked with exact distances, as a multiple of k.
    pub refine: Option<Value<u64>>,
    /// `AS alias` (or `=>{$YIELD_DISTANCE_AS: alias}`): name of the distance field.
    pub alias: Option<String>,
}

impl VectorClause {
    /// A clause with only the required parts.
    pub fn new(k: u64, field: impl Into<String>, vector_param: impl Into<String>) -> VectorClause {
        VectorClause {
            k: Value::Literal(k),
            field: field.into(),
            vector_param: vector_param.into(),
            ef_runtime: None,
            hybrid_policy: None,
            batch_size: None,
            nprobe: None,
            refine: None,
            alias: None,
        }
    }
}

/// `RETURN` entry: a field and an optional `AS` alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnField {
    /// Field name or JSON path, as given.
    pub name: String,
    /// Name to return it under.
    pub alias: Option<String>,
}

/// Direction of `SORTBY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// `ASC`, the default.
    #[default]
    Ascending,
    /// `DESC`.
    Descending,
}

/// `SORTBY field [ASC|DESC]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortBy {
    /// Field to sort on, as given.
    pub field: String,
    /// Direction.
    pub order: SortOrder,
}

/// `LIMIT offset count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Hits to skip.
    pub offset: u64,
    /// Hits to return (0 asks for the count only).
    pub count: u64,
}

/// `SCORER`: the function that ranks text matches.
///
/// The RediSearch names give the numbers Redis Stack 7.4 (RediSearch 2.10) gives, with
/// its quirks (see README "Scorers"); [`Scorer::Bm25StdTantivy`] is Strata's default,
/// a per-field Okapi BM25 equal to a plain tantivy index's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scorer {
    /// `BM25STD.TANTIVY`: Strata's default (no `SCORER`).
    Bm25StdTantivy,
    /// `TFIDF`: Redis 7.4's default.
    Tfidf,
    /// `TFIDF.DOCNORM`: TFIDF normalised by document length instead of the largest
    /// term frequency.
    TfidfDocnorm,
    /// `BM25`: RediSearch's legacy BM25.
    Bm25,
    /// `BM25STD`: RediSearch's standard BM25 (Redis 8's default).
    Bm25Std,
    /// `DISMAX`: term frequencies, summed over AND and the largest over OR.
    Dismax,
    /// `DOCSCORE`: the document's score (always 1 in Strata).
    Docscore,
    /// `HAMMING`: the distance between the query's and the document's binary payloads;
    /// 0, as Redis gives for documents without a payload (Strata documents have none).
    Hamming,
}

impl Scorer {
    /// Every scorer, in the order errors list them.
    pub const ALL: [Scorer; 8] = [
        Scorer::Tfidf,
        Scorer::TfidfDocnorm,
        Scorer::Bm25,
        Scorer::Bm25Std,
        Scorer::Dismax,
        Scorer::Docscore,
        Scorer::Hamming,
        Scorer::Bm25StdTantivy,
    ];

    /// The keyword as written in a query.
    pub fn keyword(self) -> &'static str {
        match self {
            Scorer::Bm25StdTantivy => "BM25STD.TANTIVY",
            Scorer::Tfidf => "TFIDF",
            Scorer::TfidfDocnorm => "TFIDF.DOCNORM",
            Scorer::Bm25 => "BM25",
            Scorer::Bm25Std => "BM25STD",
            Scorer::Dismax => "DISMAX",
            Scorer::Docscore => "DOCSCORE",
            Scorer::Hamming => "HAMMING",
        }
    }

    /// The scorer a keyword names, in any case.
    pub fn from_keyword(keyword: &str) -> Option<Scorer> {
        Scorer::ALL
            .into_iter()
            .find(|scorer| scorer.keyword().eq_ignore_ascii_case(keyword))
    }
}

/// `HIGHLIGHT [FIELDS n f ...] [TAGS open close]`: matched terms in returned TEXT
/// fields are wrapped in tags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Highlight {
    /// `FIELDS`; `None` means every returned TEXT field.
    pub fields: Option<Vec<String>>,
    /// `TAGS open close`; `None` means RediSearch's `<b>` and `</b>`.
    pub tags: Option<(String, String)>,
}

/// `SUMMARIZE [FIELDS n f ...] [FRAGS n] [LEN n] [SEPARATOR s]`: returned TEXT fields
/// are cut to the fragments around matched terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summarize {
    /// `FIELDS`; `None` means every returned TEXT field.
    pub fields: Option<Vec<String>>,
    /// `FRAGS`: most fragments per field (RediSearch's default is 3).
    pub frags: Option<u64>,
    /// `LEN`: words of context per fragment (RediSearch's default is 20).
    pub len: Option<u64>,
    /// `SEPARATOR`: written after each fragment (RediSearch's default is `... `).
    pub separator: Option<String>,
}

/// The FT.SEARCH arguments that follow the query string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryOptions {
    /// `RETURN n f1 [AS a1] ...`; `None` returns every field, `Some(empty)` none.
    pub return_fields: Option<Vec<ReturnField>>,
    /// `SORTBY`.
    pub sort_by: Option<SortBy>,
    /// `LIMIT`; `None` means the engine's default page (RediSearch: `0 10`).
    pub limit: Option<Page>,
    /// `PARAMS n name value ...`, in the order given.
    pub params: Vec<(String, String)>,
    /// `NOCONTENT`: ids only.
    pub no_content: bool,
    /// `WITHSCORES`: each hit carries its score (for vector queries, the distance).
    pub with_scores: bool,
    /// `SCORER name`: how text matches are ranked; `None` is the engine's default.
    pub scorer: Option<Scorer>,
    /// `INKEYS n key ...`: only these documents can match.
    pub in_keys: Option<Vec<String>>,
    /// `INFIELDS n field ...`: text predicates look only in these fields.
    pub in_fields: Option<Vec<String>>,
    /// `HIGHLIGHT`.
    pub highlight: Option<Highlight>,
    /// `SUMMARIZE`.
    pub summarize: Option<Summarize>,
    /// `DIALECT n` if given: 2, 3 or 4, which mean the same to Strata (3 changes only
    /// JSON multi-value returns, 4 only Redis's optimiser); an absent `DIALECT` means 2.
    pub dialect: Option<u32>,
}

/// A parsed query: filter, optional KNN clause and the trailing options.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The filter; `Filter::All` for `*`.
    pub filter: Filter,
    /// `=>[KNN ...]`, if present.
    pub vector: Option<VectorClause>,
    /// FT.SEARCH options; defaults when parsed with [`parse_query`](crate::parse_query).
    pub options: QueryOptions,
}

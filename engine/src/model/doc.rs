//! Documents: a key's fields, like the fields of a Redis hash.

/// One field value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// For a TEXT field.
    Text(String),
    /// For a TAG field: the raw string, split on the field's separator when indexed,
    /// as Redis stores it (`"ai,web"`).
    Tag(String),
    /// For a NUMERIC field.
    Numeric(f64),
    /// For a VECTOR field.
    Vector(Vec<f32>),
}

impl Value {
    /// The kind of value, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Text(_) => "text",
            Value::Tag(_) => "tag",
            Value::Numeric(_) => "numeric",
            Value::Vector(_) => "vector",
        }
    }

    /// Bytes the value occupies when stored, for size limits.
    pub(crate) fn stored_bytes(&self) -> usize {
        match self {
            Value::Text(text) | Value::Tag(text) => text.len(),
            Value::Numeric(_) => 8,
            Value::Vector(vector) => vector.len() * 4,
        }
    }
}

/// A document: named field values. A document may leave out any schema field.
///
/// ```
/// use strata::Doc;
/// let doc = Doc::new()
///     .text("content", "Vector search in Rust")
///     .tag("category", "AI,search")
///     .numeric("price", 29.99)
///     .vector("embedding", vec![0.1, 0.2, 0.3]);
/// assert_eq!(doc.get_numeric("price"), Some(29.99));
/// assert_eq!(Doc::new().numeric("a", 1.0).text("b", "x"), Doc::new().text("b", "x").numeric("a", 1.0));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Doc {
    fields: Vec<(String, Value)>,
}

/// Documents are maps: equal when they hold the same fields with the same values, in
/// whatever order they were given.
impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .all(|(name, value)| other.get(name) == Some(value))
    }
}

impl Doc {
    /// An empty document.
    pub fn new() -> Doc {
        Doc::default()
    }

    /// Adds a TEXT value.
    #[must_use]
    pub fn text(self, field: &str, text: impl Into<String>) -> Doc {
        self.with(field, Value::Text(text.into()))
    }

    /// Adds a TAG value (one or more tags joined by the field's separator).
    #[must_use]
    pub fn tag(self, field: &str, tags: impl Into<String>) -> Doc {
        self.with(field, Value::Tag(tags.into()))
    }

    /// Adds a NUMERIC value.
    #[must_use]
    pub fn numeric(self, field: &str, number: f64) -> Doc {
        self.with(field, Value::Numeric(number))
    }

    /// Adds a VECTOR value.
    #[must_use]
    pub fn vector(self, field: &str, vector: impl Into<Vec<f32>>) -> Doc {
        self.with(field, Value::Vector(vector.into()))
    }

    /// Adds a value of any kind. Giving the same field twice is refused at upsert.
    #[must_use]
    pub fn with(mut self, field: &str, value: Value) -> Doc {
        self.fields.push((field.to_string(), value));
        self
    }

    /// The value of `field`, if present.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, value)| value)
    }

    /// The text of a TEXT field.
    pub fn get_text(&self, field: &str) -> Option<&str> {
        match self.get(field)? {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The raw string of a TAG field.
    pub fn get_tag(&self, field: &str) -> Option<&str> {
        match self.get(field)? {
            Value::Tag(text) => Some(text),
            _ => None,
        }
    }

    /// The number of a NUMERIC field.
    pub fn get_numeric(&self, field: &str) -> Option<f64> {
        match self.get(field)? {
            Value::Numeric(number) => Some(*number),
            _ => None,
        }
    }

    /// The components of a VECTOR field.
    pub fn get_vector(&self, field: &str) -> Option<&[f32]> {
        match self.get(field)? {
            Value::Vector(vector) => Some(vector),
            _ => None,
        }
    }

    /// All fields, in the order they were given (schema order for stored documents).
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the document has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub(crate) fn into_fields(self) -> Vec<(String, Value)> {
        self.fields
    }
}

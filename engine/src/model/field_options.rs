//! The options of TAG and TEXT fields (RediSearch's `SEPARATOR`, `CASESENSITIVE`,
//! `NOSTEM`, `WEIGHT` and `LANGUAGE`), kept apart from the schema that holds them.

/// Options of a TAG field.
///
/// ```
/// use strata::{Schema, TagOptions};
/// let schema = Schema::builder()
///     .tag_with("labels", TagOptions { separator: ';', case_sensitive: true })
///     .build()?;
/// # let _ = schema;
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagOptions {
    /// Splits a stored value into tags; default `,`.
    pub separator: char,
    /// Whether `AI` and `ai` are different tags; default false (Redis's default).
    pub case_sensitive: bool,
}

impl Default for TagOptions {
    fn default() -> TagOptions {
        TagOptions {
            separator: ',',
            case_sensitive: false,
        }
    }
}

/// A stemming language for a TEXT field (RediSearch's `LANGUAGE`): the Snowball
/// stemmers RediSearch and tantivy both have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum TextLanguage {
    Arabic,
    Danish,
    Dutch,
    English,
    Finnish,
    French,
    German,
    Greek,
    Hungarian,
    Italian,
    Norwegian,
    Portuguese,
    Romanian,
    Russian,
    Spanish,
    Swedish,
    Tamil,
    Turkish,
}

impl TextLanguage {
    /// Every language, in the order of their codes on disk.
    pub const ALL: [TextLanguage; 18] = [
        TextLanguage::Arabic,
        TextLanguage::Danish,
        TextLanguage::Dutch,
        TextLanguage::English,
        TextLanguage::Finnish,
        TextLanguage::French,
        TextLanguage::German,
        TextLanguage::Greek,
        TextLanguage::Hungarian,
        TextLanguage::Italian,
        TextLanguage::Norwegian,
        TextLanguage::Portuguese,
        TextLanguage::Romanian,
        TextLanguage::Russian,
        TextLanguage::Spanish,
        TextLanguage::Swedish,
        TextLanguage::Tamil,
        TextLanguage::Turkish,
    ];

    /// The RediSearch name, lowercase (`english`).
    pub fn name(self) -> &'static str {
        match self {
            TextLanguage::Arabic => "arabic",
            TextLanguage::Danish => "danish",
            TextLanguage::Dutch => "dutch",
            TextLanguage::English => "english",
            TextLanguage::Finnish => "finnish",
            TextLanguage::French => "french",
            TextLanguage::German => "german",
            TextLanguage::Greek => "greek",
            TextLanguage::Hungarian => "hungarian",
            TextLanguage::Italian => "italian",
            TextLanguage::Norwegian => "norwegian",
            TextLanguage::Portuguese => "portuguese",
            TextLanguage::Romanian => "romanian",
            TextLanguage::Russian => "russian",
            TextLanguage::Spanish => "spanish",
            TextLanguage::Swedish => "swedish",
            TextLanguage::Tamil => "tamil",
            TextLanguage::Turkish => "turkish",
        }
    }

    /// The language a RediSearch name denotes, any case.
    pub fn from_name(name: &str) -> Option<TextLanguage> {
        TextLanguage::ALL
            .into_iter()
            .find(|language| language.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn code(self) -> u8 {
        TextLanguage::ALL
            .iter()
            .position(|language| *language == self)
            .unwrap_or(3) as u8
    }

    pub(crate) fn from_code(code: u8) -> Option<TextLanguage> {
        TextLanguage::ALL.get(code as usize).copied()
    }
}

/// Options of a TEXT field, as RediSearch's `TEXT [NOSTEM] [WEIGHT w]` and the
/// index's `LANGUAGE`.
#[derive(Clone, Copy, Debug)]
pub struct TextOptions {
    /// Multiplies the field's share of a document's score; default 1, must be finite
    /// and positive.
    pub weight: f64,
    /// `NOSTEM`: words are indexed and matched as written (lowercased).
    pub no_stem: bool,
    /// The stemmer's language; default English.
    pub language: TextLanguage,
}

impl Default for TextOptions {
    fn default() -> TextOptions {
        TextOptions {
            weight: 1.0,
            no_stem: false,
            language: TextLanguage::English,
        }
    }
}

impl TextOptions {
    /// The same options with `NOSTEM`.
    #[must_use]
    pub fn no_stem(mut self) -> TextOptions {
        self.no_stem = true;
        self
    }

    /// The same options with `WEIGHT weight`.
    #[must_use]
    pub fn weight(mut self, weight: f64) -> TextOptions {
        self.weight = weight;
        self
    }

    /// The same options stemming in `language`.
    #[must_use]
    pub fn language(mut self, language: TextLanguage) -> TextOptions {
        self.language = language;
        self
    }

    /// The language words are stemmed in, or `None` for `NOSTEM`.
    pub fn stemming_language(&self) -> Option<TextLanguage> {
        (!self.no_stem).then_some(self.language)
    }
}

// Weights are compared by bits: a schema is equal to itself after a round trip.
impl PartialEq for TextOptions {
    fn eq(&self, other: &TextOptions) -> bool {
        self.weight.to_bits() == other.weight.to_bits()
            && self.no_stem == other.no_stem
            && self.language == other.language
    }
}

impl Eq for TextOptions {}

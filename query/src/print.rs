//! Writing the tree back as query text that parses to the same tree.
//!
//! The printer emits the canonical spelling (`[(1 +inf]`, escaped punctuation,
//! KNN parameters in a fixed order), not the input's spelling. Strings that hold
//! ASCII control characters other than whitespace cannot be written unquoted; tag
//! values fall back to the quoted form, other strings print but will not re-parse
//! (the parser never produces them).

use std::fmt::{self, Write};

use crate::ast::{Filter, Query, RangeBound, TagPattern, TextTerm, Value, VectorClause};
use crate::cursor::{is_escapable, is_word_char};
use crate::number::write_number;

impl fmt::Display for Query {
    /// The query string alone; the options print through [`Query::to_args`].
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let grouped =
            self.vector.is_some() && matches!(self.filter, Filter::And(_) | Filter::Or(_));
        if grouped {
            out.write_char('(')?;
        }
        write_filter(out, &self.filter)?;
        if grouped {
            out.write_char(')')?;
        }
        if let Some(clause) = &self.vector {
            write_knn(out, clause)?;
        }
        Ok(())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_filter(out, self)
    }
}

enum Step<'a> {
    Node(&'a Filter),
    Text(&'static str),
}

/// Walks the tree with an explicit stack: a hand-built tree may be nested far
/// deeper than the parser allows, and printing must not overflow the call stack.
fn write_filter<W: Write>(out: &mut W, root: &Filter) -> fmt::Result {
    let mut pending = vec![Step::Node(root)];
    while let Some(step) = pending.pop() {
        match step {
            Step::Text(text) => out.write_str(text)?,
            Step::Node(Filter::And(children)) => {
                // `a (b c)` and `a (b | c)` need their parentheses; the first to keep
                // the nested node the parser would otherwise flatten away.
                push_children(&mut pending, children, " ", |child| {
                    matches!(child, Filter::And(_) | Filter::Or(_))
                });
            }
            Step::Node(Filter::Or(children)) => {
                // Juxtaposition binds tighter than `|`, so an `And` child needs none.
                push_children(&mut pending, children, " | ", |child| {
                    matches!(child, Filter::Or(_))
                });
            }
            Step::Node(Filter::Not(inner)) => {
                out.write_char('-')?;
                let grouped = matches!(**inner, Filter::And(_) | Filter::Or(_));
                push_grouped(&mut pending, inner, grouped);
            }
            Step::Node(leaf) => write_leaf(out, leaf)?,
        }
    }
    Ok(())
}

fn push_children<'a>(
    pending: &mut Vec<Step<'a>>,
    children: &'a [Filter],
    separator: &'static str,
    needs_group: fn(&Filter) -> bool,
) {
    for (index, child) in children.iter().enumerate().rev() {
        push_grouped(pending, child, needs_group(child));
        if index > 0 {
            pending.push(Step::Text(separator));
        }
    }
}

fn push_grouped<'a>(pending: &mut Vec<Step<'a>>, child: &'a Filter, grouped: bool) {
    if grouped {
        pending.push(Step::Text(")"));
        pending.push(Step::Node(child));
        pending.push(Step::Text("("));
    } else {
        pending.push(Step::Node(child));
    }
}

fn write_leaf<W: Write>(out: &mut W, leaf: &Filter) -> fmt::Result {
    match leaf {
        Filter::All => out.write_char('*'),
        Filter::Tag { field, values } => {
            write_field(out, field)?;
            out.write_str(":{")?;
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    out.write_str(" | ")?;
                }
                match value {
                    Value::Literal(text) => write_tag_value(out, text)?,
                    Value::Param(name) => write_param(out, name)?,
                }
            }
            out.write_char('}')
        }
        Filter::TagMatch { field, pattern } => {
            write_field(out, field)?;
            out.write_str(":{")?;
            if matches!(pattern, TagPattern::Suffix(_) | TagPattern::Infix(_)) {
                out.write_char('*')?;
            }
            write_tag_value(out, pattern.text())?;
            if matches!(pattern, TagPattern::Prefix(_) | TagPattern::Infix(_)) {
                out.write_char('*')?;
            }
            out.write_char('}')
        }
        Filter::Range { field, low, high } => {
            write_field(out, field)?;
            out.write_str(":[")?;
            write_bound(out, low)?;
            out.write_char(' ')?;
            write_bound(out, high)?;
            out.write_char(']')
        }
        Filter::Text { field, term } => {
            if let Some(field) = field {
                write_field(out, field)?;
                out.write_char(':')?;
            }
            match term {
                TextTerm::Word(Value::Literal(word)) => write_word(out, word),
                TextTerm::Word(Value::Param(name)) => write_param(out, name),
                TextTerm::Phrase(words) => {
                    out.write_char('"')?;
                    for (index, word) in words.iter().enumerate() {
                        if index > 0 {
                            out.write_char(' ')?;
                        }
                        write_word(out, word)?;
                    }
                    out.write_char('"')
                }
                TextTerm::Prefix(stem) => {
                    write_word(out, stem)?;
                    out.write_char('*')
                }
                TextTerm::Fuzzy { word, distance } => {
                    for _ in 0..*distance {
                        out.write_char('%')?;
                    }
                    write_word(out, word)?;
                    for _ in 0..*distance {
                        out.write_char('%')?;
                    }
                    Ok(())
                }
            }
        }
        Filter::VectorRange {
            field,
            radius,
            vector_param,
            yield_distance_as,
            epsilon,
        } => {
            write_field(out, field)?;
            out.write_str(":[VECTOR_RANGE ")?;
            write_number_value(out, radius)?;
            out.write_char(' ')?;
            write_param(out, vector_param)?;
            out.write_char(']')?;
            if yield_distance_as.is_some() || epsilon.is_some() {
                out.write_str("=>{")?;
                if let Some(name) = yield_distance_as {
                    out.write_str("$YIELD_DISTANCE_AS: ")?;
                    write_word(out, name)?;
                    if epsilon.is_some() {
                        out.write_str("; ")?;
                    }
                }
                if let Some(epsilon) = epsilon {
                    out.write_str("$EPSILON: ")?;
                    write_number_value(out, epsilon)?;
                }
                out.write_char('}')?;
            }
            Ok(())
        }
        // Interior nodes are expanded by `write_filter`.
        Filter::And(_) | Filter::Or(_) | Filter::Not(_) => Ok(()),
    }
}

fn write_knn<W: Write>(out: &mut W, clause: &VectorClause) -> fmt::Result {
    out.write_str("=>[KNN ")?;
    write_count_value(out, &clause.k)?;
    out.write_char(' ')?;
    write_field(out, &clause.field)?;
    out.write_char(' ')?;
    write_param(out, &clause.vector_param)?;
    if let Some(ef_runtime) = &clause.ef_runtime {
        out.write_str(" EF_RUNTIME ")?;
        write_count_value(out, ef_runtime)?;
    }
    if let Some(policy) = clause.hybrid_policy {
        out.write_str(" HYBRID_POLICY ")?;
        out.write_str(policy.keyword())?;
    }
    if let Some(batch_size) = &clause.batch_size {
        out.write_str(" BATCH_SIZE ")?;
        write_count_value(out, batch_size)?;
    }
    if let Some(nprobe) = &clause.nprobe {
        out.write_str(" NPROBE ")?;
        write_count_value(out, nprobe)?;
    }
    if let Some(refine) = &clause.refine {
        out.write_str(" REFINE ")?;
        write_count_value(out, refine)?;
    }
    if let Some(alias) = &clause.alias {
        out.write_str(" AS ")?;
        write_word(out, alias)?;
    }
    out.write_char(']')
}

fn write_bound<W: Write>(out: &mut W, bound: &RangeBound) -> fmt::Result {
    if !bound.inclusive {
        out.write_char('(')?;
    }
    write_number_value(out, &bound.value)
}

fn write_number_value<W: Write>(out: &mut W, value: &Value<f64>) -> fmt::Result {
    match value {
        Value::Literal(number) => write_number(out, *number),
        Value::Param(name) => write_param(out, name),
    }
}

fn write_count_value<W: Write>(out: &mut W, value: &Value<u64>) -> fmt::Result {
    match value {
        Value::Literal(count) => write!(out, "{count}"),
        Value::Param(name) => write_param(out, name),
    }
}

fn write_field<W: Write>(out: &mut W, field: &str) -> fmt::Result {
    out.write_char('@')?;
    write_word(out, field)
}

fn write_param<W: Write>(out: &mut W, name: &str) -> fmt::Result {
    out.write_char('$')?;
    write_word(out, name)
}

/// A word with every non-word character backslash-escaped.
pub(crate) fn write_word<W: Write>(out: &mut W, word: &str) -> fmt::Result {
    for c in word.chars() {
        if !is_word_char(c) {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    Ok(())
}

/// Tag values that only escapes can carry print bare; the rest print quoted.
fn write_tag_value<W: Write>(out: &mut W, value: &str) -> fmt::Result {
    if value.chars().all(|c| is_word_char(c) || is_escapable(c)) {
        return write_word(out, value);
    }
    out.write_char('"')?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    out.write_char('"')
}

//! `Drop`, `Clone`, `PartialEq` and `Debug` for [`Filter`] without recursion.
//!
//! The parser bounds nesting, but a tree built in code (the engine's builder, or this
//! crate's AST directly) can be a million levels deep. The derived impls recurse once
//! per level and overflowed the stack on such a tree: dropping it aborted the
//! process. These walk the tree with an explicit stack on the heap instead.

use std::fmt;

use crate::ast::Filter;

impl Drop for Filter {
    fn drop(&mut self) {
        // Detach the children, then drop each node only once its own children are
        // detached, so no drop ever reaches more than one level down.
        let mut detached = Vec::new();
        detach_children(self, &mut detached);
        while let Some(mut node) = detached.pop() {
            detach_children(&mut node, &mut detached);
        }
    }
}

fn detach_children(node: &mut Filter, into: &mut Vec<Filter>) {
    match node {
        Filter::And(children) | Filter::Or(children) => into.append(children),
        Filter::Not(inner) => into.push(std::mem::replace(&mut **inner, Filter::All)),
        _ => {}
    }
}

/// A leaf's copy; an interior node's copy without its children.
fn clone_leaf(node: &Filter) -> Filter {
    match node {
        Filter::All | Filter::And(_) | Filter::Or(_) | Filter::Not(_) => Filter::All,
        Filter::Tag { field, values } => Filter::Tag {
            field: field.clone(),
            values: values.clone(),
        },
        Filter::TagMatch { field, pattern } => Filter::TagMatch {
            field: field.clone(),
            pattern: pattern.clone(),
        },
        Filter::Range { field, low, high } => Filter::Range {
            field: field.clone(),
            low: low.clone(),
            high: high.clone(),
        },
        Filter::Text { field, term } => Filter::Text {
            field: field.clone(),
            term: term.clone(),
        },
        Filter::VectorRange {
            field,
            radius,
            vector_param,
            yield_distance_as,
            epsilon,
        } => Filter::VectorRange {
            field: field.clone(),
            radius: radius.clone(),
            vector_param: vector_param.clone(),
            yield_distance_as: yield_distance_as.clone(),
            epsilon: epsilon.clone(),
        },
    }
}

impl Clone for Filter {
    fn clone(&self) -> Filter {
        enum Step<'a> {
            Visit(&'a Filter),
            And(usize),
            Or(usize),
            Not,
        }
        // Children are copied onto `done` in order; an interior node's step, pushed
        // before its children's visits, runs after them and collects them.
        let mut pending = vec![Step::Visit(self)];
        let mut done: Vec<Filter> = Vec::new();
        while let Some(step) = pending.pop() {
            match step {
                Step::Visit(Filter::And(children)) => {
                    pending.push(Step::And(children.len()));
                    pending.extend(children.iter().rev().map(Step::Visit));
                }
                Step::Visit(Filter::Or(children)) => {
                    pending.push(Step::Or(children.len()));
                    pending.extend(children.iter().rev().map(Step::Visit));
                }
                Step::Visit(Filter::Not(inner)) => {
                    pending.push(Step::Not);
                    pending.push(Step::Visit(inner));
                }
                Step::Visit(leaf) => done.push(clone_leaf(leaf)),
                Step::And(count) => {
                    let children = done.split_off(done.len() - count);
                    done.push(Filter::And(children));
                }
                Step::Or(count) => {
                    let children = done.split_off(done.len() - count);
                    done.push(Filter::Or(children));
                }
                Step::Not => {
                    let inner = done.pop().expect("a Not step follows its child's copy");
                    done.push(Filter::Not(Box::new(inner)));
                }
            }
        }
        done.pop().expect("the root's copy")
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        let mut pending = vec![(self, other)];
        while let Some(pair) = pending.pop() {
            match pair {
                (Filter::And(a), Filter::And(b)) | (Filter::Or(a), Filter::Or(b)) => {
                    if a.len() != b.len() {
                        return false;
                    }
                    pending.extend(a.iter().zip(b));
                }
                (Filter::Not(a), Filter::Not(b)) => pending.push((a, b)),
                (a, b) => {
                    if !leaf_eq(a, b) {
                        return false;
                    }
                }
            }
        }
        true
    }
}

/// Equality of two nodes of which at most one is interior (then they differ).
fn leaf_eq(a: &Filter, b: &Filter) -> bool {
    match (a, b) {
        (Filter::All, Filter::All) => true,
        (
            Filter::Tag { field, values },
            Filter::Tag {
                field: other_field,
                values: other_values,
            },
        ) => field == other_field && values == other_values,
        (
            Filter::TagMatch { field, pattern },
            Filter::TagMatch {
                field: other_field,
                pattern: other_pattern,
            },
        ) => field == other_field && pattern == other_pattern,
        (
            Filter::Range { field, low, high },
            Filter::Range {
                field: other_field,
                low: other_low,
                high: other_high,
            },
        ) => field == other_field && low == other_low && high == other_high,
        (
            Filter::Text { field, term },
            Filter::Text {
                field: other_field,
                term: other_term,
            },
        ) => field == other_field && term == other_term,
        (
            Filter::VectorRange {
                field,
                radius,
                vector_param,
                yield_distance_as,
                epsilon,
            },
            Filter::VectorRange {
                field: other_field,
                radius: other_radius,
                vector_param: other_vector_param,
                yield_distance_as: other_yield,
                epsilon: other_epsilon,
            },
        ) => {
            field == other_field
                && radius == other_radius
                && vector_param == other_vector_param
                && yield_distance_as == other_yield
                && epsilon == other_epsilon
        }
        _ => false,
    }
}

/// A leaf in the derived style: `Tag { field: "t", values: [Literal("x")] }`.
struct Leaf<'a>(&'a Filter);

impl fmt::Debug for Leaf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Filter::Tag { field, values } => f
                .debug_struct("Tag")
                .field("field", field)
                .field("values", values)
                .finish(),
            Filter::TagMatch { field, pattern } => f
                .debug_struct("TagMatch")
                .field("field", field)
                .field("pattern", pattern)
                .finish(),
            Filter::Range { field, low, high } => f
                .debug_struct("Range")
                .field("field", field)
                .field("low", low)
                .field("high", high)
                .finish(),
            Filter::Text { field, term } => f
                .debug_struct("Text")
                .field("field", field)
                .field("term", term)
                .finish(),
            Filter::VectorRange {
                field,
                radius,
                vector_param,
                yield_distance_as,
                epsilon,
            } => f
                .debug_struct("VectorRange")
                .field("field", field)
                .field("radius", radius)
                .field("vector_param", vector_param)
                .field("yield_distance_as", yield_distance_as)
                .field("epsilon", epsilon)
                .finish(),
            Filter::All | Filter::And(_) | Filter::Or(_) | Filter::Not(_) => f.write_str("All"),
        }
    }
}

/// The derived layout on one line (`And([All, Not(All)])`), in `{:#?}` too: pretty
/// printing nests its indentation through recursive formatters.
impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        enum Step<'a> {
            Node(&'a Filter),
            Text(&'static str),
        }
        let mut pending = vec![Step::Node(self)];
        while let Some(step) = pending.pop() {
            match step {
                Step::Text(text) => f.write_str(text)?,
                Step::Node(node @ (Filter::And(children) | Filter::Or(children))) => {
                    let name = match node {
                        Filter::And(_) => "And([",
                        _ => "Or([",
                    };
                    f.write_str(name)?;
                    pending.push(Step::Text("])"));
                    for (index, child) in children.iter().enumerate().rev() {
                        pending.push(Step::Node(child));
                        if index > 0 {
                            pending.push(Step::Text(", "));
                        }
                    }
                }
                Step::Node(Filter::Not(inner)) => {
                    f.write_str("Not(")?;
                    pending.push(Step::Text(")"));
                    pending.push(Step::Node(inner));
                }
                Step::Node(Filter::All) => f.write_str("All")?,
                Step::Node(leaf) => write!(f, "{:?}", Leaf(leaf))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{Filter, RangeBound, Value};

    fn tag(value: &str) -> Filter {
        Filter::Tag {
            field: "t".to_string(),
            values: vec![Value::Literal(value.to_string())],
        }
    }

    #[test]
    fn debug_matches_the_derived_layout() {
        let filter = Filter::And(vec![
            tag("x"),
            Filter::Not(Box::new(Filter::Or(vec![
                Filter::All,
                Filter::Range {
                    field: "n".to_string(),
                    low: RangeBound::inclusive(1.0),
                    high: RangeBound::exclusive(2.0),
                },
            ]))),
        ]);
        assert_eq!(
            format!("{filter:?}"),
            "And([Tag { field: \"t\", values: [Literal(\"x\")] }, Not(Or([All, Range { \
             field: \"n\", low: RangeBound { value: Literal(1.0), inclusive: true }, high: \
             RangeBound { value: Literal(2.0), inclusive: false } }]))])"
        );
    }

    #[test]
    fn clone_and_eq_keep_order_and_shape() {
        let filter = Filter::Or(vec![
            Filter::And(vec![tag("a"), tag("b")]),
            Filter::Not(Box::new(tag("c"))),
            tag("d"),
        ]);
        let copy = filter.clone();
        assert_eq!(copy, filter);
        assert_eq!(format!("{copy:?}"), format!("{filter:?}"));
        let reordered = Filter::Or(vec![
            Filter::And(vec![tag("b"), tag("a")]),
            Filter::Not(Box::new(tag("c"))),
            tag("d"),
        ]);
        assert_ne!(reordered, filter);
        assert_ne!(Filter::Not(Box::new(tag("c"))), tag("c"));
        assert_ne!(Filter::And(vec![tag("a")]), Filter::Or(vec![tag("a")]));
    }
}

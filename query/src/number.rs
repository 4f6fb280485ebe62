//! Numbers as the query language writes them, in both directions.

use std::fmt::{self, Write};

/// Outcome of reading a numeric literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NumberText {
    Valid(f64),
    /// Well-formed but beyond `f64` (such as `1e999`); rejected rather than
    /// silently turned into infinity, which is almost certainly not what was meant.
    OutOfRange,
    Invalid,
}

/// Reads `[+-]? (inf | infinity | digits [. digits] | . digits) ([eE] [+-]? digits)?`.
///
/// Rust's float parser also takes `nan` and would take whatever it learns to take
/// next, so the shape is checked here first; it then does the exact conversion.
pub(crate) fn parse_number(text: &str) -> NumberText {
    let body = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let negative = text.starts_with('-');
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return NumberText::Valid(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (body.get(..at).unwrap_or(""), body.get(at + 1..)),
        None => (body, None),
    };
    if !is_decimal(mantissa) {
        return NumberText::Invalid;
    }
    if let Some(exponent) = exponent {
        let digits = exponent
            .strip_prefix('-')
            .or_else(|| exponent.strip_prefix('+'))
            .unwrap_or(exponent);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return NumberText::Invalid;
        }
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => NumberText::Valid(value),
        Ok(_) => NumberText::OutOfRange,
        Err(_) => NumberText::Invalid,
    }
}

fn is_decimal(text: &str) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    (!whole.is_empty() || !fraction.is_empty()) && all_digits(whole) && all_digits(fraction)
}

/// Reads a whole number of ASCII digits; `None` if anything else is in it. Values
/// past `u64` saturate so the caller reports them as over its limit.
pub(crate) fn parse_count(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |total, digit| {
        total
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

/// Writes `value` so that [`parse_number`] gives back exactly the same `f64`.
///
/// Rust's `Display` and `LowerExp` for floats both print the shortest text that
/// round-trips; plain notation is kept for everyday magnitudes and exponent notation
/// for the rest, so `1e300` does not print as three hundred digits.
pub(crate) fn write_number<W: Write>(out: &mut W, value: f64) -> fmt::Result {
    if value.is_infinite() {
        out.write_str(if value > 0.0 { "+inf" } else { "-inf" })
    } else if value == 0.0 || (1e-5..1e16).contains(&value.abs()) {
        write!(out, "{value}")
    } else {
        write!(out, "{value:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(value: f64) -> String {
        let mut out = String::new();
        write_number(&mut out, value).unwrap();
        out
    }

    #[test]
    fn accepts_redis_number_shapes() {
        assert_eq!(parse_number("10"), NumberText::Valid(10.0));
        assert_eq!(parse_number("-1.5"), NumberText::Valid(-1.5));
        assert_eq!(parse_number("1e-5"), NumberText::Valid(1e-5));
        assert_eq!(parse_number("2E+3"), NumberText::Valid(2000.0));
        assert_eq!(parse_number(".5"), NumberText::Valid(0.5));
        assert_eq!(parse_number("+inf"), NumberText::Valid(f64::INFINITY));
        assert_eq!(parse_number("-INF"), NumberText::Valid(f64::NEG_INFINITY));
        assert_eq!(parse_number("inf"), NumberText::Valid(f64::INFINITY));
    }

    #[test]
    fn rejects_everything_else() {
        for text in [
            "", "-", ".", "nan", "NaN", "1e", "1e+", "0x10", "1.2.3", "abc", "1_0",
        ] {
            assert_eq!(parse_number(text), NumberText::Invalid, "{text}");
        }
        assert_eq!(parse_number("1e999"), NumberText::OutOfRange);
    }

    #[test]
    fn prints_round_trip_exactly() {
        for value in [
            0.0,
            -0.0,
            0.1,
            1.0 / 3.0,
            1e300,
            -2.5e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            123456789.125,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let text = printed(value);
            match parse_number(&text) {
                NumberText::Valid(back) => {
                    assert_eq!(back.to_bits(), value.to_bits(), "{text}")
                }
                other => panic!("{text} -> {other:?}"),
            }
        }
        assert_eq!(printed(100.0), "100");
        assert_eq!(printed(1e300), "1e300");
    }

    #[test]
    fn counts_saturate() {
        assert_eq!(parse_count("64"), Some(64));
        assert_eq!(parse_count("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_count("1.5"), None);
        assert_eq!(parse_count(""), None);
    }
}

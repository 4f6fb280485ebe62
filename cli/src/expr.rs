//! The expressions of `FT.AGGREGATE`'s `APPLY` and `FILTER`: numbers, quoted strings,
//! `@field`, arithmetic (`+ - * / % ^`), comparisons, `&&`, `||`, `!`, parentheses
//! and RediSearch's common functions. Values are numbers, strings, lists (`TOLIST`) or
//! null; a string that reads as a number is one in arithmetic and comparisons, as in
//! RediSearch, where hash fields are strings.

use std::cmp::Ordering;

/// A value in an aggregation row.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Nil,
    Num(f64),
    Str(Vec<u8>),
    List(Vec<Val>),
}

impl Val {
    /// The value as a number, when it is one or a string that reads as one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Val::Num(x) => Some(*x),
            Val::Str(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as text (numbers as RediSearch prints them).
    pub fn text(&self) -> String {
        match self {
            Val::Nil => String::new(),
            Val::Num(x) => format_number(*x),
            Val::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Val::List(items) => items.iter().map(Val::text).collect::<Vec<_>>().join(","),
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Num(x) => *x != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(items) => !items.is_empty(),
        }
    }

    /// The order `SORTBY` and `MIN`/`MAX` use: numbers by value when both read as
    /// numbers, else bytes; null sorts last.
    pub fn compare(&self, other: &Val) -> Ordering {
        match (self, other) {
            (Val::Nil, Val::Nil) => Ordering::Equal,
            (Val::Nil, _) => Ordering::Greater,
            (_, Val::Nil) => Ordering::Less,
            _ => match (self.number(), other.number()) {
                (Some(a), Some(b)) => a.total_cmp(&b),
                _ => self.text().cmp(&other.text()),
            },
        }
    }
}

/// A number as RediSearch prints it: integers without a fraction, others with up to
/// 12 significant digits.
pub fn format_number(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let rounded: f64 = format!("{x:.11e}").parse().unwrap_or(x);
    format!("{rounded}")
}

/// A parsed expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Literal(Val),
    Field(String),
    Unary(char, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Num(f64),
    Str(String),
    Field(String),
    Ident(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

const OPERATORS: [&str; 16] = [
    "&&", "||", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "^", "!", "=",
];

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'(' {
            out.push(Token::Open);
            i += 1;
        } else if c == b')' {
            out.push(Token::Close);
            i += 1;
        } else if c == b',' {
            out.push(Token::Comma);
            i += 1;
        } else if c == b'"' || c == b'\'' {
            let mut s = Vec::new();
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(format!("unterminated string in `{text}`")),
                    Some(b'\\') if i + 1 < bytes.len() => {
                        s.push(bytes[i + 1]);
                        i += 2;
                    }
                    Some(q) if *q == c => {
                        i += 1;
                        break;
                    }
                    Some(b) => {
                        s.push(*b);
                        i += 1;
                    }
                }
            }
            out.push(Token::Str(String::from_utf8_lossy(&s).into_owned()));
        } else if c == b'@' || c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            i += 1;
            // `@$.a[*].b` names a JSON path; other names are letters, digits and `_`.
            let path = bytes.get(i) == Some(&b'$') || c == b'$';
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || (path && b".$[]*".contains(&bytes[i])))
            {
                i += 1;
            }
            let word = &text[start..i];
            out.push(match word.strip_prefix('@') {
                Some(field) if !field.is_empty() => Token::Field(field.to_string()),
                Some(_) => return Err(format!("`@` without a field name in `{text}`")),
                None => Token::Ident(word.to_string()),
            });
        } else if c.is_ascii_digit() || c == b'.' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.'
                    || ((bytes[i] == b'e' || bytes[i] == b'E') && i > start)
                    || ((bytes[i] == b'+' || bytes[i] == b'-')
                        && matches!(bytes[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            let number = &text[start..i];
            out.push(Token::Num(number.parse().map_err(|_| {
                format!("`{number}` is not a number in `{text}`")
            })?));
        } else {
            let op = OPERATORS
                .iter()
                .find(|op| text[i..].starts_with(*op))
                .ok_or_else(|| format!("unexpected `{}` in `{text}`", &text[i..i + 1]))?;
            out.push(Token::Op(if *op == "=" { "==" } else { op }));
            i += op.len();
        }
    }
    Ok(out)
}

fn precedence(op: &str) -> Option<(u8, bool)> {
    Some(match op {
        "||" => (1, false),
        "&&" => (2, false),
        "==" | "!=" => (3, false),
        "<" | "<=" | ">" | ">=" => (4, false),
        "+" | "-" => (5, false),
        "*" | "/" | "%" => (6, false),
        "^" => (7, true),
        _ => return None,
    })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    text: String,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expression(&mut self, min: u8) -> Result<Expr, String> {
        let mut left = self.operand()?;
        while let Some(Token::Op(op)) = self.peek() {
            let op: &'static str = op;
            let Some((level, right_assoc)) = precedence(op) else {
                break;
            };
            if level < min {
                break;
            }
            self.at += 1;
            let right = self.expression(if right_assoc { level } else { level + 1 })?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn operand(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Num(x)) => Ok(Expr::Literal(Val::Num(x))),
            Some(Token::Str(s)) => Ok(Expr::Literal(Val::Str(s.into_bytes()))),
            Some(Token::Field(f)) => Ok(Expr::Field(f)),
            Some(Token::Op("-")) => Ok(Expr::Unary('-', Box::new(self.expression(8)?))),
            Some(Token::Op("!")) => Ok(Expr::Unary('!', Box::new(self.expression(8)?))),
            Some(Token::Open) => {
                let inner = self.expression(0)?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(format!("a `(` is not closed in `{}`", self.text)),
                }
            }
            Some(Token::Ident(name)) => {
                if self.next() != Some(Token::Open) {
                    return Err(format!(
                        "`{name}` in `{}`: a field is written `@{name}`, a string in quotes",
                        self.text
                    ));
                }
                let mut args = Vec::new();
                if self.peek() == Some(&Token::Close) {
                    self.at += 1;
                } else {
                    loop {
                        args.push(self.expression(0)?);
                        match self.next() {
                            Some(Token::Comma) => continue,
                            Some(Token::Close) => break,
                            _ => {
                                return Err(format!(
                                    "the arguments of `{name}` are not closed in `{}`",
                                    self.text
                                ))
                            }
                        }
                    }
                }
                let name = name.to_ascii_lowercase();
                check_call(&name, args.len())?;
                Ok(Expr::Call(name, args))
            }
            other => Err(format!(
                "expected a value at {:?} in `{}`",
                other.map_or("the end".to_string(), |t| format!("{t:?}")),
                self.text
            )),
        }
    }
}

/// The functions and how many arguments each takes.
const FUNCTIONS: [(&str, usize, usize); 15] = [
    ("abs", 1, 1),
    ("ceil", 1, 1),
    ("floor", 1, 1),
    ("sqrt", 1, 1),
    ("log", 1, 1),
    ("log2", 1, 1),
    ("exp", 1, 1),
    ("upper", 1, 1),
    ("lower", 1, 1),
    ("strlen", 1, 1),
    ("substr", 3, 3),
    ("startswith", 2, 2),
    ("contains", 2, 2),
    ("exists", 1, 1),
    ("to_number", 1, 1),
];

fn check_call(name: &str, n: usize) -> Result<(), String> {
    match FUNCTIONS.iter().find(|(f, _, _)| *f == name) {
        None => Err(format!("Unknown function name '{name}'")),
        Some((_, lo, hi)) if n < *lo || n > *hi => {
            Err(format!("function `{name}` takes {lo} argument(s), got {n}"))
        }
        Some(_) => Ok(()),
    }
}

/// Parses an `APPLY` or `FILTER` expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
        text: text.to_string(),
    };
    let expr = parser.expression(0)?;
    if parser.at < parser.tokens.len() {
        return Err(format!(
            "unexpected {:?} in `{text}`",
            parser.tokens[parser.at]
        ));
    }
    Ok(expr)
}

impl Expr {
    /// The value over a row, `field` looking up `@name`.
    pub fn eval(&self, field: &dyn Fn(&str) -> Val) -> Val {
        let num = |e: &Expr| e.eval(field).number();
        let bool_val = |b: bool| Val::Num(b as i64 as f64);
        match self {
            Expr::Literal(v) => v.clone(),
            Expr::Field(f) => field(f),
            Expr::Unary('-', e) => num(e).map_or(Val::Nil, |x| Val::Num(-x)),
            Expr::Unary(_, e) => bool_val(!e.eval(field).truthy()),
            Expr::Binary(op, a, b) => {
                if *op == "&&" {
                    return bool_val(a.eval(field).truthy() && b.eval(field).truthy());
                }
                if *op == "||" {
                    return bool_val(a.eval(field).truthy() || b.eval(field).truthy());
                }
                let (a, b) = (a.eval(field), b.eval(field));
                if matches!(*op, "==" | "!=" | "<" | "<=" | ">" | ">=") {
                    if a == Val::Nil || b == Val::Nil {
                        return bool_val(*op == "!=" && a != b);
                    }
                    let order = a.compare(&b);
                    return bool_val(match *op {
                        "==" => order == Ordering::Equal,
                        "!=" => order != Ordering::Equal,
                        "<" => order == Ordering::Less,
                        "<=" => order != Ordering::Greater,
                        ">" => order == Ordering::Greater,
                        _ => order != Ordering::Less,
                    });
                }
                let (Some(x), Some(y)) = (a.number(), b.number()) else {
                    return Val::Nil;
                };
                Val::Num(match *op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "/" => x / y,
                    "%" => (x as i64)
                        .checked_rem(y as i64)
                        .map_or(f64::NAN, |r| r as f64),
                    _ => x.powf(y),
                })
            }
            Expr::Call(name, args) => call(name, args, field),
        }
    }
}

fn call(name: &str, args: &[Expr], field: &dyn Fn(&str) -> Val) -> Val {
    if name == "exists" {
        return Val::Num((args[0].eval(field) != Val::Nil) as i64 as f64);
    }
    let values: Vec<Val> = args.iter().map(|a| a.eval(field)).collect();
    let math = |f: fn(f64) -> f64| values[0].number().map_or(Val::Nil, |x| Val::Num(f(x)));
    let text = |v: &Val| v.text();
    match name {
        "abs" => math(f64::abs),
        "ceil" => math(f64::ceil),
        "floor" => math(f64::floor),
        "sqrt" => math(f64::sqrt),
        "log" => math(f64::ln),
        "log2" => math(f64::log2),
        "exp" => math(f64::exp),
        "to_number" => math(|x| x),
        "upper" => Val::Str(text(&values[0]).to_uppercase().into_bytes()),
        "lower" => Val::Str(text(&values[0]).to_lowercase().into_bytes()),
        "strlen" => Val::Num(text(&values[0]).chars().count() as f64),
        "substr" => {
            let s: Vec<char> = text(&values[0]).chars().collect();
            let len = s.len() as i64;
            let start = values[1].number().unwrap_or(0.0) as i64;
            let start = if start < 0 { len + start } else { start }.clamp(0, len);
            let count = values[2].number().unwrap_or(-1.0) as i64;
            let end = if count < 0 {
                len + count + 1
            } else {
                start + count
            }
            .clamp(start, len);
            Val::Str(
                s[start as usize..end as usize]
                    .iter()
                    .collect::<String>()
                    .into_bytes(),
            )
        }
        "startswith" => Val::Num(text(&values[0]).starts_with(&text(&values[1])) as i64 as f64),
        "contains" => {
            let (haystack, needle) = (text(&values[0]), text(&values[1]));
            Val::Num(if needle.is_empty() {
                haystack.chars().count() as f64 + 1.0
            } else {
                haystack.matches(&needle).count() as f64
            })
        }
        _ => Val::Nil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Val {
        let row = |name: &str| match name {
            "price" => Val::Str(b"12".to_vec()),
            "genre" => Val::Str(b"Drama".to_vec()),
            "d" => Val::Num(0.25),
            _ => Val::Nil,
        };
        parse(text).unwrap().eval(&row)
    }

    #[test]
    fn arithmetic_follows_precedence_and_reads_numeric_strings() {
        assert_eq!(eval("@price * 2 + 1"), Val::Num(25.0));
        assert_eq!(eval("(2 - @d)/2"), Val::Num(0.875));
        assert_eq!(eval("2 ^ 3 ^ 2"), Val::Num(512.0));
        assert_eq!(eval("-@price % 5"), Val::Num(-2.0));
        assert_eq!(
            eval("0.3*@d + 0.7*(1 - @d)"),
            Val::Num(0.3 * 0.25 + 0.7 * 0.75)
        );
        assert_eq!(eval("@missing + 1"), Val::Nil);
    }

    #[test]
    fn comparisons_logic_and_functions() {
        assert_eq!(eval("@price > 9 && @genre == 'Drama'"), Val::Num(1.0));
        assert_eq!(eval("@price < 9 || !exists(@missing)"), Val::Num(1.0));
        assert_eq!(eval("upper(@genre)"), Val::Str(b"DRAMA".to_vec()));
        assert_eq!(eval("substr(@genre, 1, 3)"), Val::Str(b"ram".to_vec()));
        assert_eq!(eval("strlen(@genre) + floor(2.7)"), Val::Num(7.0));
        assert_eq!(eval("startswith(@genre, \"Dr\")"), Val::Num(1.0));
    }

    #[test]
    fn bad_expressions_say_where() {
        assert!(parse("@a +").is_err());
        assert!(parse("nosuch(@a)")
            .unwrap_err()
            .contains("Unknown function"));
        assert!(parse("(@a").unwrap_err().contains("not closed"));
        assert!(parse("price > 1").unwrap_err().contains("@price"));
        assert!(parse("'open").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn numbers_print_as_redisearch_does() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
    }
}

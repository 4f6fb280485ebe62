//! Replies printed the way `redis-cli` prints them.

use crate::resp::{format_double, Reply};

/// The reply as `redis-cli` shows it, without a trailing newline.
pub fn render(reply: &Reply) -> String {
    let mut out = String::new();
    write(reply, &mut out, 0);
    out
}

fn write(reply: &Reply, out: &mut String, indent: usize) {
    match reply {
        Reply::Simple(s) => out.push_str(s),
        Reply::Error(s) => {
            out.push_str("(error) ");
            out.push_str(s);
        }
        Reply::Int(n) => out.push_str(&format!("(integer) {n}")),
        Reply::Bulk(bytes) => quote(bytes, out),
        Reply::Nil => out.push_str("(nil)"),
        Reply::Double(x) => out.push_str(&format!("(double) {}", format_double(*x))),
        Reply::Array(items) | Reply::Set(items) => {
            if items.is_empty() {
                out.push_str(if matches!(reply, Reply::Set(_)) {
                    "(empty set)"
                } else {
                    "(empty array)"
                });
                return;
            }
            let width = items.len().to_string().len();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let prefix = format!("{:>width$}) ", i + 1);
                out.push_str(&prefix);
                write(item, out, indent + prefix.len());
            }
        }
        Reply::Map(pairs) => {
            if pairs.is_empty() {
                out.push_str("(empty hash)");
                return;
            }
            let width = pairs.len().to_string().len();
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let mut head = format!("{:>width$}# ", i + 1);
                write(key, &mut head, 0);
                head.push_str(" => ");
                out.push_str(&head);
                write(value, out, indent + head.chars().count());
            }
        }
    }
}

fn quote(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_arrays_indent_like_redis_cli() {
        let reply = Reply::Array(vec![
            Reply::Int(1),
            Reply::text("doc:1"),
            Reply::Array(vec![Reply::text("t"), Reply::Bulk(vec![b'a', 0xff])]),
        ]);
        assert_eq!(
            render(&reply),
            "1) (integer) 1\n2) \"doc:1\"\n3) 1) \"t\"\n   2) \"a\\xff\""
        );
        assert_eq!(render(&Reply::Array(vec![])), "(empty array)");
        assert_eq!(render(&Reply::error("ERR x")), "(error) ERR x");
    }
}

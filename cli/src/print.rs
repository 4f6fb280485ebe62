//! Replies printed the way `redis-cli` prints them.

use crate::resp::{format_double, Reply};

/// The reply as `redis-cli` shows it, without a trailing newline. Without RESP3, maps,
/// sets and doubles show in their RESP2 shapes, as a RESP2 connection receives them.
pub fn render(reply: &Reply, resp3: bool) -> String {
    let mut out = String::new();
    if resp3 {
        write(reply, &mut out, 0);
    } else {
        write(&resp2(reply), &mut out, 0);
    }
    out
}

fn resp2(reply: &Reply) -> Reply {
    match reply {
        Reply::Map(pairs) => Reply::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [resp2(k), resp2(v)])
                .collect(),
        ),
        Reply::Array(items) | Reply::Set(items) => Reply::Array(items.iter().map(resp2).collect()),
        Reply::Double(x) => Reply::Bulk(format_double(*x).into_bytes()),
        other => other.clone(),
    }
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
            render(&reply, false),
            "1) (integer) 1\n2) \"doc:1\"\n3) 1) \"t\"\n   2) \"a\\xff\""
        );
        assert_eq!(render(&Reply::Array(vec![]), false), "(empty array)");
        assert_eq!(render(&Reply::error("ERR x"), false), "(error) ERR x");
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Double(1.5))]);
        assert_eq!(render(&map, true), "1# \"a\" => (double) 1.5");
        assert_eq!(render(&map, false), "1) \"a\"\n2) \"1.5\"");
    }
}

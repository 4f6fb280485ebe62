//! Redis commands over a [`Keyspace`]: connection commands, hashes, keys, `MULTI`,
//! and the `FT.*` family. Shared by the server and the shell.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::aggregate;
use crate::datatypes;
use crate::ft::{self, wrong_args};
use crate::glob;
use crate::hybrid;
use crate::keyspace::{Failure, Hash, Keyspace};
use crate::resp::Reply;

/// The version reported to clients. Clients (RedisVL among them) gate features on the
/// Redis and search-module versions; these are the ones whose behaviour Strata follows.
pub const REDIS_VERSION: &str = "7.4.1";
const SEARCH_MODULE_VERSION: i64 = 21005;

/// One command: its name and arguments, as bytes.
pub type Command = Vec<Vec<u8>>;

/// State shared by every connection.
#[derive(Debug)]
pub struct Shared {
    pub keyspace: Keyspace,
    /// `requirepass`: when set, a connection must `AUTH` (or `HELLO .. AUTH`) first.
    pub password: Option<String>,
    pub clients: AtomicUsize,
    /// Open `FT.AGGREGATE .. WITHCURSOR` cursors.
    pub cursors: aggregate::Cursors,
    next_id: AtomicU64,
    started: Instant,
    commands: AtomicU64,
}

impl Shared {
    /// State over `keyspace`.
    pub fn new(keyspace: Keyspace, password: Option<String>) -> Shared {
        Shared {
            keyspace,
            password,
            clients: AtomicUsize::new(0),
            cursors: aggregate::Cursors::default(),
            next_id: AtomicU64::new(1),
            started: Instant::now(),
            commands: AtomicU64::new(0),
        }
    }

    /// A new connection's state.
    pub fn session(&self) -> Session {
        Session {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            resp3: false,
            authed: self.password.is_none(),
            name: None,
            multi: None,
            multi_failed: false,
            quit: false,
        }
    }
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub resp3: bool,
    pub authed: bool,
    pub name: Option<Vec<u8>>,
    multi: Option<Vec<Command>>,
    multi_failed: bool,
    /// Set by `QUIT`: close after replying.
    pub quit: bool,
}

fn err(message: impl AsRef<str>) -> Reply {
    let message = message.as_ref();
    if message
        .split(' ')
        .next()
        .is_some_and(|code| code.len() > 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
    {
        Reply::error(message.to_string())
    } else {
        Reply::error(format!("ERR {message}"))
    }
}

fn from(result: Result<Reply, Failure>) -> Reply {
    result.unwrap_or_else(err)
}

fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

fn key(arg: &[u8]) -> Result<&str, Failure> {
    std::str::from_utf8(arg).map_err(|_| "keys must be UTF-8 text on this server".to_string())
}

fn integer(arg: &[u8]) -> Result<i64, Failure> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "value is not an integer or out of range".to_string())
}

/// Runs a batch of commands read together (a pipeline), in order. Runs of `HSET`
/// become one `upsert_many` per collection; if the run fails as a whole, its commands
/// are run one by one so each gets its own reply.
pub fn execute_batch(shared: &Shared, session: &mut Session, commands: Vec<Command>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(commands.len());
    let mut i = 0;
    while i < commands.len() {
        if session.multi.is_none() && session.authed && is_hset(&commands[i]) {
            let mut j = i;
            while j < commands.len() && is_hset(&commands[j]) {
                j += 1;
            }
            if j - i > 1 {
                match hset_batch(shared, &commands[i..j]) {
                    Some(counts) => {
                        replies.extend(counts);
                        i = j;
                        continue;
                    }
                    None => {
                        for command in &commands[i..j] {
                            replies.push(execute(shared, session, command));
                        }
                        i = j;
                        continue;
                    }
                }
            }
        }
        replies.push(execute(shared, session, &commands[i]));
        if session.quit {
            break;
        }
        i += 1;
    }
    replies
}

fn is_hset(command: &Command) -> bool {
    command.len() >= 4
        && command.len().is_multiple_of(2)
        && (command[0].eq_ignore_ascii_case(b"HSET") || command[0].eq_ignore_ascii_case(b"HMSET"))
        && std::str::from_utf8(&command[1]).is_ok()
}

/// Well-formed HSETs as one write; `None` if it failed (then run one by one).
fn hset_batch(shared: &Shared, commands: &[Command]) -> Option<Vec<Reply>> {
    let entries: Vec<(String, Hash)> = commands
        .iter()
        .map(|c| {
            let key = String::from_utf8(c[1].clone()).expect("checked by is_hset");
            let fields = c[2..]
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            (key, fields)
        })
        .collect();
    let counts = shared.keyspace.hset_many(&entries).ok()?;
    shared
        .commands
        .fetch_add(commands.len() as u64, Ordering::Relaxed);
    Some(
        commands
            .iter()
            .zip(counts)
            .map(|(c, n)| {
                if c[0].eq_ignore_ascii_case(b"HMSET") {
                    Reply::ok()
                } else {
                    Reply::Int(n)
                }
            })
            .collect(),
    )
}

/// Runs one command.
pub fn execute(shared: &Shared, session: &mut Session, command: &Command) -> Reply {
    let Some(name) = command.first() else {
        return err("empty command");
    };
    let name = upper(name);
    let args = &command[1..];
    shared.commands.fetch_add(1, Ordering::Relaxed);
    if !session.authed && !matches!(name.as_str(), "AUTH" | "HELLO" | "QUIT") {
        return Reply::error("NOAUTH Authentication required.");
    }
    let queueing = !matches!(
        name.as_str(),
        "EXEC" | "DISCARD" | "MULTI" | "WATCH" | "QUIT"
    );
    if let (Some(queue), true) = (session.multi.as_mut(), queueing) {
        if !is_known(&name) {
            session.multi_failed = true;
            return unknown(&name, args);
        }
        queue.push(command.clone());
        return Reply::Simple("QUEUED".into());
    }
    let ks = &shared.keyspace;
    match name.as_str() {
        "PING" => match args {
            [] => Reply::Simple("PONG".into()),
            [message] => Reply::Bulk(message.clone()),
            _ => wrong_args("ping"),
        },
        "ECHO" => match args {
            [message] => Reply::Bulk(message.clone()),
            _ => wrong_args("echo"),
        },
        "QUIT" => {
            session.quit = true;
            Reply::ok()
        }
        "AUTH" => match args {
            [password] | [_, password] => auth(shared, session, password),
            _ => wrong_args("auth"),
        },
        "HELLO" => hello(shared, session, args),
        "SELECT" => match args {
            [db] if integer(db) == Ok(0) => Reply::ok(),
            [db] if integer(db).is_ok() => err("DB index is out of range"),
            [_] => err("value is not an integer or out of range"),
            _ => wrong_args("select"),
        },
        "CLIENT" => client(session, args),
        "INFO" => info(shared),
        "COMMAND" => command_info(args),
        "MODULE" => match args.first().map(|a| upper(a)).as_deref() {
            Some("LIST") => Reply::Array(vec![Reply::Map(vec![
                (Reply::text("name"), Reply::text("search")),
                (Reply::text("ver"), Reply::Int(SEARCH_MODULE_VERSION)),
                (Reply::text("path"), Reply::text("")),
                (Reply::text("args"), Reply::Array(vec![])),
            ])]),
            _ => err("MODULE LIST is the only MODULE subcommand this server has"),
        },
        "CONFIG" => match args.first().map(|a| upper(a)).as_deref() {
            Some("GET") => Reply::Map(vec![]),
            _ => err("CONFIG GET is the only CONFIG subcommand this server has; its settings are command-line options of `strata serve`"),
        },
        "MULTI" => {
            if session.multi.is_some() {
                return err("MULTI calls can not be nested");
            }
            session.multi = Some(Vec::new());
            session.multi_failed = false;
            Reply::ok()
        }
        "DISCARD" => match session.multi.take() {
            Some(_) => Reply::ok(),
            None => err("DISCARD without MULTI"),
        },
        "EXEC" => match session.multi.take() {
            None => err("EXEC without MULTI"),
            Some(_) if session.multi_failed => {
                Reply::error("EXECABORT Transaction discarded because of previous errors.")
            }
            Some(queued) => Reply::Array(execute_batch(shared, session, queued)),
        },
        "WATCH" | "UNWATCH" => Reply::ok(),
        "HSET" | "HMSET" => {
            if args.len() < 3 || args.len().is_multiple_of(2) {
                return wrong_args(&name.to_ascii_lowercase());
            }
            from((|| {
                let k = key(&args[0])?.to_string();
                let fields = args[1..].chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
                let n = ks.hset_many(&[(k, fields)])?[0];
                Ok(if name == "HMSET" { Reply::ok() } else { Reply::Int(n) })
            })())
        }
        "HGET" => match args {
            [k, field] => from(hash_of(ks, k).map(|h| {
                h.and_then(|h| h.into_iter().find(|(n, _)| n == field))
                    .map_or(Reply::Nil, |(_, v)| Reply::Bulk(v))
            })),
            _ => wrong_args("hget"),
        },
        "HMGET" => match args {
            [k, fields @ ..] if !fields.is_empty() => from(hash_of(ks, k).map(|h| {
                let h = h.unwrap_or_default();
                Reply::Array(
                    fields
                        .iter()
                        .map(|f| h.iter().find(|(n, _)| n == f).map_or(Reply::Nil, |(_, v)| Reply::Bulk(v.clone())))
                        .collect(),
                )
            })),
            _ => wrong_args("hmget"),
        },
        "HGETALL" => match args {
            [k] => from(hash_of(ks, k).map(|h| {
                Reply::Map(h.unwrap_or_default().into_iter().map(|(n, v)| (Reply::Bulk(n), Reply::Bulk(v))).collect())
            })),
            _ => wrong_args("hgetall"),
        },
        "HKEYS" | "HVALS" | "HLEN" => match args {
            [k] => from(hash_of(ks, k).map(|h| {
                let h = h.unwrap_or_default();
                match name.as_str() {
                    "HLEN" => Reply::Int(h.len() as i64),
                    "HKEYS" => Reply::Array(h.into_iter().map(|(n, _)| Reply::Bulk(n)).collect()),
                    _ => Reply::Array(h.into_iter().map(|(_, v)| Reply::Bulk(v)).collect()),
                }
            })),
            _ => wrong_args(&name.to_ascii_lowercase()),
        },
        "HEXISTS" => match args {
            [k, field] => from(hash_of(ks, k).map(|h| {
                Reply::Int(h.is_some_and(|h| h.iter().any(|(n, _)| n == field)) as i64)
            })),
            _ => wrong_args("hexists"),
        },
        "HDEL" => match args {
            [k, fields @ ..] if !fields.is_empty() => from(key(k).and_then(|k| ks.hdel(k, fields)).map(Reply::Int)),
            _ => wrong_args("hdel"),
        },
        "DEL" | "UNLINK" => {
            if args.is_empty() {
                return wrong_args(&name.to_ascii_lowercase());
            }
            from((|| {
                let mut n = 0;
                for k in args {
                    n += ks.delete(key(k)?)? as i64;
                }
                Ok(Reply::Int(n))
            })())
        }
        "EXISTS" => {
            if args.is_empty() {
                return wrong_args("exists");
            }
            from((|| {
                let mut n = 0;
                for k in args {
                    n += ks.exists(key(k)?)? as i64;
                }
                Ok(Reply::Int(n))
            })())
        }
        "EXPIRE" | "PEXPIRE" => {
            if args.len() < 2 || args.len() > 3 {
                return wrong_args(&name.to_ascii_lowercase());
            }
            from(expire(ks, &args[0], &args[1], args.get(2), name == "PEXPIRE"))
        }
        "TTL" | "PTTL" => match args {
            [k] => from(key(k).and_then(|k| ks.ttl(k)).map(|ttl| {
                Reply::Int(match ttl {
                    None => -2,
                    Some(None) => -1,
                    Some(Some(left)) if name == "PTTL" => left.as_millis() as i64,
                    Some(Some(left)) => left.as_millis().div_ceil(1000) as i64,
                })
            })),
            _ => wrong_args(&name.to_ascii_lowercase()),
        },
        "PERSIST" => match args {
            [k] => from(key(k).and_then(|k| {
                if ks.ttl(k)? != Some(None) && ks.ttl(k)?.is_some() {
                    Ok(Reply::Int(ks.set_ttl(k, None)? as i64))
                } else {
                    Ok(Reply::Int(0))
                }
            })),
            _ => wrong_args("persist"),
        },
        "TYPE" => match args {
            [k] => from(key(k).and_then(|k| ks.kind(k)).map(|kind| Reply::Simple(kind.map_or("none", |k| k.name()).into()))),
            _ => wrong_args("type"),
        },
        "KEYS" => match args {
            [pattern] => from(ks.keys().map(|keys| {
                Reply::Array(keys.into_iter().filter(|k| glob::matches(pattern, k.as_bytes())).map(Reply::text).collect())
            })),
            _ => wrong_args("keys"),
        },
        "DBSIZE" => from(ks.keys().map(|k| Reply::Int(k.len() as i64))),
        // Every key and every index made by FT.CREATE go, as with RediSearch loaded.
        "FLUSHDB" | "FLUSHALL" => from((|| {
            for index in ks.indexes() {
                ks.drop_index(&index.name, true)?;
            }
            for k in ks.keys()? {
                ks.delete(&k)?;
            }
            Ok(Reply::ok())
        })()),
        "SCAN" => from(scan(ks, args)),
        "JSON.SET" | "JSON.GET" | "JSON.MGET" | "JSON.DEL" | "JSON.FORGET" | "LPUSH" | "RPUSH"
        | "LPUSHX" | "RPUSHX" | "LRANGE" | "LTRIM" | "LLEN" | "LPOP" | "RPOP" => {
            datatypes::execute(ks, &name, args)
        }
        "FT.CREATE" => ft::create(ks, args),
        "FT.DROPINDEX" => ft::drop_index(ks, args),
        "FT.INFO" => ft::info(ks, args),
        "FT._LIST" => ft::list(ks),
        "FT.SEARCH" => ft::search(ks, args, session.resp3),
        "FT.HYBRID" => hybrid::hybrid(ks, args, session.resp3),
        "FT.AGGREGATE" => aggregate::aggregate(ks, &shared.cursors, args, session.resp3),
        "FT.CURSOR" => aggregate::cursor(&shared.cursors, args, session.resp3),
        "FT.EXPLAIN" | "FT.EXPLAINCLI" => ft::explain(ks, args),
        _ => unknown(&name, args),
    }
}

const KNOWN: [&str; 64] = [
    "PING",
    "ECHO",
    "QUIT",
    "AUTH",
    "HELLO",
    "SELECT",
    "CLIENT",
    "INFO",
    "COMMAND",
    "MODULE",
    "CONFIG",
    "MULTI",
    "DISCARD",
    "EXEC",
    "WATCH",
    "UNWATCH",
    "HSET",
    "HMSET",
    "HGET",
    "HMGET",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HEXISTS",
    "HDEL",
    "DEL",
    "UNLINK",
    "EXISTS",
    "EXPIRE",
    "PEXPIRE",
    "TTL",
    "PTTL",
    "PERSIST",
    "TYPE",
    "KEYS",
    "DBSIZE",
    "FLUSHDB",
    "FLUSHALL",
    "SCAN",
    "JSON.SET",
    "JSON.GET",
    "JSON.MGET",
    "JSON.DEL",
    "JSON.FORGET",
    "LPUSH",
    "RPUSH",
    "LPUSHX",
    "RPUSHX",
    "LRANGE",
    "LTRIM",
    "LLEN",
    "LPOP",
    "RPOP",
    "FT.CREATE",
    "FT.DROPINDEX",
    "FT.INFO",
    "FT._LIST",
    "FT.SEARCH",
    "FT.HYBRID",
    "FT.AGGREGATE",
    "FT.CURSOR",
    "FT.EXPLAIN",
    "FT.EXPLAINCLI",
];

fn is_known(name: &str) -> bool {
    KNOWN.contains(&name)
}

fn unknown(name: &str, args: &[Vec<u8>]) -> Reply {
    let start: Vec<String> = args
        .iter()
        .take(3)
        .map(|a| format!("'{}'", String::from_utf8_lossy(a)))
        .collect();
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        name.to_ascii_lowercase(),
        start.join(" ")
    ))
}

fn hash_of(ks: &Keyspace, k: &[u8]) -> Result<Option<crate::keyspace::Hash>, Failure> {
    ks.get(key(k)?)
}

fn auth(shared: &Shared, session: &mut Session, password: &[u8]) -> Reply {
    match &shared.password {
        None => err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
        Some(expected) if expected.as_bytes() == password => {
            session.authed = true;
            Reply::ok()
        }
        Some(_) => Reply::error("WRONGPASS invalid username-password pair or user is disabled."),
    }
}

fn hello(shared: &Shared, session: &mut Session, args: &[Vec<u8>]) -> Reply {
    let mut resp3 = session.resp3;
    let mut rest = args;
    if let Some((version, tail)) = args.split_first() {
        match integer(version) {
            Ok(2) => resp3 = false,
            Ok(3) => resp3 = true,
            Ok(_) => return Reply::error("NOPROTO unsupported protocol version"),
            Err(_) => return err("Protocol version is not an integer or out of range"),
        }
        rest = tail;
    }
    while let Some((option, tail)) = rest.split_first() {
        match (upper(option).as_str(), tail) {
            ("AUTH", [_, password, more @ ..]) => {
                let reply = auth(shared, session, password);
                if reply.is_error() {
                    return reply;
                }
                rest = more;
            }
            ("SETNAME", [name, more @ ..]) => {
                session.name = Some(name.clone());
                rest = more;
            }
            (other, _) => return err(format!("Syntax error in HELLO option '{other}'")),
        }
    }
    if !session.authed {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    session.resp3 = resp3;
    let t = |s: &str| Reply::text(s);
    Reply::Map(vec![
        (t("server"), t("redis")),
        (t("version"), t(REDIS_VERSION)),
        (t("proto"), Reply::Int(if resp3 { 3 } else { 2 })),
        (t("id"), Reply::Int(session.id as i64)),
        (t("mode"), t("standalone")),
        (t("role"), t("master")),
        (t("modules"), Reply::Array(vec![])),
    ])
}

fn client(session: &mut Session, args: &[Vec<u8>]) -> Reply {
    match (args.first().map(|a| upper(a)).as_deref(), &args[args.len().min(1)..]) {
        (Some("SETNAME"), [name]) => {
            if name.iter().any(|b| *b == b' ' || *b == b'\n') {
                return err("Client names cannot contain spaces, newlines or special characters.");
            }
            session.name = (!name.is_empty()).then(|| name.clone());
            Reply::ok()
        }
        (Some("GETNAME"), []) => session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        (Some("ID"), []) => Reply::Int(session.id as i64),
        // Library name and version: recorded by Redis for CLIENT LIST, which this
        // server does not have; accepted so clients' handshakes succeed.
        (Some("SETINFO"), [_, _]) => Reply::ok(),
        (Some(sub), _) => err(format!(
            "unknown subcommand or wrong number of arguments for 'CLIENT|{}'; this server has SETNAME, GETNAME, ID and SETINFO",
            sub.to_ascii_lowercase()
        )),
        (None, _) => wrong_args("client"),
    }
}

fn info(shared: &Shared) -> Reply {
    let keys = shared.keyspace.keys().map(|k| k.len()).unwrap_or(0);
    let text = format!(
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nstrata_version:{}\r\nprocess_id:{}\r\nuptime_in_seconds:{}\r\n\r\n# Clients\r\nconnected_clients:{}\r\n\r\n# Stats\r\ntotal_commands_processed:{}\r\n\r\n# Keyspace\r\ndb0:keys={keys},expires=0,avg_ttl=0\r\n",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        shared.started.elapsed().as_secs(),
        shared.clients.load(Ordering::Relaxed),
        shared.commands.load(Ordering::Relaxed),
    );
    Reply::Bulk(text.into_bytes())
}

fn command_info(args: &[Vec<u8>]) -> Reply {
    let mut names: Vec<&str> = KNOWN.to_vec();
    names.sort_unstable();
    names.dedup();
    match args.first().map(|a| upper(a)).as_deref() {
        Some("COUNT") => Reply::Int(names.len() as i64),
        Some("DOCS") => Reply::Map(vec![]),
        None | Some("INFO") => Reply::Array(
            names
                .iter()
                .filter(|n| args.len() < 2 || args[1..].iter().any(|a| upper(a) == **n))
                .map(|n| {
                    Reply::Array(vec![
                        Reply::text(n.to_ascii_lowercase()),
                        Reply::Int(-1),
                        Reply::Set(vec![]),
                        Reply::Int(if n.starts_with("FT.") || matches!(*n, "PING" | "ECHO" | "QUIT" | "AUTH" | "HELLO" | "SELECT" | "CLIENT" | "INFO" | "COMMAND" | "MODULE" | "CONFIG" | "MULTI" | "EXEC" | "DISCARD" | "KEYS" | "DBSIZE" | "SCAN" | "UNWATCH") { 0 } else { 1 }),
                        Reply::Int(if matches!(*n, "DEL" | "UNLINK" | "EXISTS" | "WATCH") { -1 } else if n.starts_with('H') || matches!(*n, "EXPIRE" | "PEXPIRE" | "TTL" | "PTTL" | "PERSIST" | "TYPE") { 1 } else { 0 }),
                        Reply::Int(1),
                    ])
                })
                .collect(),
        ),
        Some(other) => err(format!("unknown subcommand '{other}'; this server has COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS")),
    }
}

fn expire(
    ks: &Keyspace,
    k: &[u8],
    amount: &[u8],
    option: Option<&Vec<u8>>,
    millis: bool,
) -> Result<Reply, Failure> {
    let k = key(k)?;
    let amount = integer(amount)?;
    let ttl = if amount <= 0 {
        Duration::ZERO
    } else if millis {
        Duration::from_millis(amount as u64)
    } else {
        Duration::from_secs(amount as u64)
    };
    if let Some(option) = option {
        let current = ks.ttl(k)?;
        let Some(current) = current else {
            return Ok(Reply::Int(0));
        };
        let allowed = match upper(option).as_str() {
            "NX" => current.is_none(),
            "XX" => current.is_some(),
            // A key without a TTL counts as an infinite one, as in Redis.
            "GT" => current.is_some_and(|c| ttl > c),
            "LT" => current.is_none_or(|c| ttl < c),
            other => return Err(format!("Unsupported option {other}")),
        };
        if !allowed {
            return Ok(Reply::Int(0));
        }
    }
    Ok(Reply::Int(ks.set_ttl(k, Some(ttl))? as i64))
}

/// A key's place in `SCAN` order: a stable 63-bit hash, so a cursor (the next hash to
/// visit) survives keys being added and removed between calls.
fn scan_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h >> 1
}

fn scan(ks: &Keyspace, args: &[Vec<u8>]) -> Result<Reply, Failure> {
    let Some((cursor, mut rest)) = args.split_first() else {
        return Ok(wrong_args("scan"));
    };
    let cursor = std::str::from_utf8(cursor)
        .ok()
        .and_then(|c| c.parse::<u64>().ok())
        .ok_or("invalid cursor")?;
    let (mut pattern, mut count, mut only_type) = (None, 10usize, None);
    while let Some((option, tail)) = rest.split_first() {
        let Some((value, more)) = tail.split_first() else {
            return Err("syntax error".into());
        };
        match upper(option).as_str() {
            "MATCH" => pattern = Some(value.clone()),
            "COUNT" => {
                count = usize::try_from(integer(value)?)
                    .ok()
                    .filter(|c| *c > 0)
                    .ok_or("syntax error")?;
            }
            "TYPE" => only_type = Some(String::from_utf8_lossy(value).to_ascii_lowercase()),
            _ => return Err("syntax error".into()),
        }
        rest = more;
    }
    let mut keys: Vec<(u64, String)> = ks
        .keys()?
        .into_iter()
        .map(|k| (scan_hash(&k), k))
        .filter(|(h, _)| *h >= cursor)
        .collect();
    keys.sort();
    let mut take = count.min(keys.len());
    while take < keys.len() && keys[take].0 == keys[take - 1].0 {
        take += 1;
    }
    let next = if take < keys.len() {
        keys[take].0.max(1)
    } else {
        0
    };
    let mut page = Vec::new();
    for (_, k) in &keys[..take] {
        if pattern
            .as_ref()
            .is_some_and(|p| !glob::matches(p, k.as_bytes()))
        {
            continue;
        }
        if let Some(wanted) = &only_type {
            let kind = ks.kind(k)?;
            if kind.is_none_or(|kind| !kind.name().eq_ignore_ascii_case(wanted)) {
                continue;
            }
        }
        page.push(Reply::text(k));
    }
    Ok(Reply::Array(vec![
        Reply::text(next.to_string()),
        Reply::Array(page),
    ]))
}

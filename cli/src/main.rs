//! `strata`: a Redis-protocol server, a shell and maintenance commands for a Strata
//! database directory. `strata --help` lists them.

/// Prints a line on stdout. A closed stdout (`strata DB KEYS '*' | head`) ends the
/// process quietly, as it does other command-line tools, where `println!` would panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod aggregate;
mod commands;
mod datatypes;
mod export;
mod expr;
mod from_redis;
mod ft;
mod ftcreate;
mod glob;
mod hybrid;
mod import;
mod keyspace;
mod print;
mod resp;
mod server;
mod shell;
mod values;

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use strata::{Database, Durability, Options};

use crate::commands::Shared;
use crate::keyspace::Keyspace;

/// Strata from the command line: a Redis-compatible server, a shell, maintenance.
///
/// `strata DB` opens a shell on the database directory DB (created if missing);
/// `strata DB COMMAND ARGS...` runs one command and prints its reply as redis-cli does.
#[derive(Debug, Parser)]
#[command(name = "strata", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The database directory, for the shell.
    db: Option<PathBuf>,
    /// A command to run instead of opening the shell, as separate words or as one
    /// quoted line (`"FT.SEARCH idx '*'"`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
    /// How writes are made durable (as Redis's appendfsync).
    #[arg(long, value_enum, default_value = "everysec", global = true)]
    durability: DurabilityArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DurabilityArg {
    /// fsync before acknowledging each write.
    Always,
    /// fsync once a second.
    Everysec,
    /// leave flushing to the OS.
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MetricArg {
    Cosine,
    L2,
    Ip,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum IndexArg {
    /// HNSW with M 16 and EF_CONSTRUCTION 200 (Redis's defaults).
    Hnsw,
    /// Exact search.
    Flat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the database over the Redis protocol (RESP2 and RESP3).
    Serve {
        /// The database directory (created if missing).
        db: PathBuf,
        /// TCP port.
        #[arg(long, default_value_t = 6379)]
        port: u16,
        /// Address to listen on. Anything but loopback needs --requirepass.
        #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
        bind: IpAddr,
        /// Password clients must give with AUTH (or HELLO .. AUTH). Also read from
        /// STRATA_PASSWORD, which keeps it out of the process list.
        #[arg(long, env = "STRATA_PASSWORD", hide_env_values = true)]
        requirepass: Option<String>,
        /// Most connections at once.
        #[arg(long, default_value_t = 10_000)]
        max_clients: usize,
        /// Largest command, in bytes.
        #[arg(long, default_value_t = 512 << 20)]
        max_request_bytes: usize,
    },
    /// Print the database's collections, their rows, sources and indexes.
    Info {
        /// The database directory.
        db: PathBuf,
    },
    /// Check every file of the database against its checksums.
    Verify {
        /// The database directory.
        db: PathBuf,
    },
    /// Write a consistent copy of the database to DEST.
    Backup {
        /// The database directory.
        db: PathBuf,
        /// Where the copy goes (must not exist).
        dest: PathBuf,
    },
    /// Merge each collection's segments and drop deleted and expired rows.
    Compact {
        /// The database directory.
        db: PathBuf,
    },
    /// Copy every index and hash to a Redis Stack server: FT.CREATE with the same
    /// schema, then pipelined HSETs (TTLs carried over); run again to resume.
    Export {
        /// The database directory.
        db: PathBuf,
        /// The server: redis://[[user]:password@]host[:port]
        #[arg(long)]
        to: String,
        /// The server is a node of a Redis Cluster: each key goes to the master
        /// owning its hash slot, and each index is created on every master.
        #[arg(long)]
        cluster: bool,
    },
    /// Load vectors (.fvecs, .bvecs, .npy) or documents (.jsonl) into a collection,
    /// in batches, with progress; run again with the same arguments to resume.
    Import {
        /// The database directory (created if missing).
        db: PathBuf,
        /// The file to load; its extension says the format.
        #[arg(required_unless_present = "from")]
        source: Option<PathBuf>,
        /// The collection to load into (created if missing); with --from, the index
        /// to bring back.
        #[arg(long)]
        collection: String,
        /// Bring an index and its hashes back from a Redis Stack server
        /// (redis://[[user]:password@]host[:port]) instead of a file.
        #[arg(long, conflicts_with = "source")]
        from: Option<String>,
        /// JSON lines with the other fields of each row of a vector file, in the same order.
        #[arg(long)]
        fields: Option<PathBuf>,
        /// The schema, as FT.CREATE's SCHEMA part ("title TEXT genre TAG v VECTOR HNSW 6
        /// TYPE FLOAT32 DIM 384 DISTANCE_METRIC COSINE"); inferred and printed when absent.
        #[arg(long)]
        schema: Option<String>,
        /// The vector field's name.
        #[arg(long, default_value = "embedding")]
        vector_field: String,
        /// Metric of an inferred vector field.
        #[arg(long, value_enum, default_value = "cosine")]
        metric: MetricArg,
        /// Index of an inferred vector field.
        #[arg(long, value_enum, default_value = "hnsw")]
        index: IndexArg,
        /// The JSON field holding each row's key; rows without one get `<collection>:<row>`.
        #[arg(long, default_value = "id")]
        key_field: String,
        /// Rows per write (one upsert_many, one WAL record).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch: u64,
        /// Stop once this many rows are in (to load a prefix of the file).
        #[arg(long)]
        max_rows: Option<u64>,
    },
}

fn open(path: &PathBuf, durability: DurabilityArg) -> Result<Database, String> {
    let durability = match durability {
        DurabilityArg::Always => Durability::Always,
        DurabilityArg::Everysec => Durability::EverySec,
        DurabilityArg::Never => Durability::Never,
    };
    Database::open_with(
        path,
        Options {
            durability,
            ..Options::default()
        },
    )
    .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("strata: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let durability = cli.durability;
    let Some(command) = cli.command else {
        let Some(db) = cli.db else {
            return Err(
                "give a database directory (strata DB), or a command: see strata --help".into(),
            );
        };
        let keyspace = Keyspace::open(open(&db, durability)?)?;
        let shared = Shared::new(keyspace, None);
        return if cli.words.is_empty() {
            shell::interactive(&shared, &db)
        } else {
            shell::one_shot(&shared, &cli.words)
        };
    };
    match command {
        Command::Serve {
            db,
            port,
            bind,
            requirepass,
            max_clients,
            max_request_bytes,
        } => {
            if server::is_public(bind) && requirepass.as_deref().is_none_or(str::is_empty) {
                return Err(format!(
                    "--bind {bind} accepts connections from other machines; give a password with --requirepass (or STRATA_PASSWORD), or bind to 127.0.0.1"
                ));
            }
            let keyspace = Keyspace::open(open(&db, durability)?)?;
            let shared = Arc::new(Shared::new(keyspace, requirepass.filter(|p| !p.is_empty())));
            let listener = TcpListener::bind(server::address(bind, port))
                .map_err(|e| format!("could not listen on {bind}:{port}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            // Tests and scripts wait for this line to know the port (with --port 0).
            out!("strata serve: {} on {local}", db.display());
            server::serve(
                shared,
                listener,
                server::Limits {
                    max_clients,
                    max_request_bytes,
                },
            )
            .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { db } => {
            let db = open(&db, durability)?;
            for name in db.list_collections() {
                let info = db
                    .collection(&name)
                    .and_then(|c| c.info())
                    .map_err(|e| e.to_string())?;
                out!("{name}: {} rows", info.rows);
                for source in &info.sources {
                    out!(
                        "  {:?}: {} rows ({} live), {} bytes",
                        source.kind,
                        source.rows,
                        source.live_rows,
                        source.bytes
                    );
                }
                for index in &info.indexes {
                    out!(
                        "  index {} {}: {} bytes",
                        index.field,
                        index.kind,
                        index.bytes
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { db } => {
            let db = open(&db, durability)?;
            match db.verify() {
                Ok(report) => {
                    out!(
                        "ok: {} segments ({} bytes), {} WAL records",
                        report.segments,
                        report.segment_bytes,
                        report.wal_records
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    out!("damaged: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Backup { db, dest } => {
            open(&db, durability)?
                .backup(&dest)
                .map_err(|e| e.to_string())?;
            out!("backed up to {}", dest.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            db,
            source,
            collection,
            from,
            fields,
            schema,
            vector_field,
            metric,
            index,
            key_field,
            batch,
            max_rows,
        } => {
            if let Some(url) = from {
                let keyspace = Keyspace::open(open(&db, durability)?)?;
                from_redis::run(&keyspace, &url, &collection)?;
                return Ok(ExitCode::SUCCESS);
            }
            let source = source.ok_or("give a file to import, or --from redis://...")?;
            let db = open(&db, durability)?;
            let plan = import::Plan {
                collection,
                source,
                fields,
                schema,
                vector_field,
                metric: match metric {
                    MetricArg::Cosine => strata::Metric::Cosine,
                    MetricArg::L2 => strata::Metric::L2,
                    MetricArg::Ip => strata::Metric::InnerProduct,
                },
                index: match index {
                    IndexArg::Hnsw => strata::VectorIndex::hnsw(16, 200),
                    IndexArg::Flat => strata::VectorIndex::flat(),
                },
                key_field,
                batch: batch as usize,
                max_rows,
            };
            import::run(&db, &plan)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { db, to, cluster } => {
            let keyspace = Keyspace::open(open(&db, durability)?)?;
            export::run(&keyspace, &to, cluster)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Compact { db } => {
            open(&db, durability)?
                .compact()
                .map_err(|e| e.to_string())?;
            out!("compacted");
            Ok(ExitCode::SUCCESS)
        }
    }
}

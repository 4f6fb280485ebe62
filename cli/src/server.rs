//! The RESP server: one thread per connection (the engine is synchronous), a
//! connection limit, a request size limit, and pipelined commands answered in one
//! write.

use std::io::{BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::commands::{execute_batch, Shared};
use crate::resp::{read_command, write_replies, ReadError, Reply};

/// Limits of a server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most connections at once; one more is told so and closed (Redis's maxclients).
    pub max_clients: usize,
    /// Largest single command, in bytes, headers included.
    pub max_request_bytes: usize,
}

/// Most commands read from one connection's buffer before replying: a pipeline
/// longer than this is answered in several writes.
const MAX_PIPELINE: usize = 1024;

/// Whether binding to `address` exposes the server beyond this machine, so that a
/// password is required.
pub fn is_public(address: IpAddr) -> bool {
    !address.is_loopback()
}

/// Serves connections from `listener` until the process ends.
pub fn serve(shared: Arc<Shared>, listener: TcpListener, limits: Limits) -> std::io::Result<()> {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            // A client that reset before accept, or a momentary lack of descriptors:
            // the next connection may well succeed.
            Err(e) => {
                eprintln!("strata serve: accept failed: {e}");
                continue;
            }
        };
        let clients = shared.clients.fetch_add(1, Ordering::SeqCst) + 1;
        if clients > limits.max_clients {
            shared.clients.fetch_sub(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
            continue;
        }
        let conn_shared = shared.clone();
        let limits = limits.clone();
        let spawned = std::thread::Builder::new()
            .name("strata-conn".into())
            .spawn(move || {
                let shared = conn_shared;
                let peer = stream.peer_addr().ok();
                if let Err(e) = connection(&shared, stream, &limits) {
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                    ) {
                        eprintln!("strata serve: connection {peer:?}: {e}");
                    }
                }
                shared.clients.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            shared.clients.fetch_sub(1, Ordering::SeqCst);
            eprintln!("strata serve: could not start a connection thread: {e}");
        }
    }
    Ok(())
}

fn connection(shared: &Shared, stream: TcpStream, limits: &Limits) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(64 << 10, stream);
    let mut session = shared.session();
    loop {
        let mut batch = Vec::new();
        let mut failure = None;
        match read_command(&mut reader, limits.max_request_bytes) {
            Ok(Some(command)) => batch.push(command),
            Ok(None) => return Ok(()),
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Protocol(message)) => failure = Some(message),
        }
        // Commands already received are a pipeline: answered together.
        while failure.is_none() && batch.len() < MAX_PIPELINE && !reader.buffer().is_empty() {
            match read_command(&mut reader, limits.max_request_bytes) {
                Ok(Some(command)) => batch.push(command),
                Ok(None) => break,
                Err(ReadError::Io(e)) => return Err(e),
                Err(ReadError::Protocol(message)) => failure = Some(message),
            }
        }
        let mut replies = execute_batch(shared, &mut session, batch);
        if let Some(message) = &failure {
            replies.push(Reply::error(format!("ERR Protocol error: {message}")));
        }
        write_replies(&mut writer, &replies, session.resp3)?;
        if failure.is_some() || session.quit {
            return Ok(());
        }
    }
}

/// The address to listen on.
pub fn address(bind: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(bind, port)
}

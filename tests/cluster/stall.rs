//! A TCP proxy in front of the API server that can hang: on [`StallingProxy::stall`]
//! every connection open at that moment, and every one accepted until
//! [`StallingProxy::resume`], stops forwarding for good (bytes are read and
//! dropped, nothing is answered), the way a half-dead load balancer hangs
//! responses. Connections accepted after `resume` work normally, so only a
//! client that times out and reconnects gets going again.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// The proxy; its threads end with the process.
pub struct StallingProxy {
    /// Where clients connect.
    pub port: u16,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    stalled: AtomicBool,
    /// The hang switch of every connection so far.
    connections: Mutex<Vec<Arc<AtomicBool>>>,
    accepted: AtomicUsize,
}

impl StallingProxy {
    /// Forwards 127.0.0.1:`port` to `upstream` (host:port).
    pub fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let hung = Arc::new(AtomicBool::new(shared.stalled.load(Ordering::SeqCst)));
                shared.connections.lock().expect("the connection list").push(hung.clone());
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                pump(&client, &server, hung.clone());
                pump(&server, &client, hung);
            }
        });
        Self { port, state }
    }

    /// Hangs every open connection for good, and new ones until [`Self::resume`].
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::SeqCst);
        for hung in self.state.connections.lock().expect("the connection list").iter() {
            hung.store(true, Ordering::SeqCst);
        }
    }

    /// New connections work again; hung ones stay hung.
    pub fn resume(&self) {
        self.state.stalled.store(false, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until either closes; once `hung`, reads and drops.
/// The two pumps of a connection hold a socket each way, so the connection
/// stays open until both have ended.
fn pump(from: &TcpStream, to: &TcpStream, hung: Arc<AtomicBool>) {
    let (mut from, mut to) =
        (from.try_clone().expect("a socket clone"), to.try_clone().expect("a socket clone"));
    thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if hung.load(Ordering::SeqCst) {
                continue;
            }
            if to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        // A hung connection does not even pass on a close: only the
        // client's own timeout ends it.
        if !hung.load(Ordering::SeqCst) {
            let _ = to.shutdown(Shutdown::Both);
        }
    });
}

//! A guard on plaintext PostgreSQL connections: tokio-postgres answers a
//! server's AuthenticationCleartextPassword request with the password, so on
//! a connection without TLS anyone posing as the server would be handed it.
//! The guard reads the backend messages up to AuthenticationOk and fails the
//! read that carries a cleartext request, before the driver sees it.
//! SCRAM and MD5 never put the password on the wire and pass through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::CleartextRefused;

/// A TCP or Unix socket, boxed so one guard type serves both.
pub type Socket = Box<dyn Io>;

/// What a socket must be to carry the PostgreSQL protocol.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// `inner`, with the authentication exchange watched.
pub struct CleartextGuard<S> {
    inner: S,
    scan: Scan,
}

impl<S> CleartextGuard<S> {
    /// Guards `inner` from its first byte on.
    pub fn new(inner: S) -> Self {
        Self { inner, scan: Scan::default() }
    }
}

/// Where the guard is in the backend's message stream: each message is a
/// type byte and a big-endian length that counts itself; an Authentication
/// ('R') message's body starts with its request code.
#[derive(Debug, Default)]
struct Scan {
    header: [u8; 9],
    have: usize,
    /// Body bytes of the current message still to pass.
    skip: usize,
    /// Authentication is over; the rest is ordinary traffic.
    done: bool,
}

/// Authentication request codes of the protocol.
const AUTH_OK: u32 = 0;
const AUTH_CLEARTEXT_PASSWORD: u32 = 3;

impl Scan {
    fn need(&self) -> usize {
        if self.have >= 1 && self.header[0] == b'R' { 9 } else { 5 }
    }

    /// Follows `bytes`; an error when they carry a cleartext password request.
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), CleartextRefused> {
        while !bytes.is_empty() && !self.done {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                (self.skip, bytes) = (self.skip - n, &bytes[n..]);
                continue;
            }
            let n = (self.need() - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            (self.have, bytes) = (self.have + n, &bytes[n..]);
            if self.have == self.need() {
                self.message()?;
            }
        }
        Ok(())
    }

    /// A whole header is in: decide, then pass the rest of the body.
    fn message(&mut self) -> Result<(), CleartextRefused> {
        let word = |at: usize| u32::from_be_bytes([0, 1, 2, 3].map(|i| self.header[at + i]));
        let length = usize::try_from(word(1)).unwrap_or(usize::MAX);
        let read = self.have - 1;
        if self.header[0] == b'R' {
            match word(5) {
                AUTH_CLEARTEXT_PASSWORD => return Err(CleartextRefused),
                AUTH_OK => self.done = true,
                _ => {}
            }
        }
        (self.skip, self.have) = (length.saturating_sub(read), 0);
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CleartextGuard<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Err(refused) = this.scan.feed(&buf.filled()[before..]) {
            // The driver never sees the request, so never answers it.
            buf.set_filled(before);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::PermissionDenied, refused)));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CleartextGuard<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(code: u32, extra: &[u8]) -> Vec<u8> {
        let mut m = vec![b'R'];
        m.extend_from_slice(&u32::try_from(8 + extra.len()).unwrap().to_be_bytes());
        m.extend_from_slice(&code.to_be_bytes());
        m.extend_from_slice(extra);
        m
    }

    fn notice(text: &[u8]) -> Vec<u8> {
        let mut m = vec![b'N'];
        m.extend_from_slice(&u32::try_from(4 + text.len()).unwrap().to_be_bytes());
        m.extend_from_slice(text);
        m
    }

    /// Feeds `stream` in pieces of `size` bytes, as reads may split it anywhere.
    fn feed_in_pieces(stream: &[u8], size: usize) -> (Result<(), CleartextRefused>, bool) {
        let mut scan = Scan::default();
        let result = stream.chunks(size).try_for_each(|piece| scan.feed(piece));
        (result, scan.done)
    }

    #[test]
    fn a_cleartext_request_is_refused_however_the_reads_split_it() {
        let stream = [notice(b"hello\0"), auth(AUTH_CLEARTEXT_PASSWORD, b"")].concat();
        for size in 1..=stream.len() {
            assert!(feed_in_pieces(&stream, size).0.is_err(), "pieces of {size}");
        }
    }

    #[test]
    fn scram_and_md5_pass_and_the_guard_stands_down_after_authentication() {
        // SASL (10) with a mechanism list, MD5 (5) with a salt, then OK and a cleartext code in later data.
        let later = auth(AUTH_CLEARTEXT_PASSWORD, b"");
        let stream = [auth(10, b"SCRAM-SHA-256\0\0"), auth(5, b"salt"), auth(AUTH_OK, b""), later].concat();
        for size in 1..=stream.len() {
            assert_eq!(feed_in_pieces(&stream, size), (Ok(()), true), "pieces of {size}");
        }
    }
}

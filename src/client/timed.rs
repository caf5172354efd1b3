//! Connect, read and write timeouts of the connection to the API server,
//! with one timer per connection that is moved only when it fires.
//!
//! A timeout that restarts its timer each time a read that waited completes
//! (as a blocking socket's does) sets that timer to *now* and back, several
//! thousand times in a burst of applies on one HTTP/2 connection; each time
//! the runtime's timer wakes its driver to look, a system call and a turn of
//! the runtime for nothing. Here a wait only notes when it began; the timer
//! stays where it was set unless the deadline of the wait being polled lies
//! before it, and a timer that fires for a wait which has since ended is
//! set again for the one now running. A connection that moves data is thus
//! woken by its timer at most once a timeout, and a stalled one still fails
//! a timeout after the read (or write) it waits on began.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::time::{Instant, Sleep};
use tower::{BoxError, Service};

/// A connector whose connections (TCP and TLS handshake included) must be
/// made within `connect`, and whose reads and writes each fail after
/// waiting `io` for the peer.
#[derive(Clone, Debug)]
pub struct TimedConnector<C> {
    inner: C,
    connect: Duration,
    io: Duration,
}

impl<C> TimedConnector<C> {
    /// Wraps `inner` with the connect timeout `connect` and the read and
    /// write timeout `io`.
    pub fn new(inner: C, connect: Duration, io: Duration) -> Self {
        Self { inner, connect, io }
    }
}

/// The connecting future, boxed so that the client can hold it unpinned.
type Connecting<T> = Pin<Box<dyn Future<Output = Result<Timed<T>, BoxError>> + Send>>;

impl<C> Service<Uri> for TimedConnector<C>
where
    C: Service<Uri>,
    C::Response: Read + Write + Connection + Unpin + Send + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = Timed<C::Response>;
    type Error = BoxError;
    type Future = Connecting<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let (connect, timeout) = (self.connect, self.io);
        Box::pin(async move {
            let stream = tokio::time::timeout(connect, connecting)
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
                .map_err(Into::into)?;
            Ok(Timed::new(stream, timeout))
        })
    }
}

/// A connection whose reads and writes fail with
/// [`io::ErrorKind::TimedOut`] once they have waited `timeout` for the peer.
///
/// A write that sends bytes restarts the wait of a read in progress, so
/// that a pooled connection idle for a while, which always has a read
/// waiting, counts from the request just sent, not from when it went idle.
///
/// The one timer wakes the task that polled it last: hyper drives each
/// connection's reads and writes from one task, as this relies on.
pub struct Timed<T> {
    inner: T,
    timeout: Duration,
    /// When the read now waiting began to wait (or was last restarted).
    reading_since: Option<Instant>,
    /// When the write now waiting began to wait.
    writing_since: Option<Instant>,
    /// The timer and the instant it is set to; made at the first wait.
    timer: Option<(Pin<Box<Sleep>>, Instant)>,
}

impl<T> Timed<T> {
    /// Wraps `inner`; nothing waits yet.
    pub fn new(inner: T, timeout: Duration) -> Self {
        Self { inner, timeout, reading_since: None, writing_since: None, timer: None }
    }

    /// Notes that a read went on waiting, and fails if its wait has
    /// lasted the timeout.
    fn read_waits(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let since = *self.reading_since.get_or_insert_with(Instant::now);
        self.poll_deadline(since + self.timeout, cx)
    }

    /// Notes that a write went on waiting, and fails if its wait has
    /// lasted the timeout.
    fn write_waits(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let since = *self.writing_since.get_or_insert_with(Instant::now);
        self.poll_deadline(since + self.timeout, cx)
    }

    /// Notes the outcome of a write, flush or shutdown: one that is done
    /// ends the write's wait.
    fn written<R>(&mut self, polled: Poll<io::Result<R>>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match polled {
            Poll::Pending => match self.write_waits(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
            Poll::Ready(done) => {
                self.writing_since = None;
                Poll::Ready(done)
            }
        }
    }

    /// Notes the outcome of a write as [`Self::written`]; one that sent
    /// bytes (a request) also restarts the wait of a read in progress.
    /// Flushes do not: the connection flushes, mostly with nothing to
    /// send, each time it is polled, and a stalled read would then be
    /// timed from its connection's last wake-up, never failing.
    fn sent(&mut self, polled: Poll<io::Result<usize>>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let polled = self.written(polled, cx);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) && self.reading_since.is_some() {
            self.reading_since = Some(Instant::now());
        }
        polled
    }

    /// Fails once `deadline`, that of the wait being polled, has passed;
    /// else leaves the timer set no later than it, with this task's waker.
    /// The timer is moved only when it would fire too late or has fired
    /// for a wait that has ended. Each direction judges its own deadline
    /// only, so that a write abandoned while it waited (its connection
    /// given up) can never fail a read.
    fn poll_deadline(&mut self, deadline: Instant, cx: &mut Context<'_>) -> io::Result<()> {
        let (timer, set_for) =
            self.timer.get_or_insert_with(|| (Box::pin(tokio::time::sleep_until(deadline)), deadline));
        if *set_for > deadline {
            timer.as_mut().reset(deadline);
            *set_for = deadline;
        }
        if timer.as_mut().poll(cx).is_pending() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        // Fired for a wait that has ended: set it for this one, which is
        // still ahead, and register this task's waker with it.
        timer.as_mut().reset(deadline);
        *set_for = deadline;
        match timer.as_mut().poll(cx) {
            Poll::Pending => Ok(()),
            Poll::Ready(()) => Err(io::Error::from(io::ErrorKind::TimedOut)),
        }
    }
}

impl<T: Read + Unpin> Read for Timed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => match this.read_waits(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
            ready => {
                this.reading_since = None;
                ready
            }
        }
    }
}

impl<T: Write + Unpin> Write for Timed<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.sent(polled, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.sent(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.written(polled, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.written(polled, cx)
    }
}

impl<T: Connection> Connection for Timed<T> {
    fn connected(&self) -> Connected {
        self.inner.connected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    const TIMEOUT: Duration = Duration::from_secs(60);

    /// Our end of a pipe, timed and readable with tokio's traits, and the
    /// peer's end; the pipe holds `capacity` bytes.
    fn pipe(capacity: usize) -> (TokioIo<Timed<TokioIo<DuplexStream>>>, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(capacity);
        (TokioIo::new(Timed::new(TokioIo::new(ours), TIMEOUT)), theirs)
    }

    async fn read_byte(io: &mut TokioIo<Timed<TokioIo<DuplexStream>>>) -> io::Result<u8> {
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await?;
        Ok(byte[0])
    }

    /// The peer takes `taken` bytes, then sends `count` bytes 3/4 of a
    /// timeout apart, each of which we read; gives the peer's end back.
    async fn trickle(
        ours: &mut TokioIo<Timed<TokioIo<DuplexStream>>>,
        mut theirs: DuplexStream,
        taken: usize,
        count: u8,
    ) -> DuplexStream {
        let peer = tokio::spawn(async move {
            let mut written = vec![0u8; taken];
            theirs.read_exact(&mut written).await.expect("what was written");
            for byte in 0..count {
                tokio::time::sleep(TIMEOUT * 3 / 4).await;
                theirs.write_all(&[byte]).await.expect("the pipe is open");
            }
            theirs
        });
        for expected in 0..count {
            assert_eq!(read_byte(ours).await.expect("a byte within the timeout"), expected);
        }
        peer.await.expect("the peer ran")
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_the_peer_never_answers_fails_a_timeout_after_it_began() {
        let (mut ours, _theirs) = pipe(64);
        let began = Instant::now();
        let error = read_byte(&mut ours).await.expect_err("nothing was sent");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(began.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_that_each_wait_less_than_the_timeout_never_fail_however_long_in_all() {
        let (mut ours, theirs) = pipe(64);
        let _theirs = trickle(&mut ours, theirs, 0, 10).await;
        // The last read's wait, not the timer of the first, decides.
        let error = read_byte(&mut ours).await.expect_err("the peer is silent now");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    /// How long a read the peer never answers waits before it fails, when
    /// `bytes` are written and flushed half a timeout after it began.
    async fn read_waits_with_a_write_of(bytes: &'static [u8]) -> Duration {
        let (ours, _theirs) = pipe(64);
        let (mut reader, mut writer) = tokio::io::split(ours);
        let began = Instant::now();
        let reading = tokio::spawn(async move {
            let mut byte = [0u8; 1];
            let read = reader.read_exact(&mut byte).await;
            (read.map(|_| ()).map_err(|e| e.kind()), began.elapsed())
        });
        tokio::time::sleep(TIMEOUT / 2).await;
        writer.write_all(bytes).await.expect("the pipe has room");
        writer.flush().await.expect("the pipe is open");
        let (read, waited) = reading.await.expect("the reader ran");
        assert_eq!(read, Err(io::ErrorKind::TimedOut));
        waited
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_goes_through_restarts_the_wait_of_the_read() {
        // A request on a connection whose read has waited half the
        // timeout already, as on a pooled HTTP/1.1 connection.
        let waited = read_waits_with_a_write_of(b"GET").await;
        assert_eq!(waited, TIMEOUT / 2 + TIMEOUT, "counted from the write, not from the read's start");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_with_nothing_to_send_leaves_the_wait_of_the_read_alone() {
        // The connection flushes each time it is polled, mostly empty.
        let waited = read_waits_with_a_write_of(b"").await;
        assert_eq!(waited, TIMEOUT, "counted from the read's start");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_given_up_while_it_waited_never_fails_the_reads_after_it() {
        use tokio::io::AsyncWrite;
        let (mut ours, theirs) = pipe(4);
        ours.write_all(b"full").await.expect("the pipe holds 4 bytes");
        let polled =
            std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut ours).poll_write(cx, b"more"))).await;
        assert!(polled.is_pending(), "the pipe is full, so the write waits");
        // The write is never polled again; the reads go on.
        drop(trickle(&mut ours, theirs, 4, 3).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_takes_fails_a_timeout_after_it_began() {
        let (mut ours, _theirs) = pipe(4);
        let began = Instant::now();
        let error = ours.write_all(&[0u8; 16]).await.expect_err("the pipe holds 4 bytes");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(began.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_not_made_within_the_connect_timeout_fails() {
        let never = tower::service_fn(|_: Uri| {
            std::future::pending::<Result<TokioIo<tokio::net::TcpStream>, io::Error>>()
        });
        let mut connector = TimedConnector::new(never, Duration::from_secs(10), TIMEOUT);
        let began = Instant::now();
        let error =
            connector.call(Uri::from_static("https://api.example:6443")).await.err().expect("never made");
        let error = error.downcast::<io::Error>().expect("an I/O error");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(began.elapsed(), Duration::from_secs(10));
    }
}

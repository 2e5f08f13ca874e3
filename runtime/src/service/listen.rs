//! The accept loop. axum's own `serve` sets no timer (so hyper's header-read timeout is off),
//! limits no connections and waits without end for connections at shutdown: a few silent,
//! slow or non-reading clients could hold every socket, or stop the service from stopping.
//! Here each connection is hyper's HTTP/1 with a timer, under a limit, behind a write-stall
//! guard, and a graceful shutdown waits a bounded time before closing what is left.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long a client may take to send a request's headers. hyper starts the same timer when a
/// kept-alive connection waits for its next request, so it is the idle timeout too.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a write may wait on a client that reads nothing before its connection is closed
/// (a live feed nobody reads, a response nobody takes).
pub const WRITE_STALL: Duration = Duration::from_secs(30);

/// How long a graceful shutdown waits for open connections before it closes them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Refused connections being told so at once; more are closed without a word.
const TURNING_AWAY: usize = 64;

/// What a refused connection is told before it is closed.
const AT_THE_LIMIT: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// Serves `router` on `listener`, at most `limit` connections at a time, until `shutdown`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limit: usize,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let turning_away = Arc::new(tokio::sync::Semaphore::new(TURNING_AWAY));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: pause rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            metrics::counter!("eventsmith_connections_refused_total").increment(1);
            tracing::warn!(%peer, limit, "connection refused: the service is at its connection limit");
            // Told so gently while few are; beyond that, closed at once.
            if let Ok(turning) = Arc::clone(&turning_away).try_acquire_owned() {
                connections.spawn(async move {
                    turn_away(stream).await;
                    drop(turning);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(Stalling::new(stream, WRITE_STALL));
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(io, service));
        connections.spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace period: closing them"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Answers 503 and closes gently: the write side first, then what the client sent is read
/// (briefly) so that the close does not reset the connection before the client reads the 503.
async fn turn_away(mut stream: tokio::net::TcpStream) {
    let _ = stream.try_write(AT_THE_LIMIT);
    let _ = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_shutdown(cx)).await;
    let drain = async {
        let mut sink = [0u8; 4096];
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// A stream whose writes fail with `TimedOut` once one has waited `limit` for the peer.
struct Stalling<T> {
    inner: T,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Stalling<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After a write that could not go on: an error once it has waited too long.
    fn waited<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.stalled = None;
            return result;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stalling<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stalling<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.waited(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.waited(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.waited(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::Stalling;
    use std::pin::Pin;
    use std::time::Duration;
    use tokio::io::AsyncWrite;

    async fn write(
        stalling: &mut Stalling<tokio::net::TcpStream>,
        buf: &[u8],
    ) -> std::io::Result<usize> {
        std::future::poll_fn(|cx| Pin::new(&mut *stalling).poll_write(cx, buf)).await
    }

    /// A connected pair of sockets on loopback.
    async fn pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (connected, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        (connected.unwrap(), accepted.unwrap().0)
    }

    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_limit() {
        let (writer, _silent) = pair().await;
        let mut stalling = Stalling::new(writer, Duration::from_millis(200));
        let chunk = vec![0u8; 64 * 1024];
        let started = std::time::Instant::now();
        let error = loop {
            match write(&mut stalling, &chunk).await {
                Ok(_) => assert!(started.elapsed() < Duration::from_secs(20), "never stalled"),
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn time_between_writes_is_not_a_stall() {
        let (writer, _reader) = pair().await;
        let mut stalling = Stalling::new(writer, Duration::from_millis(20));
        for _ in 0..3 {
            assert_eq!(write(&mut stalling, b"ping").await.unwrap(), 4);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

//! The client's TCP connection to an IndraDB server, acknowledging what it reads at once.
//!
//! indradb-proto's `run_server`, which the released `indradb-server` runs, accepts connections
//! without `TCP_NODELAY`. Its answers go out in more than one write (headers and data, then the
//! trailers), and Nagle's algorithm holds the last one until the first is acknowledged, while the
//! client's kernel delays that acknowledgement by up to 40 ms: every request waited that long for
//! nothing (a `query callers` took 0.3–0.4 s even on a tiny graph). With `TCP_QUICKACK` set again
//! after each read (the kernel clears it on its own), the client acknowledges at once and the
//! server's last frames follow. Linux only; elsewhere the connection is a plain one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::Uri;

/// Connects to `host_port` for tonic's `Endpoint::connect_with_connector`.
#[derive(Clone)]
pub struct Connector {
    pub host_port: String,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<QuickAck>;
    type Error = io::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = io::Result<TokioIo<QuickAck>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let host_port = self.host_port.clone();
        Box::pin(async move {
            let stream = TcpStream::connect(host_port).await?;
            stream.set_nodelay(true)?;
            Ok(TokioIo::new(QuickAck(stream)))
        })
    }
}

/// A TCP stream that sets `TCP_QUICKACK` after every read.
pub struct QuickAck(TcpStream);

impl QuickAck {
    fn ack_at_once(&self) {
        // Best effort: without it the connection works, only slower.
        #[cfg(target_os = "linux")]
        let _ = socket2::SockRef::from(&self.0).set_quickack(true);
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.0).poll_read(cx, buf);
        if polled.is_ready() {
            this.ack_at_once();
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

//! A TCP stream that remembers when the kernel received the bytes it
//! last read (`SO_TIMESTAMPNS`), so an arrival is timed when it reached
//! the machine — not when a busy generator got round to reading it. With
//! a thousand sockets ready at once, the difference is the generator's
//! own queue (milliseconds), which would otherwise count as the servers'
//! latency.
//!
//! Where the kernel gives no timestamp, the read's own time stands in: it
//! switches receive timestamps on for the machine lazily, so the first
//! reads after the first socket asks may come without one.

use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::clock::unix_us;

/// A stream whose reads carry the kernel's receive time.
#[derive(Debug)]
pub struct Stamped {
    /// The connection.
    inner: TcpStream,
    /// Unix µs at which the kernel received the last bytes read.
    last_us: u64,
    /// Whether the kernel agreed to timestamp (else reads are timed here).
    kernel: bool,
    /// Whether the last read's time came from the kernel. The kernel turns
    /// receive timestamps on for the whole machine lazily, so the first
    /// packets after the first socket asks may come without one.
    last_from_kernel: bool,
    /// Room for one `SCM_TIMESTAMPNS` message, reused.
    cmsg: Vec<u8>,
}

impl Stamped {
    /// Asks the kernel to timestamp what `inner` receives.
    pub fn new(inner: TcpStream) -> Self {
        let kernel = setsockopt(&inner, sockopt::ReceiveTimestampns, &true).is_ok();
        Self {
            inner,
            last_us: 0,
            kernel,
            last_from_kernel: false,
            cmsg: nix::cmsg_space!(nix::sys::time::TimeSpec),
        }
    }

    /// When the bytes last read reached this machine, Unix µs.
    pub fn last_us(&self) -> u64 {
        self.last_us
    }

    /// One `recvmsg` into `buf`; the timestamp is kept.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.inner.as_raw_fd();
        let cmsg = &mut self.cmsg;
        let mut stamp = None;
        let n = self.inner.try_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(buf)];
            let msg = recvmsg::<()>(fd, &mut iov, Some(&mut *cmsg), MsgFlags::empty())
                .map_err(io::Error::from)?;
            for c in msg.cmsgs().into_iter().flatten() {
                if let ControlMessageOwned::ScmTimestampns(ts) = c {
                    stamp = Some(ts.tv_sec() as u64 * 1_000_000 + ts.tv_nsec() as u64 / 1000);
                }
            }
            Ok(msg.bytes)
        })?;
        self.last_from_kernel = stamp.is_some();
        self.last_us = stamp.unwrap_or_else(unix_us);
        Ok(n)
    }
}

impl AsyncRead for Stamped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.kernel {
            let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
            if poll.is_ready() {
                this.last_us = unix_us();
            }
            return poll;
        }
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match this.recv(unfilled) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Stamped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Bytes read carry the time they reached the socket, not the read's:
    /// a read long after the write still reports the write's moment.
    #[tokio::test]
    async fn reads_carry_the_kernels_receive_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let mut stamped = Stamped::new(client.unwrap());
        assert!(stamped.kernel, "Linux timestamps TCP receives");
        let (mut server, _) = server.unwrap();
        let mut buf = [0u8; 16];
        // Until the kernel has switched timestamps on, reads are timed here.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !stamped.last_from_kernel {
            assert!(
                std::time::Instant::now() < deadline,
                "the kernel never stamped a read"
            );
            server.write_all(b"x").await.unwrap();
            let n = stamped.read(&mut buf).await.unwrap();
            assert_eq!(n, 1);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let sent = unix_us();
        server.write_all(b"hello").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let n = stamped.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert!(stamped.last_from_kernel);
        let waited = unix_us() - stamped.last_us();
        assert!(
            stamped.last_us() >= sent.saturating_sub(1_000),
            "not before the write"
        );
        assert!(
            waited >= 45_000,
            "the 50 ms the bytes waited are not hidden: {waited} µs"
        );
    }
}

//! Requests hyper refuses before the router sees them — a request line or header
//! that is not HTTP/1.1 (a raw 0xFF in the target, a NUL or an obs-fold in a
//! header), a target or header block too large — get hyper's own bare answer: a
//! status line, `content-length: 0`, no body. That answer is written to the socket
//! by hyper itself; there is no hook for it. So the connection's writer recognizes
//! it and sends ours instead: the same status, our error envelope, a `Request-Id`,
//! `connection: close`.
//!
//! Recognizing it is safe: it is the only head we write without a `Request-Id`
//! (every answer of the router carries one), it declares an empty body, and it
//! arrives whole in one write (one buffer, or the only slice of a vectored write:
//! hyper keeps a head in one piece).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{ErrorDetail, ErrorEnvelope};

/// A connection whose writer replaces hyper's bare protocol-error answers.
pub struct EnvelopeProtocolErrors<T> {
    inner: T,
    /// Our answer, still to be written, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<T> EnvelopeProtocolErrors<T> {
    pub fn new(inner: T) -> Self {
        EnvelopeProtocolErrors {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The status of a bare answer hyper generated, if `buf` is one.
fn hyper_error_status(buf: &[u8]) -> Option<u16> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !(400..600).contains(&status) {
        return None;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end + 2]).to_ascii_lowercase();
    let empty = head.contains("\r\ncontent-length: 0\r\n");
    let ours = head.contains("\r\nrequest-id:");
    (empty && !ours && end + 4 == buf.len()).then_some(status)
}

/// The code and message of our answer for hyper's status.
fn describe(status: u16) -> (&'static str, &'static str) {
    match status {
        408 => (
            "request_timeout",
            "The request's headers did not arrive in time",
        ),
        414 => ("invalid_request", "The request target is too long"),
        431 => ("invalid_request", "The request's headers are too large"),
        _ => (
            "invalid_request",
            "The request is not valid HTTP/1.1: a malformed request line, target or header (control characters, obs-fold)",
        ),
    }
}

/// Our answer in place of hyper's.
fn envelope_answer(status: u16) -> Vec<u8> {
    let request_id = crate::ids::request_id();
    let (code, message) = describe(status);
    let body = serde_json::to_string(&ErrorEnvelope {
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
            param: None,
        },
    })
    .unwrap_or_default();
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    tracing::info!(%request_id, status, "refused before routing: not valid HTTP");
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: {request_id}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl<T: AsyncWrite + Unpin> EnvelopeProtocolErrors<T> {
    /// If `buf` is hyper's bare error answer, takes it (reporting it written) and
    /// starts sending ours instead, which goes out now or at the next flush.
    fn replace_hyper_error(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> io::Result<Option<usize>> {
        let Some(status) = hyper_error_status(buf) else {
            return Ok(None);
        };
        self.pending = envelope_answer(status);
        self.written = 0;
        if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
            return Err(e);
        }
        Ok(Some(buf.len()))
    }

    /// Writes what is left of our answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for EnvelopeProtocolErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EnvelopeProtocolErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if let Some(taken) = this.replace_hyper_error(cx, buf)? {
            return Poll::Ready(Ok(taken));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    /// Hyper writes head and body as separate slices when the socket takes vectored
    /// writes; its bare error answer is a head alone, so it arrives as one slice.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        let mut slices = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (slices.next(), slices.next()) {
            if let Some(taken) = this.replace_hyper_error(cx, only)? {
                return Poll::Ready(Ok(taken));
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_bare_error_heads_are_recognized() {
        let hyper = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 13:00:00 GMT\r\n\r\n";
        assert_eq!(hyper_error_status(hyper), Some(400));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nrequest-id: req_x\r\n\r\n";
        assert_eq!(hyper_error_status(ours), None);
        let with_body = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(hyper_error_status(with_body), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hyper_error_status(ok), None);
        assert_eq!(hyper_error_status(b"{\"calls\": []}"), None);
        let answer = String::from_utf8(envelope_answer(431)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
    }
}

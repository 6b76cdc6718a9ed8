//! Bodies that carry what a request holds (an in-flight slot, a watch
//! slot) until they are finished, and that give up at the request's
//! deadline.
//!
//! Upstream holds a request's in-flight slot until its handler has written
//! the whole response, and its timeout filter cuts a response still being
//! written at the deadline. Our handlers return a response whose body is
//! sent afterwards, so the slot rides along in the body: a client that
//! reads slowly keeps its slot, and loses it (and the connection) at the
//! deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a body gives when its deadline passed first.
#[derive(Debug, thiserror::Error)]
#[error("the request did not complete within the allotted timeout")]
pub struct DeadlineExceeded;

/// `inner`, holding `guard` until it is finished or dropped, and failing
/// once `deadline` passes while it still waits for data.
pub struct Guarded<G> {
    inner: Body,
    deadline: Option<Pin<Box<Sleep>>>,
    _guard: G,
}

impl<G: Send + Unpin + 'static> Guarded<G> {
    /// Wrap `inner`.
    pub fn new(inner: Body, guard: G, deadline: Option<Instant>) -> Guarded<G> {
        Guarded {
            inner,
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            _guard: guard,
        }
    }

    /// Wrap `inner` into a [`Body`].
    pub fn body(inner: Body, guard: G, deadline: Option<Instant>) -> Body {
        Body::new(Guarded::new(inner, guard, deadline))
    }
}

impl<G: Send + Unpin + 'static> HttpBody for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        // Data that is there is always handed out; the deadline only ends
        // a wait.
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let expired = this
            .deadline
            .as_mut()
            .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
        if expired {
            Poll::Ready(Some(Err(axum::Error::new(DeadlineExceeded))))
        } else {
            Poll::Pending
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_guard_lives_as_long_as_the_body() {
        let released = Arc::new(AtomicBool::new(false));
        let body = Guarded::body(Body::from("hello"), Flag(released.clone()), None);
        assert_eq!(body.size_hint().exact(), Some(5), "length is kept");
        assert!(!released.load(Ordering::SeqCst));
        let bytes = axum::body::to_bytes(body, 1024).await.unwrap();
        assert_eq!(&bytes[..], b"hello");
        assert!(released.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_stalled_body_fails_at_the_deadline() {
        let (tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let deadline = Instant::now() + Duration::from_millis(200);
        let body = Guarded::body(Body::from_stream(rx), (), Some(deadline));
        let mut tx = tx;
        futures::SinkExt::send(&mut tx, Ok(Bytes::from_static(b"part")))
            .await
            .unwrap();
        let mut stream = body.into_data_stream();
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"part");
        let err = stream.next().await.unwrap().expect_err("deadline");
        assert!(err.to_string().contains("allotted timeout"), "{err}");
        assert!(Instant::now() >= deadline);
    }
}

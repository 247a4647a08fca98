//! `botwright run`'s listener: the HTTP API and the webhook deliveries on
//! hyper's HTTP/1 server, which (unlike `axum::serve`) bounds how long a
//! connection may take to send a request's headers.
//!
//! **Invariant:** a connection that has not sent a whole request head within
//! the header timeout is closed, a kept-alive one between requests too
//! (cli.md); a request body that stops arriving for the body timeout fails
//! the read, so no client holds a connection open by sending nothing.

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;

/// How long a connection may take to send a request's headers (cli.md), counted from when
/// the server is ready to read them: from the connection's start, or from the end of the
/// previous response on a kept-alive connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may pause: a body of which nothing arrives for this long fails.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop waits for the requests in flight.
const DRAIN: Duration = Duration::from_secs(30);

/// The listener's bounds on slow clients.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            header: HEADER_TIMEOUT,
            body: BODY_TIMEOUT,
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true; then accepts nothing more, lets the
/// requests in flight finish (closing idle connections at once) and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) {
    let body_timeout = timeouts.body;
    let app = app.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            next.run(request.map(|body| Body::new(IdleTimeout::new(body, body_timeout))))
                .await
        },
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(timeouts.header);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, a connection reset before it was taken: wait a
                // little instead of spinning, and go on.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("stopping with HTTP requests still in flight");
    }
}

/// A request body that fails once nothing of it has arrived for `limit`.
struct IdleTimeout {
    inner: Body,
    limit: Duration,
    /// Armed while the body waits for data; reset when a frame arrives.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl IdleTimeout {
    fn new(inner: Body, limit: Duration) -> IdleTimeout {
        IdleTimeout {
            inner,
            limit,
            sleep: None,
        }
    }
}

/// The error of a body that stopped arriving.
#[derive(Debug)]
pub struct BodyTimedOut(pub Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "nothing of the body arrived for {} s", self.0.as_secs_f64())
    }
}

impl std::error::Error for BodyTimedOut {}

impl HttpBody for IdleTimeout {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let limit = this.limit;
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(limit))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

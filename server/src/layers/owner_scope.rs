//! Each request keeps its own reactive owner, and only its own.
//!
//! Leptos keeps "the current reactive owner" in a thread-local. A page render starts with
//! `Owner::new_root`, which sets it and leaves it set, and a server function's owner
//! (`Owner::new`) becomes a child of whatever is current. On a multi-threaded runtime a
//! request's future can be resumed on a thread where another request left its root. Then
//! (seen in the load test) leptos_integration_utils's code after the page's stream
//! registers the lazy islands' preload links with, or looks for `ServerMetaContext` in, the
//! other request's owner ("tried to use a leptos_meta component without
//! `ServerMetaContext` provided"), and a server function's owner would be a child of a
//! stranger's page: it could read a context that page provided, and be cleaned up with it.
//!
//! [`own_owner`] polls every request's future as if it had a thread of its own: each poll
//! starts with the owner this request left at its previous poll (none at the first), and
//! ends by putting back what the thread had before.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::Owner;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Middleware: run the rest of the request's handling in an [`OwnerScoped`] future.
pub async fn own_owner(req: Request, next: Next) -> Response {
    OwnerScoped::new(next.run(req)).await
}

pin_project_lite::pin_project! {
    /// A future polled with its own thread-local reactive owner (see the module's text).
    pub struct OwnerScoped<F> {
        #[pin]
        inner: F,
        owner: Option<Owner>,
    }
}

impl<F: Future> OwnerScoped<F> {
    pub fn new(inner: F) -> Self {
        Self { inner, owner: None }
    }
}

/// Make `owner` the thread's current owner, or leave none current.
fn make_current(owner: Option<&Owner>) {
    match owner {
        Some(o) => o.set(),
        None => {
            if let Some(current) = Owner::current() {
                current.unset();
            }
        }
    }
}

impl<F: Future> Future for OwnerScoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let theirs = Owner::current();
        make_current(this.owner.as_ref());
        let result = this.inner.poll(cx);
        // Kept until the request's handling ends (the response's head is ready); the
        // body's stream holds what it needs itself and cleans the page's root up.
        *this.owner = match result {
            Poll::Pending => Owner::current(),
            Poll::Ready(_) => None,
        };
        make_current(theirs.as_ref());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::prelude::{provide_context, use_context};
    use std::task::Waker;

    /// A request's future: at its first poll it starts a page's root (as leptos_axum
    /// does, leaving it current) with `mark` in it, then waits once; at its second poll
    /// it reports which page's mark it can see.
    fn page(mark: u32) -> impl Future<Output = Option<u32>> {
        // The future holds its root, as leptos_axum's does; the thread-local is weak.
        let mut root: Option<Owner> = None;
        std::future::poll_fn(move |cx| {
            if root.is_none() {
                let page = Owner::new_root(None);
                page.with(|| provide_context(mark));
                root = Some(page);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(use_context::<u32>())
        })
    }

    fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
    }

    /// Another request starts its page on this thread between two polls of the first.
    fn another_request_runs() -> Owner {
        let other = Owner::new_root(None);
        other.with(|| provide_context(2_u32));
        other
    }

    #[test]
    fn a_request_resumed_after_another_sees_its_own_owner() {
        let mut first = OwnerScoped::new(page(1));
        assert!(poll_once(&mut first).is_pending());
        // The thread's owner is what it was before the poll: none.
        assert!(Owner::current().is_none());
        let other = another_request_runs();
        assert_eq!(poll_once(&mut first), Poll::Ready(Some(1)));
        // And the other request's owner is current again for whatever runs next here.
        assert_eq!(Owner::current(), Some(other.clone()));
        other.unset();
    }

    #[test]
    fn without_it_the_resumed_request_sees_the_other_page() {
        // What the middleware prevents, shown on the same two futures unwrapped.
        let mut first = Box::pin(page(1));
        assert!(poll_once(&mut first).is_pending());
        let other = another_request_runs();
        assert_eq!(poll_once(&mut first), Poll::Ready(Some(2)));
        other.unset();
    }

    #[test]
    fn a_new_request_starts_with_no_owner() {
        let stranger = another_request_runs();
        let mut fut = OwnerScoped::new(std::future::poll_fn(|_| Poll::Ready(Owner::current())));
        assert_eq!(poll_once(&mut fut), Poll::Ready(None));
        assert_eq!(Owner::current(), Some(stranger.clone()));
        stranger.unset();
    }
}

//! Stand-ins for the edge's identity-provider capabilities in native tests: a key fetcher that
//! answers from a table, can fail or rotate, and counts its fetches; and (feature
//! `native-crypto`) a signature verifier in pure Rust, what the runtime's WebCrypto does at the
//! edge.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use futures_util::future::LocalBoxFuture;

#[cfg(feature = "native-crypto")]
pub use super::native_verifier::NativeVerifier;
use crate::idp::keys::{Fetched, KeyFetcher};

/// A key endpoint in memory: URL → answer (status, `Cache-Control`, body), or no answer.
#[derive(Default)]
pub struct TableFetcher {
    pub answers: RefCell<BTreeMap<String, Result<Fetched, String>>>,
    /// Fetches of each URL so far.
    pub fetches: RefCell<BTreeMap<String, usize>>,
    /// Fetches in progress and the most at once.
    pub in_flight: Cell<usize>,
    pub most_at_once: Cell<usize>,
}

impl TableFetcher {
    /// Serves `body` at `url` with `cache_control`.
    pub fn serve(&self, url: &str, body: &str, cache_control: Option<&str>) {
        let fetched = Fetched { status: 200, cache_control: cache_control.map(str::to_owned), body: body.to_owned() };
        self.answers.borrow_mut().insert(url.to_owned(), Ok(fetched));
    }

    /// Makes `url` answer `status`, or (with `None`) not answer at all.
    pub fn fail(&self, url: &str, status: Option<u16>) {
        let answer = match status {
            Some(status) => Ok(Fetched { status, cache_control: None, body: String::new() }),
            None => Err("timed out".to_owned()),
        };
        self.answers.borrow_mut().insert(url.to_owned(), answer);
    }

    /// How often `url` was fetched.
    pub fn count(&self, url: &str) -> usize {
        self.fetches.borrow().get(url).copied().unwrap_or(0)
    }
}

/// One turn of the executor: a single-threaded `join` polls the other futures meanwhile.
async fn yield_once() {
    let mut yielded = false;
    futures_util::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

impl KeyFetcher for TableFetcher {
    fn get<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, String>> {
        Box::pin(async move {
            *self.fetches.borrow_mut().entry(url.to_owned()).or_default() += 1;
            self.in_flight.set(self.in_flight.get() + 1);
            self.most_at_once.set(self.most_at_once.get().max(self.in_flight.get()));
            // A few turns, so concurrent requests find this fetch in progress.
            for _ in 0..3 {
                yield_once().await;
            }
            self.in_flight.set(self.in_flight.get() - 1);
            self.answers.borrow().get(url).cloned().unwrap_or_else(|| Err(format!("nothing at {url}")))
        })
    }

    fn pause(&self, _ms: u32) -> LocalBoxFuture<'_, ()> {
        Box::pin(yield_once())
    }
}

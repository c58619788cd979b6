//! Each issuer's published keys, fetched by the Worker and kept per isolate, as the best
//! verifiers keep them (panva/jose's remote key set): fresh for the answer's
//! `Cache-Control: max-age` within [`MIN_MAX_AGE_MS`]…[`MAX_MAX_AGE_MS`] ([`DEFAULT_MAX_AGE_MS`]
//! without one); a token naming an unknown `kid` refetches at most once per [`COOLDOWN_MS`]
//! (counted from the last such refetch or failure, so a key rotated in right after a routine
//! fetch is found at once), and concurrent requests share that one fetch, so a flood of tokens
//! with random kids costs a fetch per cooldown, not one each. A request that finds a fetch in
//! progress waits for it by pausing on timers of its own and reading the cache again: never by
//! awaiting the other request's promise, which the Workers runtime would take for a hang. If the endpoint fails, keys already fetched keep verifying (stale if error), and
//! it is not asked again before the cooldown has passed. The clock is passed in; the fetch
//! (with its timeout) is the edge's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use futures_util::future::LocalBoxFuture;

use super::issuer::Issuer;
use super::jwk::{Alg, Jwk, JwkSet};
use crate::error::{ErrorKind, GatewayError, Result};

/// How long keys are fresh without a `max-age`.
pub const DEFAULT_MAX_AGE_MS: i64 = 10 * 60 * 1000;
/// The least a `max-age` counts for: an IdP answering `no-cache` is not fetched per request.
pub const MIN_MAX_AGE_MS: i64 = 60 * 1000;
/// The most a `max-age` counts for.
pub const MAX_MAX_AGE_MS: i64 = 24 * 60 * 60 * 1000;
/// The least time between two fetches of one issuer's keys (a new `kid`, or a failure).
/// Keycloak signs with a new key the moment it exists, so a longer wait would be an outage.
pub const COOLDOWN_MS: i64 = 30 * 1000;
/// How long the edge waits for a key endpoint before giving up on it.
pub const FETCH_TIMEOUT_MS: u32 = 5000;

/// A GET's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub cache_control: Option<String>,
    pub body: String,
}

/// How long a request waits between two looks at a fetch another request is making.
pub const WAIT_STEP_MS: u32 = 20;

/// GETs a URL (with [`FETCH_TIMEOUT_MS`]): the edge's `fetch`. `Err` says why there is no
/// answer, for the log.
pub trait KeyFetcher {
    fn get<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, std::result::Result<Fetched, String>>;
    /// Resolves after about `ms` milliseconds, on the calling request's own timer.
    fn pause(&self, ms: u32) -> LocalBoxFuture<'_, ()>;
}

/// How long an answer's keys stay fresh, in ms.
pub fn freshness(cache_control: Option<&str>) -> i64 {
    let max_age = cache_control.and_then(|cc| {
        cc.split(',').find_map(|d| d.trim().strip_prefix("max-age=").and_then(|v| v.trim().parse::<i64>().ok()))
    });
    max_age.map_or(DEFAULT_MAX_AGE_MS, |s| s.saturating_mul(1000).clamp(MIN_MAX_AGE_MS, MAX_MAX_AGE_MS))
}

#[derive(Default)]
struct State {
    set: Option<JwkSet>,
    fresh_until: i64,
    /// When a fetch was last tried, successful or not.
    tried_at: Option<i64>,
    /// When an unknown `kid` last caused a fetch (or a fetch last failed): the cooldown of
    /// such refetches counts from here, so a rotation right after a routine fetch still
    /// refetches at once.
    kid_fetch_at: Option<i64>,
    /// Fetches completed, so a request that waited for another's fetch sees it happened.
    generation: u64,
    /// The key set's URL, once known (from the configuration or the issuer's discovery).
    jwks_url: Option<String>,
}

#[derive(Default)]
struct Entry {
    /// When the fetch in progress started, if one is.
    fetching: std::cell::Cell<Option<i64>>,
    state: RefCell<State>,
}

/// The key sets of every issuer, for one isolate.
#[derive(Default)]
pub struct RemoteKeys {
    entries: RefCell<BTreeMap<String, Rc<Entry>>>,
}

fn unavailable(detail: String) -> GatewayError {
    GatewayError::hidden(
        ErrorKind::IssuerUnavailable,
        "the identity provider's keys could not be fetched; retry later",
        detail,
    )
}

/// The keys of an OpenID configuration's `jwks_uri`.
fn discovered(body: &str) -> std::result::Result<String, String> {
    let doc: serde_json::Value = serde_json::from_str(body).map_err(|_| "the OpenID configuration is not JSON")?;
    let uri = doc.get("jwks_uri").and_then(|v| v.as_str()).ok_or("the OpenID configuration has no `jwks_uri`")?;
    url::Url::parse(uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .map(|u| u.to_string())
        .ok_or_else(|| "the OpenID configuration's `jwks_uri` is not an http(s) URL".to_owned())
}

async fn get_ok(fetcher: &dyn KeyFetcher, url: &str) -> std::result::Result<Fetched, String> {
    let answer = fetcher.get(url).await?;
    if (200..300).contains(&answer.status) {
        Ok(answer)
    } else {
        Err(format!("{url} answered {}", answer.status))
    }
}

impl RemoteKeys {
    fn entry(&self, issuer: &Issuer) -> Rc<Entry> {
        let mut entries = self.entries.borrow_mut();
        entries.entry(issuer.issuer.clone()).or_default().clone()
    }

    /// The keys of `issuer` that may verify a token signed with `alg` naming `kid`, fetched
    /// or refreshed if need be. Empty: no such key, even after a refetch the cooldown allowed.
    /// `IssuerUnavailable` when no key set was ever fetched and none can be now.
    pub async fn candidates(
        &self,
        issuer: &Issuer,
        fetcher: &dyn KeyFetcher,
        alg: Alg,
        kid: Option<&str>,
        now_ms: i64,
    ) -> Result<Vec<Jwk>> {
        let entry = self.entry(issuer);
        let found = |state: &State| -> Vec<Jwk> {
            state.set.as_ref().map(|s| s.candidates(alg, kid).into_iter().cloned().collect()).unwrap_or_default()
        };
        let (keys, generation, wanted) = {
            let state = entry.state.borrow();
            let keys = found(&state);
            let cooled = |at: Option<i64>| at.is_none_or(|t| now_ms - t >= COOLDOWN_MS);
            let refresh = now_ms >= state.fresh_until && cooled(state.tried_at);
            let unknown =
                keys.is_empty() && cooled(state.kid_fetch_at) && cooled(state.tried_at.filter(|_| state.set.is_none()));
            (keys.clone(), state.generation, refresh || unknown)
        };
        if !wanted {
            return self.answer(&entry, keys);
        }
        if entry.fetching.get().is_some() {
            // Another request is fetching: look again until it is done (or has given up).
            let mut waited = 0;
            while entry.fetching.get().is_some() && waited < FETCH_TIMEOUT_MS * 2 {
                fetcher.pause(WAIT_STEP_MS).await;
                waited += WAIT_STEP_MS;
            }
        }
        if entry.state.borrow().generation == generation && entry.fetching.get().is_none() {
            {
                let mut state = entry.state.borrow_mut();
                if keys.is_empty() && state.set.is_some() {
                    state.kid_fetch_at = Some(now_ms);
                }
            }
            entry.fetching.set(Some(now_ms));
            self.refresh(issuer, &entry, fetcher, now_ms).await;
            entry.fetching.set(None);
        }
        let keys = found(&entry.state.borrow());
        self.answer(&entry, keys)
    }

    fn answer(&self, entry: &Entry, keys: Vec<Jwk>) -> Result<Vec<Jwk>> {
        if keys.is_empty() && entry.state.borrow().set.is_none() {
            return Err(unavailable("no key set was fetched yet".to_owned()));
        }
        Ok(keys)
    }

    /// Fetches the key set (discovering its URL first if needed); on failure the keys already
    /// held stay. Either way the cooldown starts now.
    async fn refresh(&self, issuer: &Issuer, entry: &Entry, fetcher: &dyn KeyFetcher, now_ms: i64) {
        let result = async {
            let known = entry.state.borrow().jwks_url.clone();
            let url = match (&issuer.jwks_url, known) {
                (Some(url), _) => url.to_string(),
                (None, Some(url)) => url,
                (None, None) => {
                    let config = format!("{}/.well-known/openid-configuration", issuer.issuer.trim_end_matches('/'));
                    discovered(&get_ok(fetcher, &config).await?.body)?
                }
            };
            let answer = get_ok(fetcher, &url).await?;
            let set = JwkSet::parse(&answer.body)?;
            Ok::<_, String>((url, set, freshness(answer.cache_control.as_deref())))
        }
        .await;
        let mut state = entry.state.borrow_mut();
        state.tried_at = Some(now_ms);
        state.generation += 1;
        match result {
            Ok((url, set, fresh_ms)) => {
                for note in &set.skipped {
                    crate::log::error(&format!("keys of `{}`: {note}, left out", issuer.issuer));
                }
                state.jwks_url = Some(url);
                state.set = Some(set);
                state.fresh_until = now_ms.saturating_add(fresh_ms);
            }
            Err(why) => {
                state.kid_fetch_at = Some(now_ms);
                crate::log::error(&format!("fetching the keys of `{}` failed: {why}", issuer.issuer));
            }
        }
    }
}

//! Admission limits on requests: in-flight caps, per-client rate limits,
//! watch counts and request timeouts. Runs between authentication and
//! authorization, as upstream's handler chain orders them.
//!
//! For each request, in order:
//! 1. **Rate limit**: one token bucket per user name (`--client-qps`,
//!    `--client-burst`); `system:masters` and `--rate-limit-exempt-users`
//!    are exempt. Empty bucket → 429 with `Retry-After` = the time until
//!    the next token (whole seconds, at least 1).
//! 2. **Watches** (long-running): at most `--max-watches-per-user` open at
//!    once per user (masters exempt) → 429. Neither counted in flight nor
//!    timed out, as upstream.
//! 3. **Other long-running requests** (`pods/log`, ...): pass.
//! 4. **In flight**: read-only (`GET`/`HEAD`/`OPTIONS`) and mutating
//!    requests each hold a slot of their own pool
//!    (`--max-requests-inflight`, `--max-mutating-requests-inflight`) until
//!    their response is sent; a full pool → 429 `Retry-After: 1`, except
//!    for masters, who are served anyway (upstream: "a system:master is so
//!    powerful that they should always get an answer").
//! 5. **Timeout** (`--request-timeout`, shortened by a `?timeout=` query
//!    parameter): past it the client gets 504. The handler itself is NOT
//!    cancelled: as upstream's timeout filter does, it runs on to
//!    completion and its answer is dropped, keeping its in-flight slot
//!    meanwhile. Cancelling it could cut a write sequence in half — a
//!    Service create allocates its ClusterIP key and then writes the
//!    Service, two storage writes (`services.rs`). A handler still waiting
//!    for its request body stops at the deadline: the body ends in an
//!    error then. A response still being sent at the deadline is cut off.

pub mod bucket;
pub mod classify;
pub mod guarded;
pub mod watches;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tug_api::status::{Status, StatusDetails};

use crate::auth::user::{UserInfo, MASTERS};
use crate::error::ApiError;
use crate::server::ApiServer;

use self::bucket::{Rate, RateLimiter};
use self::classify::{classify, timeout_param, Class};
use self::guarded::Guarded;
use self::watches::{WatchCounter, WatchSlot};

/// Default of `--max-requests-inflight` (upstream's).
pub const DEFAULT_MAX_READ_ONLY: usize = 400;
/// Default of `--max-mutating-requests-inflight` (upstream's).
pub const DEFAULT_MAX_MUTATING: usize = 200;
/// Default of `--client-qps`.
pub const DEFAULT_CLIENT_QPS: f64 = 100.0;
/// Default of `--client-burst`.
pub const DEFAULT_CLIENT_BURST: u32 = 200;
/// Default of `--rate-limit-exempt-users`: the control plane's own
/// components, which legitimately write at high rates (the scheduler
/// binds hundreds of pods per second).
pub const DEFAULT_EXEMPT_USERS: &[&str] =
    &["system:kube-scheduler", "system:kube-controller-manager"];
/// Default of `--max-watches-per-user`.
pub const DEFAULT_MAX_WATCHES_PER_USER: usize = 200;
/// Default of `--request-timeout` (upstream's).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Limit settings (from `flags::limits`). A zero turns that limit off.
#[derive(Clone, Debug)]
pub struct LimitsConfig {
    /// Read-only requests served at once.
    pub max_read_only_inflight: usize,
    /// Mutating requests served at once.
    pub max_mutating_inflight: usize,
    /// Requests per second each user may sustain.
    pub client_qps: f64,
    /// Requests a user may send at once after being quiet.
    pub client_burst: u32,
    /// Users the rate limit does not apply to (besides `system:masters`).
    pub rate_limit_exempt_users: Vec<String>,
    /// Watches each user may hold open at once.
    pub max_watches_per_user: usize,
    /// Longest a non-long-running request may take.
    pub request_timeout: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_read_only_inflight: DEFAULT_MAX_READ_ONLY,
            max_mutating_inflight: DEFAULT_MAX_MUTATING,
            client_qps: DEFAULT_CLIENT_QPS,
            client_burst: DEFAULT_CLIENT_BURST,
            rate_limit_exempt_users: DEFAULT_EXEMPT_USERS.iter().map(|s| s.to_string()).collect(),
            max_watches_per_user: DEFAULT_MAX_WATCHES_PER_USER,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// The live state of the limits (semaphores, buckets, counters).
pub struct Limits {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
    rate: Option<RateLimiter>,
    exempt_users: Vec<String>,
    watches: Option<WatchCounter>,
    request_timeout: Option<Duration>,
}

fn pool(size: usize) -> Option<Arc<Semaphore>> {
    (size > 0).then(|| Arc::new(Semaphore::new(size)))
}

impl Limits {
    /// Build from the configuration.
    pub fn new(config: &LimitsConfig) -> Limits {
        let rate = (config.client_qps > 0.0 && config.client_burst > 0).then(|| {
            RateLimiter::new(Rate {
                qps: config.client_qps,
                burst: f64::from(config.client_burst),
            })
        });
        Limits {
            read_only: pool(config.max_read_only_inflight),
            mutating: pool(config.max_mutating_inflight),
            rate,
            exempt_users: config.rate_limit_exempt_users.clone(),
            watches: (config.max_watches_per_user > 0)
                .then(|| WatchCounter::new(config.max_watches_per_user)),
            request_timeout: (!config.request_timeout.is_zero()).then_some(config.request_timeout),
        }
    }

    /// Take a token from the user's bucket.
    fn take_token(&self, user: &UserInfo) -> Result<(), Refusal> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        if user.in_group(MASTERS) || self.exempt_users.contains(&user.name) {
            return Ok(());
        }
        rate.take(&user.name, std::time::Instant::now())
            .map_err(|wait| Refusal::TooManyRequests(retry_after_seconds(wait)))
    }

    /// A watch slot for the user (`None`: not limited).
    fn open_watch(&self, user: &UserInfo) -> Result<Option<WatchSlot>, Refusal> {
        match &self.watches {
            Some(watches) if !user.in_group(MASTERS) => match watches.open(&user.name) {
                Some(slot) => Ok(Some(slot)),
                None => Err(Refusal::TooManyRequests(1)),
            },
            _ => Ok(None),
        }
    }

    /// An in-flight slot of the request's pool (`None`: not limited, or a
    /// master past a full pool).
    fn admit(
        &self,
        class: Class,
        user: &UserInfo,
    ) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        let pool = match class {
            Class::Mutating => &self.mutating,
            _ => &self.read_only,
        };
        let Some(pool) = pool else {
            return Ok(None);
        };
        match pool.clone().try_acquire_owned() {
            Ok(permit) => Ok(Some(permit)),
            Err(_) if user.in_group(MASTERS) => Ok(None),
            Err(_) => Err(Refusal::TooManyRequests(1)),
        }
    }

    /// When a request with this query must be done.
    fn deadline(&self, query: Option<&str>) -> Result<Option<Instant>, Refusal> {
        let asked = timeout_param(query).map_err(Refusal::BadTimeout)?;
        let timeout = match (asked.filter(|t| !t.is_zero()), self.request_timeout) {
            (Some(a), Some(server)) => Some(a.min(server)),
            (a, server) => a.or(server),
        };
        Ok(timeout.map(|t| Instant::now() + t))
    }
}

/// Whole seconds to wait, rounded up, at least 1 (`Retry-After: 0` would
/// invite an immediate retry).
fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// Why a request is not admitted.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// 429 with `Retry-After` this many seconds.
    TooManyRequests(u64),
    /// 400: the `timeout` parameter is not a duration.
    BadTimeout(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::TooManyRequests(retry_after) => too_many_requests(retry_after),
            Refusal::BadTimeout(bad) => ApiError::bad_request(format!(
                "invalid timeout specified in the request URL: {bad:?}"
            ))
            .into_response(),
        }
    }
}

/// 429 `TooManyRequests` with `Retry-After`, as upstream's
/// `NewTooManyRequests`.
fn too_many_requests(retry_after: u64) -> Response {
    let status = Status::failure(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
    )
    .with_details(StatusDetails {
        retry_after_seconds: Some(retry_after as i64),
        ..Default::default()
    });
    let mut response = ApiError::from(status).into_response();
    response.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(retry_after),
    );
    response
}

/// 504 `Timeout`: the handler did not answer in time.
fn timed_out() -> Response {
    ApiError::from(Status::failure(
        504,
        "Timeout",
        "Timeout: request did not complete within the allotted timeout",
    ))
    .into_response()
}

/// Admit the request within the limits, or answer 429 with Retry-After.
/// Runs after authentication: the request's `UserInfo` is in its
/// extensions.
pub async fn enforce(State(server): State<Arc<ApiServer>>, req: Request, next: Next) -> Response {
    let limits = &server.limits;
    let user = req
        .extensions()
        .get::<UserInfo>()
        .cloned()
        .unwrap_or_else(UserInfo::anonymous);
    let class = classify(req.method(), req.uri().path(), req.uri().query());
    if let Err(refusal) = limits.take_token(&user) {
        return refusal.into_response();
    }
    match class {
        Class::Watch => {
            let slot = match limits.open_watch(&user) {
                Ok(slot) => slot,
                Err(refusal) => return refusal.into_response(),
            };
            let response = next.run(req).await;
            response.map(|body| Guarded::body(body, slot, None))
        }
        Class::Stream => next.run(req).await,
        Class::ReadOnly | Class::Mutating => {
            let deadline = match limits.deadline(req.uri().query()) {
                Ok(d) => d,
                Err(refusal) => return refusal.into_response(),
            };
            let permit = match limits.admit(class, &user) {
                Ok(p) => p,
                Err(refusal) => return refusal.into_response(),
            };
            run_with_deadline(req, next, permit, deadline).await
        }
    }
}

/// Run the rest of the chain in a task of its own, answering 504 at the
/// deadline while the task runs on (see the module doc).
async fn run_with_deadline(
    req: Request,
    next: Next,
    permit: Option<OwnedSemaphorePermit>,
    deadline: Option<Instant>,
) -> Response {
    let req = req.map(|body| Guarded::body(body, (), deadline));
    let task = tokio::spawn(async move {
        let response = next.run(req).await;
        response.map(|body| Guarded::body(body, permit, deadline))
    });
    let joined = match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, task).await {
            // A handler that ended because its request body was cut off
            // at the deadline ended by the timeout too.
            Ok(_) if Instant::now() >= deadline => return timed_out(),
            Ok(joined) => joined,
            Err(_) => return timed_out(),
        },
        None => task.await,
    };
    joined.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a request handler panicked");
        ApiError::internal("the server could not complete the request").into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn a_client_may_shorten_the_timeout_but_not_lengthen_it() {
        let limits = Limits::new(&LimitsConfig {
            request_timeout: Duration::from_secs(60),
            ..LimitsConfig::default()
        });
        let now = Instant::now();
        let d = limits.deadline(Some("timeout=5s")).unwrap().unwrap();
        assert!(d <= now + Duration::from_secs(6));
        let d = limits.deadline(Some("timeout=10m")).unwrap().unwrap();
        assert!(d <= Instant::now() + Duration::from_secs(60));
        assert!(d > now + Duration::from_secs(59));
        assert!(limits.deadline(Some("timeout=later")).is_err());
        let unlimited = Limits::new(&LimitsConfig {
            request_timeout: Duration::ZERO,
            ..LimitsConfig::default()
        });
        assert_eq!(unlimited.deadline(None).unwrap(), None);
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn masters_and_exempt_users_are_not_rate_limited() {
        let limits = Limits::new(&LimitsConfig {
            client_qps: 1.0,
            client_burst: 1,
            ..LimitsConfig::default()
        });
        let jane = user("jane", &[]);
        assert!(limits.take_token(&jane).is_ok());
        let refused = limits.take_token(&jane).expect_err("bucket empty");
        assert_eq!(refused, Refusal::TooManyRequests(1));
        let refused = refused.into_response();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()[http::header::RETRY_AFTER], "1");
        let admin = user("kubernetes-admin", &[MASTERS]);
        let scheduler = user("system:kube-scheduler", &[]);
        for _ in 0..10 {
            assert!(limits.take_token(&admin).is_ok());
            assert!(limits.take_token(&scheduler).is_ok());
        }
    }

    #[test]
    fn full_pools_refuse_all_but_masters() {
        let limits = Limits::new(&LimitsConfig {
            max_read_only_inflight: 1,
            max_mutating_inflight: 1,
            ..LimitsConfig::default()
        });
        let jane = user("jane", &[]);
        let read = limits.admit(Class::ReadOnly, &jane).unwrap();
        assert!(read.is_some());
        assert!(limits.admit(Class::ReadOnly, &jane).is_err());
        // The mutating pool is separate.
        let write = limits.admit(Class::Mutating, &jane).unwrap();
        assert!(write.is_some());
        let admin = user("kubernetes-admin", &[MASTERS]);
        assert!(matches!(limits.admit(Class::ReadOnly, &admin), Ok(None)));
        drop(read);
        assert!(limits.admit(Class::ReadOnly, &jane).unwrap().is_some());
    }
}

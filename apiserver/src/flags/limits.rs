//! `tug-apiserver` flags: request limits. Names follow upstream where it
//! has the flag (`--max-requests-inflight`,
//! `--max-mutating-requests-inflight`, `--request-timeout`,
//! `--max-request-body-bytes`); the per-client limits, which upstream
//! covers with API Priority and Fairness instead, borrow the `qps`/`burst`
//! wording of client-go (`--kube-api-qps`, `--kube-api-burst`).

use std::time::Duration;

use tug_api::duration::parse_duration;

use crate::limits::{self, LimitsConfig};

/// Flags of this concern, flattened into [`super::Flags`]. A zero turns
/// that limit off.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitFlags {
    /// Most read-only (GET, HEAD, OPTIONS) requests served at once; more
    /// get 429 with Retry-After. Watches and log streams do not count.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_READ_ONLY)]
    pub max_requests_inflight: usize,
    /// Most mutating requests served at once; more get 429 with Retry-After.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_MUTATING)]
    pub max_mutating_requests_inflight: usize,
    /// Requests per second each user (by authenticated name) may sustain;
    /// past their bucket they get 429 with Retry-After.
    #[arg(long, default_value_t = limits::DEFAULT_CLIENT_QPS)]
    pub client_qps: f64,
    /// Requests a user may send in a burst (the token bucket's size).
    #[arg(long, default_value_t = limits::DEFAULT_CLIENT_BURST)]
    pub client_burst: u32,
    /// Comma-separated users the per-user rate limit does not apply to
    /// (members of system:masters never are limited).
    #[arg(
        long,
        value_delimiter = ',',
        default_values_t = limits::DEFAULT_EXEMPT_USERS.iter().map(|s| s.to_string())
    )]
    pub rate_limit_exempt_users: Vec<String>,
    /// Most watches a user may hold open at once (system:masters exempt).
    #[arg(long, default_value_t = limits::DEFAULT_MAX_WATCHES_PER_USER)]
    pub max_watches_per_user: usize,
    /// Longest a request other than a watch or log stream may take before
    /// the client gets 504 (a `?timeout=` parameter may shorten it).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

impl LimitFlags {
    /// The limits these flags ask for.
    pub fn config(&self) -> LimitsConfig {
        LimitsConfig {
            max_read_only_inflight: self.max_requests_inflight,
            max_mutating_inflight: self.max_mutating_requests_inflight,
            client_qps: self.client_qps,
            client_burst: self.client_burst,
            rate_limit_exempt_users: self
                .rate_limit_exempt_users
                .iter()
                .filter(|u| !u.is_empty())
                .cloned()
                .collect(),
            max_watches_per_user: self.max_watches_per_user,
            request_timeout: self.request_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: LimitFlags,
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Cli::parse_from(["x"]).limits.config();
        assert_eq!(config.max_read_only_inflight, 400);
        assert_eq!(config.max_mutating_inflight, 200);
        assert_eq!(config.client_qps, 100.0);
        assert_eq!(config.client_burst, 200);
        assert_eq!(
            config.rate_limit_exempt_users,
            ["system:kube-scheduler", "system:kube-controller-manager"]
        );
        assert_eq!(config.max_watches_per_user, 200);
        assert_eq!(config.request_timeout, Duration::from_secs(60));
    }

    #[test]
    fn flags_override_and_an_empty_exempt_list_exempts_nobody() {
        let config = Cli::parse_from([
            "x",
            "--max-requests-inflight=3",
            "--request-timeout=2s",
            "--rate-limit-exempt-users=",
            "--client-qps=0.5",
        ])
        .limits
        .config();
        assert_eq!(config.max_read_only_inflight, 3);
        assert_eq!(config.request_timeout, Duration::from_secs(2));
        assert!(config.rate_limit_exempt_users.is_empty());
        assert_eq!(config.client_qps, 0.5);
    }
}

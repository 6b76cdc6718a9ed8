//! What the proxy reports about its syncs: the `/metrics` text
//! (Prometheus exposition format, kube-proxy's metric names) and the
//! `/healthz` verdict.

use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::sync::SyncReport;

/// Upper bounds (seconds) of the sync duration histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Inner {
    bucket_counts: [u64; BUCKETS.len()],
    duration_sum: f64,
    syncs: u64,
    full_syncs: u64,
    partial_syncs: u64,
    noop_syncs: u64,
    errors: u64,
    last_duration: f64,
    /// When the programmed rules were last known to match the API.
    last_updated: Option<(Instant, DateTime<Utc>)>,
    services: usize,
    endpoints: usize,
}

/// Sync statistics, shared by the sync loop (writer) and the HTTP
/// server (reader).
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Rules older than this make `/healthz` fail.
    health_timeout: Duration,
}

impl Metrics {
    /// Metrics whose `/healthz` fails when no sync succeeded for
    /// `health_timeout`.
    pub fn new(health_timeout: Duration) -> Metrics {
        Metrics {
            inner: Mutex::new(Inner::default()),
            health_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a successful sync of `services`/`endpoints` taking `took`.
    pub fn record_sync(
        &self,
        report: &SyncReport,
        took: Duration,
        services: usize,
        endpoints: usize,
    ) {
        let mut m = self.lock();
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                m.bucket_counts[i] += 1;
            }
        }
        m.duration_sum += secs;
        m.syncs += 1;
        m.last_duration = secs;
        match (report.applied, report.full) {
            (false, _) => m.noop_syncs += 1,
            (true, true) => m.full_syncs += 1,
            (true, false) => m.partial_syncs += 1,
        }
        m.last_updated = Some((Instant::now(), Utc::now()));
        m.services = services;
        m.endpoints = endpoints;
    }

    /// Record a failed sync.
    pub fn record_error(&self) {
        self.lock().errors += 1;
    }

    /// `/healthz`: healthy once a sync succeeded, and as long as the last
    /// one is younger than the health timeout. Returns the verdict and the
    /// last-updated time.
    pub fn health(&self) -> (bool, Option<DateTime<Utc>>) {
        self.health_at(Instant::now())
    }

    /// [`Metrics::health`] as seen at `now`.
    fn health_at(&self, now: Instant) -> (bool, Option<DateTime<Utc>>) {
        let m = self.lock();
        match m.last_updated {
            Some((at, wall)) => (now.duration_since(at) <= self.health_timeout, Some(wall)),
            None => (false, None),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let m = self.lock();
        let mut out = String::new();
        let name = "kubeproxy_sync_proxy_rules_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How long one sync of the proxy rules took (render and apply)."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                m.bucket_counts[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", m.syncs);
        let _ = writeln!(out, "{name}_sum {}", m.duration_sum);
        let _ = writeln!(out, "{name}_count {}", m.syncs);
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        gauge(
            &mut out,
            "kubeproxy_sync_proxy_rules_last_duration_seconds",
            "Duration of the last successful sync.",
            "gauge",
            m.last_duration.to_string(),
        );
        let last = m
            .last_updated
            .map(|(_, w)| w.timestamp_millis() as f64 / 1000.0);
        gauge(
            &mut out,
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "When the rules were last synced successfully (Unix time).",
            "gauge",
            last.unwrap_or(0.0).to_string(),
        );
        let counter = "kubeproxy_sync_proxy_rules_total";
        let _ = writeln!(
            out,
            "# HELP {counter} Syncs by kind: full, partial, noop (nothing changed), error."
        );
        let _ = writeln!(out, "# TYPE {counter} counter");
        for (kind, n) in [
            ("full", m.full_syncs),
            ("partial", m.partial_syncs),
            ("noop", m.noop_syncs),
            ("error", m.errors),
        ] {
            let _ = writeln!(out, "{counter}{{kind=\"{kind}\"}} {n}");
        }
        gauge(
            &mut out,
            "kubeproxy_programmed_services",
            "Services programmed by the last sync.",
            "gauge",
            m.services.to_string(),
        );
        gauge(
            &mut out,
            "kubeproxy_programmed_endpoints",
            "Endpoints programmed by the last sync.",
            "gauge",
            m.endpoints.to_string(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthz_fails_before_the_first_sync_and_passes_after() {
        let m = Metrics::new(Duration::from_secs(60));
        assert!(!m.health().0);
        let report = SyncReport {
            full: true,
            applied: true,
            statements: 10,
        };
        m.record_sync(&report, Duration::from_millis(30), 2, 5);
        assert!(m.health().0);
        let stale = Metrics::new(Duration::ZERO);
        stale.record_sync(&report, Duration::from_millis(30), 2, 5);
        let later = Instant::now() + Duration::from_millis(2);
        assert!(
            !stale.health_at(later).0,
            "a sync older than the timeout is stale"
        );
    }

    #[test]
    fn metrics_text_counts_syncs_into_buckets() {
        let m = Metrics::new(Duration::from_secs(60));
        let report = SyncReport {
            full: false,
            applied: true,
            statements: 3,
        };
        m.record_sync(&report, Duration::from_millis(30), 1, 3);
        let text = m.render();
        assert!(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.025\"} 0"));
        assert!(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_count 1"));
        assert!(text.contains("kubeproxy_sync_proxy_rules_total{kind=\"partial\"} 1"));
        assert!(text.contains("kubeproxy_programmed_endpoints 3"));
    }
}

//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//! `leaderelection` package: several copies of a controller run, one
//! leads, and another takes over when the leader dies.
//!
//! - **Acquire**: a candidate takes the Lease if nobody holds it, or if the
//!   holder's `renewTime + leaseDurationSeconds` has passed. Taking it from
//!   someone else sets `acquireTime` and increments `leaseTransitions`.
//! - **Renew**: the leader rewrites `renewTime` every `retry_period`.
//! - **Lose**: if renewing keeps failing for `renew_deadline`, or the Lease
//!   turns out to be held by someone else, the leader stops leading: the
//!   [`Leadership`] signal flips and the caller must stop its work at
//!   once (another candidate may take over as soon as the lease expires).
//! - **Release**: [`Leadership::release`] clears `holderIdentity`, so a
//!   waiting candidate takes over at its next try instead of waiting for
//!   the lease to expire. Dropping a `Leadership` without releasing stops
//!   renewing and behaves like a crash: the lease runs out.
//!
//! Every write is a PUT carrying the resourceVersion that was read (or a
//! create, which fails if the Lease exists): two candidates racing for the
//! same Lease cannot both win.
//!
//! ```no_run
//! # async fn demo(client: tug_client::Client) -> tug_client::Result<()> {
//! use tug_client::leader::{LeaderElectionConfig, LeaderElector};
//!
//! let elector = LeaderElector::new(
//!     client,
//!     LeaderElectionConfig::new("kube-system", "tug-scheduler", "host-a"),
//! );
//! let leadership = elector.acquire().await;
//! tokio::select! {
//!     _ = leadership.lost() => eprintln!("lost the lease; exiting"),
//!     _ = tokio::signal::ctrl_c() => { leadership.release().await?; }
//! }
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tug_api::coordination::{Lease, LeaseSpec};
use tug_api::{MicroTime, ObjectMeta};

use crate::api::Api;
use crate::client::Client;
use crate::error::Result;
use crate::params::PostParams;

/// Which Lease, who we are, and the timing (client-go's defaults:
/// 15 s lease, 10 s renew deadline, 2 s retry period).
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// The Lease's name (one per component: `tug-scheduler`).
    pub name: String,
    /// This candidate's identity, unique among candidates (host name + a
    /// random suffix, say).
    pub identity: String,
    /// How long a lease lasts after its last renewal; what other
    /// candidates wait before taking over from a dead leader.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up.
    pub renew_deadline: Duration,
    /// Time between renewals, and between a waiting candidate's tries.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// A config with client-go's default timing.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        LeaderElectionConfig {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Set the three durations.
    pub fn with_timing(
        mut self,
        lease: Duration,
        renew_deadline: Duration,
        retry: Duration,
    ) -> Self {
        self.lease_duration = lease;
        self.renew_deadline = renew_deadline;
        self.retry_period = retry;
        self
    }

    /// The lease duration in whole seconds (at least 1), as the Lease stores it.
    fn lease_seconds(&self) -> i32 {
        let secs = self.lease_duration.as_secs_f64().ceil();
        (secs as i32).max(1)
    }
}

struct Shared {
    api: Api<Lease>,
    config: LeaderElectionConfig,
}

/// A candidate for one Lease.
#[derive(Clone)]
pub struct LeaderElector {
    shared: Arc<Shared>,
}

/// Whether `lease` has run out at `now`: its last renewal (or acquisition)
/// plus its duration is in the past. No renewal time: expired.
fn expired(lease: &LeaseSpec, now: MicroTime, default_seconds: i32) -> bool {
    let Some(last) = lease.renew_time.or(lease.acquire_time) else {
        return true;
    };
    let secs = lease.lease_duration_seconds.unwrap_or(default_seconds);
    last.0 + TimeDelta::seconds(i64::from(secs)) < now.0
}

impl LeaderElector {
    /// A candidate using `client` with `config`.
    pub fn new(client: Client, config: LeaderElectionConfig) -> Self {
        let api = Api::namespaced(client, &config.namespace);
        LeaderElector {
            shared: Arc::new(Shared { api, config }),
        }
    }

    /// Which Lease, who, and the timing.
    pub fn config(&self) -> &LeaderElectionConfig {
        &self.shared.config
    }

    /// The Lease as stored now (`None` if it does not exist).
    pub async fn lease(&self) -> Result<Option<Lease>> {
        self.shared.api.get_opt(&self.shared.config.name).await
    }

    /// One attempt: take the Lease if it is free, expired or already ours,
    /// and renew it. `Ok(false)` when someone else holds it or won a race.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let cfg = &self.shared.config;
        let api = &self.shared.api;
        let now = MicroTime::now();
        let Some(current) = api.get_opt(&cfg.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: cfg.name.clone(),
                    namespace: cfg.namespace.clone(),
                    ..Default::default()
                },
                spec: LeaseSpec {
                    holder_identity: Some(cfg.identity.clone()),
                    lease_duration_seconds: Some(cfg.lease_seconds()),
                    acquire_time: Some(now),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                },
                ..Default::default()
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if e.is_already_exists() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let holder = current.spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == cfg.identity;
        if !ours && !holder.is_empty() && !expired(&current.spec, now, cfg.lease_seconds()) {
            return Ok(false);
        }
        let mut lease = current;
        if !ours {
            lease.spec.acquire_time = Some(now);
            lease.spec.lease_transitions = Some(lease.spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec.holder_identity = Some(cfg.identity.clone());
        lease.spec.lease_duration_seconds = Some(cfg.lease_seconds());
        lease.spec.renew_time = Some(now);
        // The PUT carries the resourceVersion just read: a concurrent
        // writer makes it fail with 409 instead of being overwritten.
        match api.replace(&cfg.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Renew a lease we hold. `Ok(false)` when someone else holds it now.
    async fn renew(&self) -> Result<bool> {
        let cfg = &self.shared.config;
        let Some(mut lease) = self.shared.api.get_opt(&cfg.name).await? else {
            return Ok(false);
        };
        if lease.spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
            return Ok(false);
        }
        lease.spec.renew_time = Some(MicroTime::now());
        lease.spec.lease_duration_seconds = Some(cfg.lease_seconds());
        // A conflict (someone wrote in between) is an error like any
        // other: the next try reads the Lease again.
        self.shared
            .api
            .replace(&cfg.name, &PostParams::default(), &lease)
            .await
            .map(|_| true)
    }

    /// Wait until this candidate holds the Lease, trying every
    /// `retry_period`, then keep renewing it in the background.
    pub async fn acquire(&self) -> Leadership {
        let cfg = &self.shared.config;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lease = %cfg.name, identity = %cfg.identity, error = %e, "leader election: cannot read or write the lease")
                }
            }
            tokio::time::sleep(cfg.retry_period).await;
        }
        tracing::info!(lease = %format!("{}/{}", cfg.namespace, cfg.name), identity = %cfg.identity, "became leader");
        let (tx, rx) = watch::channel(true);
        let renewer = tokio::spawn(self.clone().renew_loop(tx));
        Leadership {
            elector: self.clone(),
            leading: rx,
            renewer: Some(renewer),
        }
    }

    /// Renew every `retry_period` until a renewal fails for longer than
    /// `renew_deadline` or the lease is someone else's; then say so.
    async fn renew_loop(self, leading: watch::Sender<bool>) {
        let cfg = self.shared.config.clone();
        let mut last_renewal = Instant::now();
        loop {
            tokio::time::sleep(cfg.retry_period).await;
            let deadline = last_renewal + cfg.renew_deadline;
            let attempt = tokio::time::timeout_at(deadline, self.renew()).await;
            match attempt {
                Ok(Ok(true)) => last_renewal = Instant::now(),
                Ok(Ok(false)) => {
                    tracing::warn!(lease = %cfg.name, identity = %cfg.identity, "leader election: the lease is held by someone else; stopping");
                    break;
                }
                Ok(Err(e)) if Instant::now() < deadline => {
                    tracing::warn!(lease = %cfg.name, identity = %cfg.identity, error = %e, "leader election: renewal failed; retrying");
                }
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(lease = %cfg.name, identity = %cfg.identity, "leader election: could not renew within the renew deadline; stopping");
                    break;
                }
            }
        }
        leading.send_replace(false);
    }
}

/// Holding the Lease. Work that needs leadership must stop when
/// [`lost`](Leadership::lost) resolves. Dropping it stops renewing
/// without releasing (like a crash); call [`release`](Leadership::release)
/// on a clean shutdown.
pub struct Leadership {
    elector: LeaderElector,
    leading: watch::Receiver<bool>,
    renewer: Option<JoinHandle<()>>,
}

impl Leadership {
    /// Whether we still lead.
    pub fn is_leading(&self) -> bool {
        *self.leading.borrow()
    }

    /// Resolves when leadership is lost.
    pub async fn lost(&self) {
        let mut rx = self.leading.clone();
        let _ = rx.wait_for(|leading| !*leading).await;
    }

    /// A signal to hand to work tasks: `true` while leading, becomes
    /// `false` (for good) when leadership is lost.
    pub fn signal(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Stop renewing and clear `holderIdentity`, so another candidate
    /// takes over at once.
    pub async fn release(mut self) -> Result<()> {
        if let Some(task) = self.renewer.take() {
            task.abort();
            let _ = task.await;
        }
        let cfg = &self.elector.shared.config;
        let api = &self.elector.shared.api;
        // A renewal may have been in flight: retry a conflict a few times.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let Some(mut lease) = api.get_opt(&cfg.name).await? else {
                return Ok(());
            };
            if lease.spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
                return Ok(());
            }
            lease.spec.holder_identity = None;
            lease.spec.renew_time = Some(MicroTime::now());
            match api.replace(&cfg.name, &PostParams::default(), &lease).await {
                Ok(_) => {
                    tracing::info!(lease = %cfg.name, identity = %cfg.identity, "released leadership");
                    return Ok(());
                }
                Err(e) if e.is_conflict() && attempts < 3 => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> MicroTime {
        MicroTime(chrono::DateTime::parse_from_rfc3339(s).unwrap().into())
    }

    #[test]
    fn expiry_is_renew_time_plus_duration() {
        let spec = LeaseSpec {
            holder_identity: Some("a".into()),
            lease_duration_seconds: Some(10),
            renew_time: Some(at("2024-01-01T00:00:00Z")),
            ..Default::default()
        };
        assert!(!expired(&spec, at("2024-01-01T00:00:09Z"), 15));
        assert!(!expired(&spec, at("2024-01-01T00:00:10Z"), 15));
        assert!(expired(&spec, at("2024-01-01T00:00:10.000001Z"), 15));
        assert!(expired(
            &LeaseSpec::default(),
            at("2024-01-01T00:00:00Z"),
            15
        ));
    }

    #[test]
    fn lease_seconds_round_up() {
        let c = LeaderElectionConfig::new("ns", "n", "id").with_timing(
            Duration::from_millis(1500),
            Duration::from_secs(1),
            Duration::from_millis(100),
        );
        assert_eq!(c.lease_seconds(), 2);
    }
}

//! Pod defaulting (`pkg/apis/core/v1/defaults.go`). `default_pod_spec`
//! fills what every pod spec gets, including the templates of workloads;
//! `default_pod` adds what only a real Pod gets.

use super::container::{Container, HttpGetAction, ObjectFieldSelector, Probe};
use super::spec::{PodSecurityContext, PodSpec};
use super::status::{IpEntry, PodStatus};
use super::volume::{EmptyDirVolumeSource, Volume};

/// `/dev/termination-log`.
pub const TERMINATION_MESSAGE_PATH_DEFAULT: &str = "/dev/termination-log";
/// The scheduler pods go to when they name none.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// Seconds between SIGTERM and SIGKILL when the pod says nothing.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// 0644: the mode of files projected from ConfigMaps, Secrets and the downward API.
pub const DEFAULT_VOLUME_MODE: i32 = 0o644;

/// Defaults for a pod spec, wherever it appears (Pod, ReplicaSet and
/// Deployment templates).
pub fn default_pod_spec(spec: &mut PodSpec) {
    if spec.dns_policy.is_empty() {
        spec.dns_policy = "ClusterFirst".into();
    }
    if spec.restart_policy.is_empty() {
        spec.restart_policy = "Always".into();
    }
    if spec.security_context.is_none() {
        spec.security_context = Some(PodSecurityContext::default());
    }
    if spec.termination_grace_period_seconds.is_none() {
        spec.termination_grace_period_seconds = Some(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    }
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME.into();
    }
    // The deprecated alias and the real field mirror each other.
    if spec.service_account_name.is_empty() && !spec.service_account.is_empty() {
        spec.service_account_name = spec.service_account.clone();
    }
    for c in spec
        .init_containers
        .iter_mut()
        .chain(spec.containers.iter_mut())
    {
        default_container(c);
    }
    for v in &mut spec.volumes {
        default_volume(v);
    }
}

/// Defaults only a Pod gets (not a template): requests default to limits,
/// `enableServiceLinks: true`, host-network ports, and the singular and
/// plural IP fields of the status mirror each other.
pub fn default_pod(spec: &mut PodSpec, status: &mut PodStatus) {
    default_pod_spec(spec);
    for c in spec
        .init_containers
        .iter_mut()
        .chain(spec.containers.iter_mut())
    {
        let limits = c.resources.limits.clone();
        for (name, q) in limits {
            c.resources.requests.entry(name).or_insert(q);
        }
        if spec.host_network {
            for p in &mut c.ports {
                if p.host_port == 0 {
                    p.host_port = p.container_port;
                }
            }
        }
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    sync_ips(&mut status.pod_ip, &mut status.pod_ips);
    sync_ips(&mut status.host_ip, &mut status.host_ips);
}

/// Keep `podIP` == `podIPs[0]` (and the same for host IPs), filling
/// whichever one the writer left empty.
fn sync_ips(single: &mut String, list: &mut Vec<IpEntry>) {
    if single.is_empty() {
        if let Some(first) = list.first() {
            *single = first.ip.clone();
        }
    } else if list.is_empty() {
        list.push(IpEntry { ip: single.clone() });
    }
}

/// The pull policy Kubernetes picks when a container names none: `Always`
/// for `:latest` or an untagged image without digest, else `IfNotPresent`.
pub fn default_image_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    let tag = last_segment.split_once(':').map(|(_, t)| t);
    match (tag, digest) {
        (Some("latest"), _) => "Always",
        (None, None) if !image.is_empty() => "Always",
        _ => "IfNotPresent",
    }
}

fn default_container(c: &mut Container) {
    if c.image_pull_policy.is_empty() {
        c.image_pull_policy = default_image_pull_policy(&c.image).into();
    }
    if c.termination_message_path.is_empty() {
        c.termination_message_path = TERMINATION_MESSAGE_PATH_DEFAULT.into();
    }
    if c.termination_message_policy.is_empty() {
        c.termination_message_policy = "File".into();
    }
    for p in &mut c.ports {
        if p.protocol.is_empty() {
            p.protocol = "TCP".into();
        }
    }
    for e in &mut c.env {
        if let Some(f) = e.value_from.as_mut().and_then(|s| s.field_ref.as_mut()) {
            default_field_selector(f);
        }
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lc) = &mut c.lifecycle {
        for h in [&mut lc.post_start, &mut lc.pre_stop].into_iter().flatten() {
            if let Some(get) = &mut h.http_get {
                default_http_get(get);
            }
        }
    }
}

fn default_probe(p: &mut Probe) {
    if p.timeout_seconds == 0 {
        p.timeout_seconds = 1;
    }
    if p.period_seconds == 0 {
        p.period_seconds = 10;
    }
    if p.success_threshold == 0 {
        p.success_threshold = 1;
    }
    if p.failure_threshold == 0 {
        p.failure_threshold = 3;
    }
    if let Some(get) = &mut p.http_get {
        default_http_get(get);
    }
}

fn default_http_get(get: &mut HttpGetAction) {
    if get.path.is_empty() {
        get.path = "/".into();
    }
    if get.scheme.is_empty() {
        get.scheme = "HTTP".into();
    }
}

fn default_field_selector(f: &mut ObjectFieldSelector) {
    if f.api_version.is_empty() {
        f.api_version = "v1".into();
    }
}

fn default_volume(v: &mut Volume) {
    if v.source_names().is_empty() {
        v.empty_dir = Some(EmptyDirVolumeSource::default());
    }
    if let Some(hp) = &mut v.host_path {
        hp.type_.get_or_insert_with(String::new);
    }
    if let Some(s) = &mut v.secret {
        s.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(cm) = &mut v.config_map {
        cm.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(d) = &mut v.downward_api {
        d.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for item in &mut d.items {
            if let Some(f) = &mut item.field_ref {
                default_field_selector(f);
            }
        }
    }
    if let Some(p) = &mut v.projected {
        p.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for src in &mut p.sources {
            if let Some(d) = &mut src.downward_api {
                for item in &mut d.items {
                    if let Some(f) = &mut item.field_ref {
                        default_field_selector(f);
                    }
                }
            }
            if let Some(t) = &mut src.service_account_token {
                t.expiration_seconds.get_or_insert(3600);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(default_image_pull_policy("nginx"), "Always");
        assert_eq!(default_image_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_image_pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(
            default_image_pull_policy("localhost:5000/app"),
            "Always",
            "a registry port is not a tag"
        );
        assert_eq!(
            default_image_pull_policy("localhost:5000/app:v2"),
            "IfNotPresent"
        );
        assert_eq!(
            default_image_pull_policy("nginx@sha256:0123456789abcdef"),
            "IfNotPresent"
        );
        assert_eq!(
            default_image_pull_policy("nginx:latest@sha256:0123456789abcdef"),
            "Always"
        );
    }

    #[test]
    fn volume_without_source_becomes_empty_dir() {
        let mut spec = PodSpec {
            volumes: vec![Volume {
                name: "scratch".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        default_pod_spec(&mut spec);
        assert_eq!(
            spec.volumes[0].empty_dir,
            Some(EmptyDirVolumeSource::default())
        );
    }
}

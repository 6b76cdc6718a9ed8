//! Containers and init containers: names, images, ports, env, mounts,
//! probes, lifecycle hooks, security context, policies.

use std::collections::BTreeSet;

use super::downward::{object_field_selector, resource_field_selector, ENV_FIELD_PATHS};
use super::resources::resource_requirements;
use crate::core::pod::container::{
    Container, ContainerPort, EnvFromRef, EnvFromSource, EnvVar, ExecAction, GrpcAction,
    HttpGetAction, KeySelector, Lifecycle, LifecycleHandler, Probe, SecurityContext, SleepAction,
    TcpSocketAction, VolumeMount,
};
use crate::core::pod::spec::PodSpec;
use crate::intstr::IntOrString;
use crate::status::{FieldError, FieldErrors};
use crate::validation::{self, Raw};

const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const HTTP_SCHEMES: &[&str] = &["HTTP", "HTTPS"];
const SECCOMP_TYPES: &[&str] = &["Localhost", "RuntimeDefault", "Unconfined"];
const INIT_ONLY: &str = "may not be set for init containers without restartPolicy=Always";

/// Validate `containers` and `initContainers` of `spec` (at `path`, e.g.
/// `spec`). `volumes` are the names of the pod's valid volumes.
pub(super) fn containers(spec: &PodSpec, path: &str, volumes: &BTreeSet<&str>) -> FieldErrors {
    let mut errs = Vec::new();
    let grace = spec.termination_grace_period_seconds;
    let cpath = format!("{path}.containers");
    if spec.containers.is_empty() {
        errs.push(FieldError::required(&cpath, ""));
    }
    let mut names = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let p = format!("{cpath}[{i}]");
        errs.extend(common(c, &p, volumes));
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&format!("{p}.name"), &c.name));
        }
        errs.extend(probes_and_hooks(c, &p, grace));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                &format!("{p}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let ipath = format!("{path}.initContainers");
    for (i, c) in spec.init_containers.iter().enumerate() {
        let p = format!("{ipath}[{i}]");
        errs.extend(common(c, &p, volumes));
        let sidecar = match c.restart_policy.as_deref() {
            Some("Always") => true,
            Some(other) => {
                errs.push(FieldError::not_supported(
                    &format!("{p}.restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
            None => false,
        };
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&format!("{p}.name"), &c.name));
        }
        if sidecar {
            errs.extend(probes_and_hooks(c, &p, grace));
        } else {
            for (set, name) in [
                (c.lifecycle.is_some(), "lifecycle"),
                (c.liveness_probe.is_some(), "livenessProbe"),
                (c.readiness_probe.is_some(), "readinessProbe"),
                (c.startup_probe.is_some(), "startupProbe"),
            ] {
                if set {
                    errs.push(FieldError::forbidden(&format!("{p}.{name}"), INIT_ONLY));
                }
            }
        }
    }
    errs.extend(unique_host_ports(spec, path));
    if spec.host_network {
        errs.extend(host_network_ports(spec, path));
    }
    errs
}

/// Checks every kind of container shares.
fn common(c: &Container, p: &str, volumes: &BTreeSet<&str>) -> FieldErrors {
    let mut errs = Vec::new();
    if c.name.is_empty() {
        errs.push(FieldError::required(&format!("{p}.name"), ""));
    } else {
        errs.extend(validation::dns1123_label(&format!("{p}.name"), &c.name));
    }
    if c.image.is_empty() {
        errs.push(FieldError::required(&format!("{p}.image"), ""));
    }
    errs.extend(ports(&format!("{p}.ports"), &c.ports));
    errs.extend(env(&format!("{p}.env"), &c.env));
    errs.extend(env_from(&format!("{p}.envFrom"), &c.env_from));
    errs.extend(volume_mounts(
        &format!("{p}.volumeMounts"),
        &c.volume_mounts,
        volumes,
    ));
    errs.extend(resource_requirements(
        &format!("{p}.resources"),
        &c.resources,
    ));
    if let Some(sc) = &c.security_context {
        errs.extend(security_context(&format!("{p}.securityContext"), sc));
    }
    match c.image_pull_policy.as_str() {
        "" => errs.push(FieldError::required(&format!("{p}.imagePullPolicy"), "")),
        pp if !PULL_POLICIES.contains(&pp) => errs.push(FieldError::not_supported(
            &format!("{p}.imagePullPolicy"),
            pp,
            PULL_POLICIES,
        )),
        _ => {}
    }
    const TMP: &str = "must be 'File' or 'FallbackToLogsOnError'";
    match c.termination_message_policy.as_str() {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            &format!("{p}.terminationMessagePolicy"),
            TMP,
        )),
        other => errs.push(FieldError::invalid(
            &format!("{p}.terminationMessagePolicy"),
            other,
            TMP,
        )),
    }
    errs
}

fn ports(path: &str, ports: &[ContainerPort]) -> FieldErrors {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if !port.name.is_empty() {
            let name_errs = validation::port_name(&format!("{p}.name"), &port.name);
            if !name_errs.is_empty() {
                errs.extend(name_errs);
            } else if !names.insert(port.name.as_str()) {
                errs.push(FieldError::duplicate(&format!("{p}.name"), &port.name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&format!("{p}.containerPort"), ""));
        } else {
            errs.extend(validation::port_number(
                &format!("{p}.containerPort"),
                port.container_port,
            ));
        }
        if port.host_port != 0 {
            errs.extend(validation::port_number(
                &format!("{p}.hostPort"),
                port.host_port,
            ));
        }
        errs.extend(validation::protocol(
            &format!("{p}.protocol"),
            &port.protocol,
        ));
        if !port.host_ip.is_empty() {
            errs.extend(validation::ip_address(
                &format!("{p}.hostIP"),
                &port.host_ip,
            ));
        }
    }
    errs
}

/// A host port (per protocol and host IP) may be claimed once per pod.
fn unique_host_ports(spec: &PodSpec, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (list, i, c) in spec.all_containers() {
        for (j, port) in c.ports.iter().enumerate() {
            if port.host_port == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", port.protocol, port.host_ip, port.host_port);
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    &format!("{path}.{list}[{i}].ports[{j}].hostPort"),
                    key,
                ));
            }
        }
    }
    errs
}

/// With `hostNetwork`, a container listens on the node itself, so a host
/// port must equal the container port.
fn host_network_ports(spec: &PodSpec, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    for (list, i, c) in spec.all_containers() {
        for (j, port) in c.ports.iter().enumerate() {
            if port.host_port != 0 && port.host_port != port.container_port {
                errs.push(FieldError::invalid(
                    &format!("{path}.{list}[{i}].ports[{j}].containerPort"),
                    port.container_port,
                    "must match `hostPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errs
}

fn env(path: &str, vars: &[EnvVar]) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if ev.name.is_empty() {
            errs.push(FieldError::required(&format!("{p}.name"), ""));
        } else {
            errs.extend(validation::env_var_name(&format!("{p}.name"), &ev.name));
        }
        let Some(src) = &ev.value_from else { continue };
        let vp = format!("{p}.valueFrom");
        let mut n = 0;
        if let Some(f) = &src.field_ref {
            n += 1;
            errs.extend(object_field_selector(
                &format!("{vp}.fieldRef"),
                f,
                ENV_FIELD_PATHS,
            ));
        }
        if let Some(r) = &src.resource_field_ref {
            n += 1;
            errs.extend(resource_field_selector(
                &format!("{vp}.resourceFieldRef"),
                r,
                false,
            ));
        }
        if let Some(k) = &src.config_map_key_ref {
            n += 1;
            errs.extend(key_selector(&format!("{vp}.configMapKeyRef"), k));
        }
        if let Some(k) = &src.secret_key_ref {
            n += 1;
            errs.extend(key_selector(&format!("{vp}.secretKeyRef"), k));
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !ev.value.is_empty() {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn key_selector(path: &str, k: &KeySelector) -> FieldErrors {
    let mut errs = validation::dns1123_subdomain(&format!("{path}.name"), &k.name);
    if k.key.is_empty() {
        errs.push(FieldError::required(&format!("{path}.key"), ""));
    } else {
        errs.extend(validation::config_map_key(&format!("{path}.key"), &k.key));
    }
    errs
}

fn env_from(path: &str, sources: &[EnvFromSource]) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if !src.prefix.is_empty() {
            errs.extend(validation::env_var_name(
                &format!("{p}.prefix"),
                &src.prefix,
            ));
        }
        let refs = [
            (&src.config_map_ref, "configMapRef"),
            (&src.secret_ref, "secretRef"),
        ];
        let mut n = 0;
        for (r, name) in refs {
            if let Some(r) = r {
                n += 1;
                errs.extend(env_from_ref(&format!("{p}.{name}"), r));
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn env_from_ref(path: &str, r: &EnvFromRef) -> FieldErrors {
    if r.name.is_empty() {
        vec![FieldError::required(&format!("{path}.name"), "")]
    } else {
        validation::dns1123_subdomain(&format!("{path}.name"), &r.name)
    }
}

fn volume_mounts(path: &str, mounts: &[VolumeMount], volumes: &BTreeSet<&str>) -> FieldErrors {
    let mut errs = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if m.name.is_empty() {
            errs.push(FieldError::required(&format!("{p}.name"), ""));
        } else if !volumes.contains(m.name.as_str()) {
            errs.push(validation::not_found(&format!("{p}.name"), &m.name));
        }
        let mp = format!("{p}.mountPath");
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&mp, ""));
        } else {
            errs.extend(validation::absolute_path(&mp, &m.mount_path));
            if !mount_points.insert(m.mount_path.as_str()) {
                errs.push(FieldError::invalid(&mp, &m.mount_path, "must be unique"));
            }
        }
        if !m.sub_path.is_empty() {
            errs.extend(validation::local_descending_path(
                &format!("{p}.subPath"),
                &m.sub_path,
            ));
        }
        if !m.sub_path_expr.is_empty() {
            if !m.sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &format!("{p}.subPathExpr"),
                    &m.sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validation::local_descending_path(
                &format!("{p}.subPathExpr"),
                &m.sub_path_expr,
            ));
        }
        if let Some(mode) = &m.mount_propagation {
            const MODES: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !MODES.contains(&mode.as_str()) {
                errs.push(FieldError::not_supported(
                    &format!("{p}.mountPropagation"),
                    mode,
                    MODES,
                ));
            }
        }
    }
    errs
}

/// Probes (numbers and handler) and lifecycle hooks of a container that
/// may have them.
fn probes_and_hooks(c: &Container, p: &str, grace: Option<i64>) -> FieldErrors {
    let mut errs = Vec::new();
    if let Some(lc) = &c.lifecycle {
        errs.extend(lifecycle(&format!("{p}.lifecycle"), lc, grace));
    }
    for (probe, name) in [
        (&c.liveness_probe, "livenessProbe"),
        (&c.readiness_probe, "readinessProbe"),
        (&c.startup_probe, "startupProbe"),
    ] {
        let Some(probe) = probe else { continue };
        let pp = format!("{p}.{name}");
        errs.extend(probe_fields(&pp, probe));
        if name == "readinessProbe" {
            if let Some(t) = probe.termination_grace_period_seconds {
                errs.push(FieldError::invalid(
                    &format!("{pp}.terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        } else if probe.success_threshold != 1 {
            errs.push(FieldError::invalid(
                &format!("{pp}.successThreshold"),
                probe.success_threshold,
                "must be 1",
            ));
        }
    }
    errs
}

fn probe_fields(p: &str, probe: &Probe) -> FieldErrors {
    let handler = Handler {
        exec: probe.exec.as_ref(),
        http_get: probe.http_get.as_ref(),
        tcp_socket: probe.tcp_socket.as_ref(),
        grpc: probe.grpc.as_ref(),
        sleep: None,
    };
    let mut errs = handler.validate(p, None);
    for (v, name) in [
        (probe.initial_delay_seconds, "initialDelaySeconds"),
        (probe.timeout_seconds, "timeoutSeconds"),
        (probe.period_seconds, "periodSeconds"),
        (probe.success_threshold, "successThreshold"),
        (probe.failure_threshold, "failureThreshold"),
    ] {
        errs.extend(validation::non_negative(&format!("{p}.{name}"), v.into()));
    }
    if let Some(t) = probe.termination_grace_period_seconds {
        errs.extend(validation::positive(
            &format!("{p}.terminationGracePeriodSeconds"),
            t,
        ));
    }
    errs
}

fn lifecycle(p: &str, lc: &Lifecycle, grace: Option<i64>) -> FieldErrors {
    let mut errs = Vec::new();
    for (h, name) in [(&lc.post_start, "postStart"), (&lc.pre_stop, "preStop")] {
        if let Some(h) = h {
            errs.extend(Handler::from_lifecycle(h).validate(&format!("{p}.{name}"), grace));
        }
    }
    errs
}

/// The handler fields probes and lifecycle hooks share; exactly one set.
struct Handler<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HttpGetAction>,
    tcp_socket: Option<&'a TcpSocketAction>,
    grpc: Option<&'a GrpcAction>,
    sleep: Option<&'a SleepAction>,
}

impl<'a> Handler<'a> {
    fn from_lifecycle(h: &'a LifecycleHandler) -> Self {
        Handler {
            exec: h.exec.as_ref(),
            http_get: h.http_get.as_ref(),
            tcp_socket: h.tcp_socket.as_ref(),
            grpc: None,
            sleep: h.sleep.as_ref(),
        }
    }

    fn validate(&self, p: &str, grace: Option<i64>) -> FieldErrors {
        let mut errs = Vec::new();
        let mut n = 0;
        let mut one = |set: bool, name: &str, check: &dyn Fn(&str) -> FieldErrors| {
            if !set {
                return;
            }
            let f = format!("{p}.{name}");
            if n > 0 {
                errs.push(FieldError::forbidden(
                    &f,
                    "may not specify more than 1 handler type",
                ));
            } else {
                n += 1;
                errs.extend(check(&f));
            }
        };
        one(self.exec.is_some(), "exec", &|f| match self.exec {
            Some(e) if e.command.is_empty() => {
                vec![FieldError::required(&format!("{f}.command"), "")]
            }
            _ => Vec::new(),
        });
        one(self.http_get.is_some(), "httpGet", &|f| {
            self.http_get.map(|g| http_get(f, g)).unwrap_or_default()
        });
        one(self.tcp_socket.is_some(), "tcpSocket", &|f| {
            self.tcp_socket
                .map(|t| validation::port_num_or_name(&format!("{f}.port"), &t.port))
                .unwrap_or_default()
        });
        one(self.grpc.is_some(), "grpc", &|f| {
            self.grpc
                .map(|g| {
                    validation::port_num_or_name(&format!("{f}.port"), &IntOrString::Int(g.port))
                })
                .unwrap_or_default()
        });
        one(
            self.sleep.is_some(),
            "sleep",
            &|f| match (self.sleep, grace) {
                (Some(s), Some(g)) if s.seconds < 0 || s.seconds > g => vec![FieldError::invalid(
                    f,
                    s.seconds,
                    &format!(
                        "must be non-negative and less than terminationGracePeriodSeconds ({g})"
                    ),
                )],
                _ => Vec::new(),
            },
        );
        if n == 0 {
            errs.push(FieldError::required(p, "must specify a handler type"));
        }
        errs
    }
}

fn http_get(f: &str, g: &HttpGetAction) -> FieldErrors {
    let mut errs = Vec::new();
    if g.path.is_empty() {
        errs.push(FieldError::required(&format!("{f}.path"), ""));
    }
    errs.extend(validation::port_num_or_name(&format!("{f}.port"), &g.port));
    if !HTTP_SCHEMES.contains(&g.scheme.as_str()) {
        errs.push(FieldError::not_supported(
            &format!("{f}.scheme"),
            &g.scheme,
            HTTP_SCHEMES,
        ));
    }
    for h in &g.http_headers {
        errs.extend(validation::http_header_name(
            &format!("{f}.httpHeaders"),
            &h.name,
        ));
    }
    errs
}

/// User and group IDs: 0..=2147483647.
pub(super) fn id(field: &str, v: Option<i64>) -> FieldErrors {
    v.map(|v| validation::in_range(field, v, 0, i32::MAX.into()))
        .unwrap_or_default()
}

fn security_context(p: &str, sc: &SecurityContext) -> FieldErrors {
    let mut errs = id(&format!("{p}.runAsUser"), sc.run_as_user);
    errs.extend(id(&format!("{p}.runAsGroup"), sc.run_as_group));
    if let Some(pm) = &sc.proc_mount {
        const PM: &[&str] = &["Default", "Unmasked"];
        if !PM.contains(&pm.as_str()) {
            errs.push(FieldError::not_supported(&format!("{p}.procMount"), pm, PM));
        }
    }
    if let Some(sp) = &sc.seccomp_profile {
        errs.extend(seccomp_profile(
            &format!("{p}.seccompProfile"),
            &sp.type_,
            sp.localhost_profile.as_deref(),
        ));
    }
    if sc.allow_privilege_escalation == Some(false) {
        let shown = || Raw(serde_json::to_string(sc).unwrap_or_default());
        if sc.privileged == Some(true) {
            errs.push(FieldError::invalid(
                p,
                shown(),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let adds_sys_admin = sc
            .capabilities
            .as_ref()
            .is_some_and(|c| c.add.iter().any(|a| a == "CAP_SYS_ADMIN"));
        if adds_sys_admin {
            errs.push(FieldError::invalid(
                p,
                shown(),
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
    errs
}

/// A seccomp profile: a known type, and a local profile path iff `Localhost`.
pub(super) fn seccomp_profile(p: &str, type_: &str, localhost: Option<&str>) -> FieldErrors {
    let mut errs = Vec::new();
    let tp = format!("{p}.type");
    if type_.is_empty() {
        errs.push(FieldError::required(
            &tp,
            "type is required when seccompProfile is set",
        ));
    } else if !SECCOMP_TYPES.contains(&type_) {
        errs.push(FieldError::not_supported(&tp, type_, SECCOMP_TYPES));
    }
    let lp = format!("{p}.localhostProfile");
    match (type_ == "Localhost", localhost) {
        (true, None) => errs.push(FieldError::required(
            &lp,
            "must be set when seccomp type is Localhost",
        )),
        (true, Some(path)) => errs.extend(validation::local_descending_path(&lp, path)),
        (false, Some(path)) => errs.push(FieldError::invalid(
            &lp,
            path,
            "can only be set when seccomp type is Localhost",
        )),
        (false, None) => {}
    }
    errs
}

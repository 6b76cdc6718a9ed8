//! Pod spec validation (`ValidatePodSpec` and friends upstream), shared by
//! Pods and the pod templates of ReplicaSets and Deployments.

mod container;
mod downward;
mod resources;
mod scheduling;
mod update;
mod volume;

pub use update::validate_pod_spec_update;

use super::spec::{PodDnsConfig, PodSecurityContext, PodSpec, PodTemplateSpec};
use crate::status::{FieldError, FieldErrors};
use crate::validation;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

/// Validate a pod spec found at `path` (`spec`, or
/// `spec.template.spec` in a workload). Run after defaulting: fields the
/// defaulters fill (restartPolicy, dnsPolicy, imagePullPolicy, ...) are
/// required here.
pub fn validate_pod_spec(spec: &PodSpec, path: &str) -> FieldErrors {
    let (mut errs, volumes) = volume::volumes(&format!("{path}.volumes"), &spec.volumes);
    errs.extend(container::containers(spec, path, &volumes));
    let rp = format!("{path}.restartPolicy");
    match spec.restart_policy.as_str() {
        "" => errs.push(FieldError::required(&rp, "")),
        p if !RESTART_POLICIES.contains(&p) => {
            errs.push(FieldError::not_supported(&rp, p, RESTART_POLICIES))
        }
        _ => {}
    }
    let dp = format!("{path}.dnsPolicy");
    match spec.dns_policy.as_str() {
        "" => errs.push(FieldError::required(&dp, "")),
        p if !DNS_POLICIES.contains(&p) => {
            errs.push(FieldError::not_supported(&dp, p, DNS_POLICIES))
        }
        _ => {}
    }
    errs.extend(validation::labels(
        &format!("{path}.nodeSelector"),
        &spec.node_selector,
    ));
    if let Some(sc) = &spec.security_context {
        errs.extend(pod_security_context(&format!("{path}.securityContext"), sc));
    }
    if let Some(a) = &spec.affinity {
        errs.extend(scheduling::affinity(&format!("{path}.affinity"), a));
    }
    errs.extend(dns_config(
        &format!("{path}.dnsConfig"),
        spec.dns_config.as_ref(),
        &spec.dns_policy,
    ));
    for (i, g) in spec.readiness_gates.iter().enumerate() {
        errs.extend(validation::qualified_name(
            &format!("{path}.readinessGates[{i}].conditionType"),
            &g.condition_type,
        ));
    }
    errs.extend(scheduling::topology_spread(
        &format!("{path}.topologySpreadConstraints"),
        &spec.topology_spread_constraints,
    ));
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ] {
        if !value.is_empty() {
            errs.extend(validation::dns1123_subdomain(
                &format!("{path}.{field}"),
                value,
            ));
        }
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        errs.extend(validation::non_negative(
            &format!("{path}.terminationGracePeriodSeconds"),
            g,
        ));
    }
    if let Some(d) = spec.active_deadline_seconds {
        errs.extend(validation::in_range(
            &format!("{path}.activeDeadlineSeconds"),
            d,
            1,
            i32::MAX.into(),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if !value.is_empty() {
            errs.extend(validation::dns1123_label(&format!("{path}.{field}"), value));
        }
    }
    errs.extend(scheduling::tolerations(
        &format!("{path}.tolerations"),
        &spec.tolerations,
    ));
    for (i, ha) in spec.host_aliases.iter().enumerate() {
        let p = format!("{path}.hostAliases[{i}]");
        errs.extend(validation::ip_address(&format!("{p}.ip"), &ha.ip));
        for (j, h) in ha.hostnames.iter().enumerate() {
            errs.extend(validation::dns1123_subdomain(
                &format!("{p}.hostnames[{j}]"),
                h,
            ));
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        const PP: &[&str] = &["Never", "PreemptLowerPriority"];
        if !PP.contains(&pp.as_str()) {
            errs.push(FieldError::not_supported(
                &format!("{path}.preemptionPolicy"),
                pp,
                PP,
            ));
        }
    }
    if let Some(os) = &spec.os {
        const OS: &[&str] = &["linux", "windows"];
        if !OS.contains(&os.name.as_str()) {
            errs.push(FieldError::not_supported(
                &format!("{path}.os.name"),
                &os.name,
                OS,
            ));
        }
    }
    errs
}

/// Validate a pod template at `path` (`spec.template`): its labels and
/// annotations, then its spec.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &str) -> FieldErrors {
    let mut errs = validation::labels(
        &format!("{path}.metadata.labels"),
        &template.metadata.labels,
    );
    errs.extend(validation::annotations(
        &format!("{path}.metadata.annotations"),
        &template.metadata.annotations,
    ));
    errs.extend(validate_pod_spec(&template.spec, &format!("{path}.spec")));
    errs
}

fn pod_security_context(p: &str, sc: &PodSecurityContext) -> FieldErrors {
    let mut errs = container::id(&format!("{p}.runAsUser"), sc.run_as_user);
    errs.extend(container::id(&format!("{p}.runAsGroup"), sc.run_as_group));
    errs.extend(container::id(&format!("{p}.fsGroup"), sc.fs_group));
    for (i, g) in sc.supplemental_groups.iter().enumerate() {
        errs.extend(container::id(
            &format!("{p}.supplementalGroups[{i}]"),
            Some(*g),
        ));
    }
    for (i, s) in sc.sysctls.iter().enumerate() {
        let valid = !s.name.is_empty()
            && s.name.len() <= 253
            && s.name.split(['.', '/']).all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            });
        if !valid {
            errs.push(FieldError::invalid(
                &format!("{p}.sysctls[{i}].name"),
                &s.name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        }
    }
    if let Some(sp) = &sc.seccomp_profile {
        errs.extend(container::seccomp_profile(
            &format!("{p}.seccompProfile"),
            &sp.type_,
            sp.localhost_profile.as_deref(),
        ));
    }
    errs
}

fn dns_config(p: &str, cfg: Option<&PodDnsConfig>, policy: &str) -> FieldErrors {
    let mut errs = Vec::new();
    if policy == "None" {
        match cfg {
            None => {
                return vec![FieldError::required(
                    p,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )]
            }
            Some(c) if c.nameservers.is_empty() => {
                return vec![FieldError::required(
                    &format!("{p}.nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )]
            }
            Some(_) => {}
        }
    }
    let Some(cfg) = cfg else { return errs };
    if cfg.nameservers.len() > 3 {
        errs.push(FieldError::invalid(
            &format!("{p}.nameservers"),
            &cfg.nameservers,
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in cfg.nameservers.iter().enumerate() {
        errs.extend(validation::ip_address(&format!("{p}.nameservers[{i}]"), ns));
    }
    if cfg.searches.len() > 32 {
        errs.push(FieldError::invalid(
            &format!("{p}.searches"),
            &cfg.searches,
            "must not have more than 32 search paths",
        ));
    }
    for (i, s) in cfg.searches.iter().enumerate() {
        if s != "." {
            errs.extend(validation::dns1123_subdomain(
                &format!("{p}.searches[{i}]"),
                s.trim_end_matches('.'),
            ));
        }
    }
    for (i, o) in cfg.options.iter().enumerate() {
        if o.name.is_empty() {
            errs.push(FieldError::required(
                &format!("{p}.options[{i}]"),
                "must not be empty",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::core::pod::fixtures::{lines, web_pod};
    use crate::core::pod::*;
    use crate::intstr::IntOrString;
    use crate::quantity::Quantity;
    use crate::strategy::Strategy;

    /// Apply `change` to the valid pod and return its validation lines.
    fn check(change: impl FnOnce(&mut Pod)) -> Vec<String> {
        let mut pod = web_pod();
        change(&mut pod);
        lines(&pod.validate())
    }

    fn one(change: impl FnOnce(&mut Pod)) -> String {
        let l = check(change);
        assert_eq!(l.len(), 1, "expected exactly one error, got {l:#?}");
        l[0].clone()
    }

    #[test]
    fn fixture_is_valid() {
        assert_eq!(lines(&web_pod().validate()), Vec::<String>::new());
    }

    #[test]
    fn containers_are_required() {
        assert_eq!(
            one(|p| p.spec.containers.clear()),
            "spec.containers: Required value"
        );
    }

    #[test]
    fn container_names_are_unique_across_init_and_regular() {
        assert_eq!(
            one(|p| {
                let mut init = p.spec.containers[0].clone();
                init.ports.clear();
                init.volume_mounts.clear();
                p.spec.init_containers.push(init);
            }),
            r#"spec.initContainers[0].name: Duplicate value: "web""#
        );
        assert_eq!(
            one(|p| {
                let mut second = p.spec.containers[0].clone();
                second.ports.clear();
                p.spec.containers.push(second);
            }),
            r#"spec.containers[1].name: Duplicate value: "web""#
        );
    }

    #[test]
    fn container_name_and_image() {
        assert!(
            one(|p| p.spec.containers[0].name = "Web_1".into()).starts_with(
                r#"spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label"#
            )
        );
        assert_eq!(
            one(|p| p.spec.containers[0].image.clear()),
            "spec.containers[0].image: Required value"
        );
    }

    #[test]
    fn container_ports() {
        assert_eq!(
            one(|p| p.spec.containers[0].ports[0].container_port = 0),
            "spec.containers[0].ports[0].containerPort: Required value"
        );
        assert_eq!(
            one(|p| p.spec.containers[0].ports[0].container_port = 70000),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            one(|p| p.spec.containers[0].ports[0].host_port = 70000),
            "spec.containers[0].ports[0].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            one(|p| p.spec.containers[0].ports[0].protocol = "HTTP".into()),
            r#"spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#
        );
        assert_eq!(
            one(|p| p.spec.containers[0].ports[0].name = "http-port-number-one".into()),
            r#"spec.containers[0].ports[0].name: Invalid value: "http-port-number-one": must be no more than 15 characters"#
        );
        assert_eq!(
            one(|p| {
                let mut dup = p.spec.containers[0].ports[0].clone();
                dup.container_port = 8080;
                p.spec.containers[0].ports.push(dup);
            }),
            r#"spec.containers[0].ports[1].name: Duplicate value: "http""#
        );
    }

    #[test]
    fn env_vars() {
        assert!(one(|p| p.spec.containers[0].env[0].name = "1MODE".into())
            .starts_with(r#"spec.containers[0].env[0].name: Invalid value: "1MODE": a valid environment variable name"#));
        assert_eq!(
            one(|p| {
                p.spec.containers[0].env[0].value_from = Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: "v1".into(),
                        field_path: "metadata.name".into(),
                    }),
                    ..Default::default()
                })
            }),
            r#"spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty"#
        );
        assert_eq!(
            one(|p| {
                let e = &mut p.spec.containers[0].env[0];
                e.value.clear();
                e.value_from = Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: "v1".into(),
                        field_path: "spec.containers".into(),
                    }),
                    ..Default::default()
                });
            }),
            r#"spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.containers": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs""#
        );
    }

    #[test]
    fn volumes_and_mounts() {
        assert!(one(|p| {
            p.spec.volumes[0].name = "Data".into();
            p.spec.containers[0].volume_mounts.clear();
        })
        .starts_with(r#"spec.volumes[0].name: Invalid value: "Data""#));
        assert_eq!(
            one(|p| {
                let v = p.spec.volumes[0].clone();
                p.spec.volumes.push(v);
            }),
            r#"spec.volumes[1].name: Duplicate value: "data""#
        );
        assert_eq!(
            check(|p| {
                p.spec.volumes[0].host_path = Some(HostPathVolumeSource {
                    path: "/srv".into(),
                    type_: Some(String::new()),
                })
            })[0],
            "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"
        );
        assert_eq!(
            check(|p| p.spec.volumes[0].empty_dir = None)[0],
            "spec.volumes[0]: Required value: must specify a volume type"
        );
        assert_eq!(
            one(|p| p.spec.containers[0].volume_mounts[0].name = "logs".into()),
            r#"spec.containers[0].volumeMounts[0].name: Not found: "logs""#
        );
        assert_eq!(
            one(|p| p.spec.containers[0].volume_mounts[0].mount_path.clear()),
            "spec.containers[0].volumeMounts[0].mountPath: Required value"
        );
        assert_eq!(
            one(|p| p.spec.containers[0].volume_mounts[0].mount_path = "data".into()),
            r#"spec.containers[0].volumeMounts[0].mountPath: Invalid value: "data": must be an absolute path"#
        );
    }

    #[test]
    fn host_path_volumes() {
        fn host(path: &str) -> impl FnOnce(&mut Pod) + '_ {
            move |p: &mut Pod| {
                p.spec.volumes[0].empty_dir = None;
                p.spec.volumes[0].host_path = Some(HostPathVolumeSource {
                    path: path.into(),
                    type_: Some(String::new()),
                });
            }
        }
        assert_eq!(check(host("/var/log")), Vec::<String>::new());
        // An invalid volume cannot be mounted either, as upstream reports.
        assert_eq!(
            check(host("/var/../etc")),
            vec![
                r#"spec.volumes[0].hostPath.path: Invalid value: "/var/../etc": must not contain '..'"#,
                r#"spec.containers[0].volumeMounts[0].name: Not found: "data""#,
            ]
        );
        assert_eq!(
            check(host("var/log"))[0],
            r#"spec.volumes[0].hostPath.path: Invalid value: "var/log": must be an absolute path"#
        );
        assert_eq!(
            check(|p| {
                host("/srv")(p);
                p.spec.volumes[0].host_path.as_mut().unwrap().type_ = Some("Dir".into());
            })[0],
            r#"spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket""#
        );
    }

    #[test]
    fn pod_level_policies() {
        assert_eq!(
            one(|p| p.spec.restart_policy = "Sometimes".into()),
            r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#
        );
        assert_eq!(
            one(|p| p.spec.dns_policy = "Google".into()),
            r#"spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None""#
        );
        assert_eq!(
            one(|p| p.spec.termination_grace_period_seconds = Some(-1)),
            "spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            one(|p| p.spec.active_deadline_seconds = Some(0)),
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"
        );
        assert!(one(|p| {
            p.spec
                .node_selector
                .insert("disk".into(), "fast ssd".into());
        })
        .starts_with(r#"spec.nodeSelector: Invalid value: "fast ssd": a valid label must be"#));
    }

    #[test]
    fn resources() {
        let set = |req: &str, lim: &str| {
            let (req, lim) = (req.to_string(), lim.to_string());
            move |p: &mut Pod| {
                let r = &mut p.spec.containers[0].resources;
                r.requests.insert("cpu".into(), Quantity(req));
                r.limits.insert("cpu".into(), Quantity(lim));
            }
        };
        assert_eq!(check(set("250m", "0.5")), Vec::<String>::new());
        assert_eq!(
            one(set("2", "1")),
            r#"spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1"#
        );
        assert!(one(set("1", "lots")).starts_with(
            r#"spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular expression"#
        ));
        assert_eq!(
            one(set("-1", "1")),
            r#"spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0"#
        );
        assert_eq!(
            one(|p| {
                p.spec.containers[0]
                    .resources
                    .limits
                    .insert("gpu".into(), Quantity("1".into()));
            }),
            r#"spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers"#
        );
    }

    #[test]
    fn probes() {
        fn probe(p: &mut Pod) -> &mut Probe {
            p.spec.containers[0].liveness_probe = Some(Probe {
                http_get: Some(HttpGetAction {
                    path: "/".into(),
                    port: IntOrString::String("http".into()),
                    scheme: "HTTP".into(),
                    ..Default::default()
                }),
                timeout_seconds: 1,
                period_seconds: 10,
                success_threshold: 1,
                failure_threshold: 3,
                ..Default::default()
            });
            p.spec.containers[0].liveness_probe.as_mut().unwrap()
        }
        assert_eq!(
            check(|p| {
                probe(p);
            }),
            Vec::<String>::new()
        );
        assert_eq!(
            one(|p| probe(p).period_seconds = -5),
            "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -5: must be greater than or equal to 0"
        );
        assert_eq!(
            one(|p| probe(p).success_threshold = 2),
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"
        );
        assert_eq!(
            one(|p| probe(p).http_get = None),
            "spec.containers[0].livenessProbe: Required value: must specify a handler type"
        );
        assert_eq!(
            one(|p| {
                probe(p).exec = Some(ExecAction {
                    command: vec!["true".into()],
                })
            }),
            "spec.containers[0].livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type"
        );
        assert_eq!(
            one(|p| probe(p).http_get.as_mut().unwrap().port = IntOrString::Int(0)),
            "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive"
        );
    }

    #[test]
    fn init_containers_may_not_have_probes() {
        assert_eq!(
            one(|p| {
                p.spec.init_containers.push(Container {
                    name: "setup".into(),
                    image: "busybox:1.36".into(),
                    image_pull_policy: "IfNotPresent".into(),
                    termination_message_policy: "File".into(),
                    readiness_probe: Some(Probe {
                        exec: Some(ExecAction {
                            command: vec!["true".into()],
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            }),
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"
        );
    }

    #[test]
    fn tolerations() {
        fn tol(t: Toleration) -> impl FnOnce(&mut Pod) {
            move |p: &mut Pod| p.spec.tolerations.push(t)
        }
        assert_eq!(
            check(tol(Toleration {
                key: "node.kubernetes.io/unreachable".into(),
                operator: "Exists".into(),
                effect: "NoExecute".into(),
                toleration_seconds: Some(300),
                ..Default::default()
            })),
            Vec::<String>::new()
        );
        assert_eq!(
            one(tol(Toleration {
                key: "dedicated".into(),
                operator: "In".into(),
                ..Default::default()
            })),
            r#"spec.tolerations[0].operator: Unsupported value: "In": supported values: "Equal", "Exists""#
        );
        assert_eq!(
            one(tol(Toleration {
                key: "dedicated".into(),
                value: "gpu".into(),
                effect: "NoWay".into(),
                ..Default::default()
            })),
            r#"spec.tolerations[0].effect: Unsupported value: "NoWay": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#
        );
        assert_eq!(
            one(tol(Toleration {
                key: "dedicated".into(),
                operator: "Exists".into(),
                value: "gpu".into(),
                ..Default::default()
            })),
            r#"spec.tolerations[0].operator: Invalid value: "gpu": value must be empty when `operator` is 'Exists'"#
        );
        assert_eq!(
            one(tol(Toleration {
                operator: "Equal".into(),
                ..Default::default()
            })),
            r#"spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys""#
        );
    }

    #[test]
    fn host_network_ports_must_match() {
        assert_eq!(
            one(|p| {
                p.spec.host_network = true;
                p.spec.containers[0].ports[0].host_port = 8080;
            }),
            "spec.containers[0].ports[0].containerPort: Invalid value: 80: must match `hostPort` when `hostNetwork` is true"
        );
    }

    #[test]
    fn node_affinity() {
        assert_eq!(
            one(|p| {
                p.spec.affinity = Some(Affinity {
                    node_affinity: Some(NodeAffinity {
                        required_during_scheduling_ignored_during_execution: Some(
                            NodeSelector {
                                node_selector_terms: vec![NodeSelectorTerm {
                                    match_expressions: vec![NodeSelectorRequirement {
                                        key: "zone".into(),
                                        operator: "In".into(),
                                        values: vec![],
                                    }],
                                    ..Default::default()
                                }],
                            },
                        ),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            }),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
    }
}

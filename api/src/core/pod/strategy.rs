//! The Pod registry strategy (`pkg/registry/core/pod/strategy.go`).

use super::defaults::default_pod;
use super::qos::pod_qos_class;
use super::status::PodStatus;
use super::validation::{validate_pod_spec, validate_pod_spec_update};
use super::Pod;
use crate::status::FieldErrors;
use crate::strategy::Strategy;
use crate::validation;

impl Strategy for Pod {
    const HAS_STATUS_SUBRESOURCE: bool = true;
    const HAS_GENERATION: bool = true;

    fn apply_defaults(&mut self) {
        default_pod(&mut self.spec, &mut self.status);
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_pod_spec(&self.spec, "spec"));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_pod_spec(&self.spec, "spec"));
        errs.extend(validate_pod_spec_update(&self.spec, &old.spec));
        errs.extend(validate_status_ips(&self.status));
        errs
    }

    /// A new pod starts `Pending` with its QoS class; whatever status the
    /// client sent is dropped.
    fn prepare_for_create(&mut self) {
        self.status = PodStatus {
            phase: "Pending".into(),
            qos_class: pod_qos_class(&self.spec).into(),
            ..Default::default()
        };
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    crate::status_update_from_status_field!();

    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }

    fn field_value(&self, path: &str) -> Option<String> {
        let s = &self.spec;
        Some(match path {
            "spec.nodeName" => s.node_name.clone(),
            "spec.schedulerName" => s.scheduler_name.clone(),
            "spec.restartPolicy" => s.restart_policy.clone(),
            "spec.serviceAccountName" => s.service_account_name.clone(),
            "spec.hostNetwork" => s.host_network.to_string(),
            "status.phase" => self.status.phase.clone(),
            "status.podIP" => self
                .status
                .pod_ips
                .first()
                .map(|ip| ip.ip.clone())
                .unwrap_or_else(|| self.status.pod_ip.clone()),
            "status.nominatedNodeName" => self.status.nominated_node_name.clone(),
            _ => return None,
        })
    }
}

/// The addresses a kubelet reports must be IPs.
fn validate_status_ips(status: &PodStatus) -> FieldErrors {
    let mut errs = Vec::new();
    for (list, name) in [(&status.pod_ips, "podIPs"), (&status.host_ips, "hostIPs")] {
        for (i, ip) in list.iter().enumerate() {
            errs.extend(validation::ip_address(
                &format!("status.{name}[{i}].ip"),
                &ip.ip,
            ));
        }
    }
    if !status.nominated_node_name.is_empty() {
        errs.extend(validation::dns1123_subdomain(
            "status.nominatedNodeName",
            &status.nominated_node_name,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pod::fixtures::{lines, pod_from_yaml, web_pod};
    use crate::core::pod::Toleration;

    #[test]
    fn pod_defaults() {
        let pod = pod_from_yaml(
            r#"
metadata: {name: p, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: a
    image: registry.local:5000/app
    ports: [{containerPort: 9100}]
    resources:
      limits: {cpu: "1", memory: 1Gi}
      requests: {cpu: 500m}
  - name: b
    image: busybox:latest
"#,
        );
        let s = &pod.spec;
        assert_eq!(s.enable_service_links, Some(true));
        assert_eq!(s.restart_policy, "Always");
        assert_eq!(s.dns_policy, "ClusterFirst");
        assert_eq!(s.scheduler_name, "default-scheduler");
        assert_eq!(s.termination_grace_period_seconds, Some(30));
        let a = &s.containers[0];
        assert_eq!(a.image_pull_policy, "Always", "no tag means :latest");
        assert_eq!(s.containers[1].image_pull_policy, "Always");
        assert_eq!(
            a.ports[0].host_port, 9100,
            "host network: hostPort = containerPort"
        );
        assert_eq!(a.ports[0].protocol, "TCP");
        assert_eq!(
            a.resources.requests["cpu"].0, "500m",
            "explicit request kept"
        );
        assert_eq!(
            a.resources.requests["memory"].0, "1Gi",
            "request defaults to limit"
        );
        assert_eq!(lines(&pod.validate()), Vec::<String>::new());
    }

    #[test]
    fn create_resets_status_to_pending_with_qos() {
        let mut pod = web_pod();
        pod.status.phase = "Running".into();
        pod.status.pod_ip = "10.0.0.9".into();
        pod.prepare_for_create();
        assert_eq!(pod.status.phase, "Pending");
        assert_eq!(pod.status.qos_class, "BestEffort");
        assert_eq!(pod.status.pod_ip, "");
        let v = serde_json::to_value(&pod).unwrap();
        assert_eq!(
            v["status"],
            serde_json::json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
    }

    #[test]
    fn update_keeps_status_and_status_update_keeps_spec() {
        let mut old = web_pod();
        old.status.phase = "Running".into();

        let mut new = old.clone();
        new.metadata.labels.insert("tier".into(), "fe".into());
        new.status.phase = "Failed".into();
        new.prepare_for_update(&old);
        assert_eq!(new.status.phase, "Running");
        assert!(!new.spec_changed(&old));

        let mut report = old.clone();
        report.spec.containers[0].image = "evil:1".into();
        report.status.phase = "Succeeded".into();
        report.status.pod_ip = "10.244.1.5".into();
        let stored = report.status_update(&old);
        assert_eq!(stored.status.phase, "Succeeded");
        assert_eq!(
            stored.status.pod_ips[0].ip, "10.244.1.5",
            "podIPs follows podIP"
        );
        assert_eq!(stored.spec.containers[0].image, "nginx:1.27");
    }

    #[test]
    fn image_may_change_other_fields_may_not() {
        let old = web_pod();
        let mut new = old.clone();
        new.spec.containers[0].image = "nginx:1.28".into();
        assert_eq!(lines(&new.validate_update(&old)), Vec::<String>::new());
        assert!(new.spec_changed(&old));

        let mut moved = old.clone();
        moved.spec.node_name = "node-2".into();
        let errs = moved.validate_update(&old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec");
        let msg = errs[0].to_string();
        assert!(
            msg.starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"),
            "{msg}"
        );
        assert!(msg.contains("+ spec.nodeName: \"node-2\""), "{msg}");

        let mut grown = old.clone();
        grown.spec.containers.push(grown.spec.containers[0].clone());
        grown.spec.containers[1].name = "sidecar".into();
        grown.spec.containers[1].ports.clear();
        assert_eq!(
            lines(&grown.validate_update(&old)),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
    }

    #[test]
    fn active_deadline_may_only_shrink() {
        let mut old = web_pod();
        old.spec.active_deadline_seconds = Some(100);
        let mut new = old.clone();
        new.spec.active_deadline_seconds = Some(50);
        assert_eq!(lines(&new.validate_update(&old)), Vec::<String>::new());
        new.spec.active_deadline_seconds = Some(200);
        assert_eq!(
            lines(&new.validate_update(&old)),
            vec!["spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"]
        );
        new.spec.active_deadline_seconds = None;
        assert_eq!(
            lines(&new.validate_update(&old)),
            vec!["spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"]
        );
        let unset = web_pod();
        let mut set = unset.clone();
        set.spec.active_deadline_seconds = Some(30);
        assert_eq!(lines(&set.validate_update(&unset)), Vec::<String>::new());
    }

    #[test]
    fn tolerations_may_only_be_added() {
        let mut old = web_pod();
        let t = Toleration {
            key: "node.kubernetes.io/not-ready".into(),
            operator: "Exists".into(),
            effect: "NoExecute".into(),
            toleration_seconds: Some(300),
            ..Default::default()
        };
        old.spec.tolerations.push(t.clone());
        let mut added = old.clone();
        added.spec.tolerations.push(Toleration {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
        assert_eq!(lines(&added.validate_update(&old)), Vec::<String>::new());
        let mut removed = old.clone();
        removed.spec.tolerations.clear();
        assert_eq!(
            lines(&removed.validate_update(&old)),
            vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]
        );
    }

    #[test]
    fn field_selectors() {
        let mut pod = web_pod();
        pod.spec.node_name = "node-1".into();
        pod.status.phase = "Running".into();
        pod.status.pod_ip = "10.244.1.5".into();
        pod.apply_defaults();
        assert_eq!(
            pod.status.pod_ips[0].ip, "10.244.1.5",
            "podIPs mirrors podIP"
        );
        assert_eq!(pod.field_value("spec.nodeName").as_deref(), Some("node-1"));
        assert_eq!(pod.field_value("status.phase").as_deref(), Some("Running"));
        assert_eq!(
            pod.field_value("status.podIP").as_deref(),
            Some("10.244.1.5")
        );
        assert_eq!(
            pod.field_value("spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert_eq!(
            pod.field_value("spec.schedulerName").as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(
            pod.field_value("spec.restartPolicy").as_deref(),
            Some("Always")
        );
        assert_eq!(
            pod.field_value("spec.serviceAccountName").as_deref(),
            Some("")
        );
        assert_eq!(
            pod.field_value("status.nominatedNodeName").as_deref(),
            Some("")
        );
        assert_eq!(pod.field_value("spec.containers"), None);
    }

    #[test]
    fn full_status_round_trips() {
        let pod = pod_from_yaml(
            r#"
metadata: {name: p, namespace: default}
spec:
  containers: [{name: a, image: busybox}]
status:
  phase: Running
  hostIP: 192.168.1.10
  hostIPs: [{ip: 192.168.1.10}]
  podIP: 10.244.1.5
  podIPs: [{ip: 10.244.1.5}]
  startTime: "2024-05-01T10:00:00Z"
  qosClass: BestEffort
  conditions:
  - {type: Ready, status: "True", lastProbeTime: null, lastTransitionTime: "2024-05-01T10:00:05Z"}
  containerStatuses:
  - name: a
    ready: true
    restartCount: 1
    started: true
    image: docker.io/library/busybox:latest
    imageID: docker.io/library/busybox@sha256:abc
    containerID: runc://0123
    state: {running: {startedAt: "2024-05-01T10:00:04Z"}}
    lastState:
      terminated: {exitCode: 137, signal: 9, reason: Error, startedAt: "2024-05-01T10:00:01Z", finishedAt: "2024-05-01T10:00:03Z", containerID: runc://0122}
"#,
        );
        let v = serde_json::to_value(&pod).unwrap();
        let cs = &v["status"]["containerStatuses"][0];
        assert_eq!(cs["imageID"], "docker.io/library/busybox@sha256:abc");
        assert_eq!(cs["containerID"], "runc://0123");
        assert_eq!(cs["lastState"]["terminated"]["exitCode"], 137);
        assert_eq!(v["status"]["hostIPs"][0]["ip"], "192.168.1.10");
        assert_eq!(v["status"]["conditions"][0]["type"], "Ready");
        let back: Pod = crate::decode::decode_strict(v).unwrap();
        assert_eq!(back, pod);
    }
}

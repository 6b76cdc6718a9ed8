//! The Deployment registry strategy (`pkg/registry/apps/deployment/strategy.go`).

use super::defaults::default_deployment_spec;
use super::types::{Deployment, DeploymentStatus};
use super::validation::{validate_deployment_spec, validate_deployment_status};
use crate::apps::workload::{selector_immutable, selector_string};
use crate::status::FieldErrors;
use crate::strategy::{Scalable, Strategy};
use crate::validation;

impl Strategy for Deployment {
    const HAS_STATUS_SUBRESOURCE: bool = true;
    const HAS_GENERATION: bool = true;

    fn apply_defaults(&mut self) {
        default_deployment_spec(&mut self.spec);
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_deployment_spec(&self.spec));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_deployment_spec(&self.spec));
        errs.extend(selector_immutable(
            self.spec.selector.as_ref(),
            old.spec.selector.as_ref(),
        ));
        errs.extend(validate_deployment_status(&self.status));
        errs
    }

    fn prepare_for_create(&mut self) {
        self.status = DeploymentStatus::default();
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    crate::status_update_from_status_field!();

    /// The spec changed, or the annotations did: Kubernetes bumps a
    /// Deployment's generation for both, because annotations are copied
    /// to its ReplicaSets (`kubectl rollout` relies on it).
    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec || self.metadata.annotations != old.metadata.annotations
    }
}

impl Scalable for Deployment {
    fn spec_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
    fn set_spec_replicas(&mut self, replicas: i32) {
        self.spec.replicas = Some(replicas);
    }
    fn status_replicas(&self) -> i32 {
        self.status.replicas
    }
    fn selector_string(&self) -> String {
        self.spec
            .selector
            .as_ref()
            .map(selector_string)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_strict, DecodeError};
    use crate::intstr::IntOrString;
    use crate::status::invalid_status;

    const NGINX: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx
  namespace: default
  labels:
    app: nginx
  annotations:
    kubernetes.io/change-cause: initial
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - name: http
          containerPort: 80
        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: MODE
          value: production
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
          limits:
            cpu: "500m"
            memory: 128Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          initialDelaySeconds: 5
        livenessProbe:
          tcpSocket:
            port: 80
        volumeMounts:
        - name: html
          mountPath: /usr/share/nginx/html
          readOnly: true
      volumes:
      - name: html
        configMap:
          name: nginx-html
"#;

    fn yaml_value(text: &str) -> serde_json::Value {
        let y: serde_yaml::Value = serde_yaml::from_str(text).expect("yaml");
        serde_json::to_value(y).expect("yaml -> json")
    }

    fn nginx() -> Deployment {
        let mut d: Deployment = decode_strict(yaml_value(NGINX)).expect("decodes");
        d.apply_defaults();
        d
    }

    fn messages(errs: &FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn has(errs: &FieldErrors, line: &str) -> bool {
        messages(errs).iter().any(|m| m == line)
    }

    #[test]
    fn nginx_manifest_decodes_defaults_and_validates() {
        let d = nginx();
        assert_eq!(d.validate(), vec![], "a real manifest is valid");
        let spec = &d.spec;
        assert_eq!(spec.replicas, Some(3), "given value kept");
        assert_eq!(spec.strategy.type_, "RollingUpdate");
        let ru = spec.strategy.rolling_update.as_ref().unwrap();
        assert_eq!(ru.max_surge, Some(IntOrString::String("25%".into())));
        assert_eq!(ru.max_unavailable, Some(IntOrString::String("25%".into())));
        assert_eq!(spec.revision_history_limit, Some(10));
        assert_eq!(spec.progress_deadline_seconds, Some(600));
        let pod = &spec.template.spec;
        assert_eq!(pod.restart_policy, "Always");
        assert_eq!(pod.dns_policy, "ClusterFirst");
        assert_eq!(pod.scheduler_name, "default-scheduler");
        assert_eq!(pod.termination_grace_period_seconds, Some(30));
        assert_eq!(
            pod.enable_service_links, None,
            "enableServiceLinks is a Pod default, not a template default"
        );
        let c = &pod.containers[0];
        assert_eq!(c.image_pull_policy, "IfNotPresent");
        assert_eq!(c.termination_message_path, "/dev/termination-log");
        assert_eq!(c.termination_message_policy, "File");
        assert_eq!(c.ports[0].protocol, "TCP");
        assert_eq!(
            c.env[0]
                .value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .api_version,
            "v1"
        );
        let rp = c.readiness_probe.as_ref().unwrap();
        assert_eq!(
            (
                rp.timeout_seconds,
                rp.period_seconds,
                rp.success_threshold,
                rp.failure_threshold
            ),
            (1, 10, 1, 3)
        );
        assert_eq!(rp.http_get.as_ref().unwrap().scheme, "HTTP");
        assert_eq!(
            pod.volumes[0].config_map.as_ref().unwrap().default_mode,
            Some(420)
        );
        assert!(
            !c.resources.requests.is_empty() && c.resources.requests.len() == 2,
            "templates do not get requests defaulted from limits"
        );
    }

    #[test]
    fn reserializes_with_kubernetes_field_names() {
        let v = serde_json::to_value(nginx()).unwrap();
        let tpl = &v["spec"]["template"]["spec"];
        let c = &tpl["containers"][0];
        assert_eq!(v["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(v["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(v["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(tpl["terminationGracePeriodSeconds"], 30);
        assert_eq!(tpl["securityContext"], serde_json::json!({}));
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["ports"][0]["containerPort"], 80);
        assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http");
        assert_eq!(c["readinessProbe"]["initialDelaySeconds"], 5);
        assert_eq!(c["livenessProbe"]["tcpSocket"]["port"], 80);
        assert_eq!(c["resources"]["limits"]["memory"], "128Mi");
        assert_eq!(c["volumeMounts"][0]["mountPath"], "/usr/share/nginx/html");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(tpl["volumes"][0]["configMap"]["defaultMode"], 420);
        // Empty fields are omitted, as Kubernetes does.
        assert!(c.get("command").is_none());
        assert!(c.get("stdin").is_none());
        assert!(v["spec"].get("paused").is_none());
        assert!(v["spec"].get("minReadySeconds").is_none());
        // And the output decodes again, strictly, to the same object.
        let back: Deployment = decode_strict(v).unwrap();
        assert_eq!(back, nginx());
    }

    const COREDNS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  replicas: 2
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1}
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
      annotations: {prometheus.io/port: "9153"}
    spec:
      priorityClassName: system-cluster-critical
      serviceAccountName: coredns
      tolerations:
      - {key: CriticalAddonsOnly, operator: Exists}
      - {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}
      nodeSelector: {kubernetes.io/os: linux}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector:
                matchExpressions:
                - {key: k8s-app, operator: In, values: [kube-dns]}
              topologyKey: kubernetes.io/hostname
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway,
         labelSelector: {matchLabels: {k8s-app: kube-dns}}}
      initContainers:
      - name: wait
        image: busybox:1.36
        command: [sh, -c, "true"]
      containers:
      - name: coredns
        image: registry.k8s.io/coredns/coredns:v1.11.1
        imagePullPolicy: IfNotPresent
        resources:
          limits: {memory: 170Mi}
          requests: {cpu: 100m, memory: 70Mi}
        args: [-conf, /etc/coredns/Corefile]
        volumeMounts:
        - {name: config-volume, mountPath: /etc/coredns, readOnly: true}
        - {name: tmp, mountPath: /tmp}
        ports:
        - {containerPort: 53, name: dns, protocol: UDP}
        - {containerPort: 53, name: dns-tcp, protocol: TCP}
        - {containerPort: 9153, name: metrics, protocol: TCP}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          runAsUser: 65532
          seccompProfile: {type: RuntimeDefault}
        livenessProbe:
          httpGet: {path: /health, port: 8080, scheme: HTTP}
          initialDelaySeconds: 60
          timeoutSeconds: 5
          successThreshold: 1
          failureThreshold: 5
        readinessProbe:
          httpGet: {path: /ready, port: 8181, scheme: HTTP, httpHeaders: [{name: X-Probe, value: "1"}]}
        startupProbe:
          grpc: {port: 9090}
        lifecycle:
          preStop:
            sleep: {seconds: 5}
      dnsPolicy: Default
      securityContext:
        fsGroup: 65532
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]
      volumes:
      - name: config-volume
        configMap:
          name: coredns
          items: [{key: Corefile, path: Corefile}]
      - name: tmp
        emptyDir: {medium: Memory, sizeLimit: 64Mi}
      - name: token
        projected:
          sources:
          - serviceAccountToken: {path: token, expirationSeconds: 3607}
          - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
          - downwardAPI:
              items:
              - path: namespace
                fieldRef: {fieldPath: metadata.namespace}
"#;

    #[test]
    fn coredns_manifest_decodes_and_validates() {
        let mut d: Deployment = decode_strict(yaml_value(COREDNS)).expect("decodes");
        d.apply_defaults();
        assert_eq!(messages(&d.validate()), Vec::<String>::new());
        let ru = d.spec.strategy.rolling_update.as_ref().unwrap();
        assert_eq!(ru.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(ru.max_surge, Some(IntOrString::String("25%".into())));
        let pod = &d.spec.template.spec;
        assert_eq!(pod.dns_policy, "Default", "given value kept");
        assert_eq!(pod.init_containers[0].image_pull_policy, "IfNotPresent");
        let token = pod.volumes[2].projected.as_ref().unwrap();
        assert_eq!(token.default_mode, Some(420));
        let back = serde_json::to_value(&d).unwrap();
        let c = &back["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(c["startupProbe"]["grpc"]["port"], 9090);
        assert_eq!(c["lifecycle"]["preStop"]["sleep"]["seconds"], 5);
        assert_eq!(
            back["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
                ["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
                ["topologyKey"],
            "kubernetes.io/hostname"
        );
        assert_eq!(decode_strict::<Deployment>(back).unwrap(), d);
    }

    #[test]
    fn unknown_field_is_rejected_with_its_path() {
        let text = NGINX.replace("image: nginx:1.27", "imagee: nginx:1.27");
        let err = decode_strict::<Deployment>(yaml_value(&text)).unwrap_err();
        assert_eq!(
            err,
            DecodeError::UnknownField("spec.template.spec.containers[0].imagee".into())
        );
    }

    #[test]
    fn replicas_must_not_be_negative() {
        let mut d = nginx();
        d.spec.replicas = Some(-1);
        let errs = d.validate();
        assert_eq!(
            invalid_status("Deployment", "apps", "nginx", &errs).message,
            "Deployment.apps \"nginx\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn selector_is_required_and_not_empty() {
        let mut d = nginx();
        d.spec.selector = None;
        assert!(has(&d.validate(), "spec.selector: Required value"));
        d.spec.selector = Some(Default::default());
        assert!(has(
            &d.validate(),
            "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
        ));
    }

    #[test]
    fn selector_must_match_template_labels() {
        let mut d = nginx();
        d.spec
            .template
            .metadata
            .labels
            .insert("app".into(), "web".into());
        d.spec
            .template
            .metadata
            .labels
            .insert("tier".into(), "fe".into());
        assert_eq!(
            messages(&d.validate()),
            vec![
                r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web", "tier":"fe"}: `selector` does not match template `labels`"#
            ]
        );
    }

    #[test]
    fn template_restart_policy_must_be_always() {
        let mut d = nginx();
        d.spec.template.spec.restart_policy = "OnFailure".into();
        assert_eq!(
            messages(&d.validate()),
            vec![
                r#"spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#
            ]
        );
    }

    #[test]
    fn rolling_update_parameters() {
        let mut d = nginx();
        let ru = d.spec.strategy.rolling_update.as_mut().unwrap();
        ru.max_surge = Some(IntOrString::Int(0));
        ru.max_unavailable = Some(IntOrString::String("0%".into()));
        assert_eq!(
            messages(&d.validate()),
            vec![
                r#"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0"#
            ]
        );

        let ru = d.spec.strategy.rolling_update.as_mut().unwrap();
        ru.max_unavailable = Some(IntOrString::String("150%".into()));
        assert_eq!(
            messages(&d.validate()),
            vec![
                r#"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%"#
            ]
        );

        let ru = d.spec.strategy.rolling_update.as_mut().unwrap();
        ru.max_unavailable = Some(IntOrString::Int(1));
        ru.max_surge = Some(IntOrString::String("25".into()));
        assert!(messages(&d.validate())[0].starts_with(
            r#"spec.strategy.rollingUpdate.maxSurge: Invalid value: "25": a valid percent string must be"#
        ));

        let ru = d.spec.strategy.rolling_update.as_mut().unwrap();
        ru.max_surge = Some(IntOrString::Int(-1));
        assert_eq!(
            messages(&d.validate()),
            vec!["spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn recreate_must_not_carry_rolling_update() {
        let mut d = nginx();
        d.spec.strategy.type_ = "Recreate".into();
        assert_eq!(
            messages(&d.validate()),
            vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
        );
        d.spec.strategy.type_ = "BlueGreen".into();
        assert_eq!(
            messages(&d.validate()),
            vec![
                r#"spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate""#
            ]
        );
    }

    #[test]
    fn recreate_gets_no_rolling_update_defaults() {
        let mut d: Deployment = decode_strict(yaml_value(NGINX)).unwrap();
        d.spec.strategy.type_ = "Recreate".into();
        d.apply_defaults();
        assert_eq!(d.spec.strategy.rolling_update, None);
        assert_eq!(d.validate(), vec![]);
    }

    #[test]
    fn history_limit_and_progress_deadline() {
        let mut d = nginx();
        d.spec.revision_history_limit = Some(-1);
        assert_eq!(
            messages(&d.validate()),
            vec![
                "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        d.spec.revision_history_limit = Some(0);
        d.spec.min_ready_seconds = 600;
        assert_eq!(
            messages(&d.validate()),
            vec!["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = nginx();
        let mut new = old.clone();
        new.spec
            .selector
            .as_mut()
            .unwrap()
            .match_labels
            .insert("tier".into(), "fe".into());
        new.spec
            .template
            .metadata
            .labels
            .insert("tier".into(), "fe".into());
        assert_eq!(
            messages(&new.validate_update(&old)),
            vec![r#"spec.selector: Invalid value: "app=nginx,tier=fe": field is immutable"#]
        );
    }

    #[test]
    fn main_resource_ignores_status_and_status_ignores_spec() {
        let mut old = nginx();
        old.prepare_for_create();
        assert_eq!(old.status, DeploymentStatus::default());
        old.status.replicas = 3;

        let mut update = old.clone();
        update.spec.replicas = Some(5);
        update.status.replicas = 99;
        update.prepare_for_update(&old);
        assert_eq!(update.spec.replicas, Some(5));
        assert_eq!(
            update.status.replicas, 3,
            "status kept from the stored object"
        );
        assert!(update.spec_changed(&old));

        let mut status_write = old.clone();
        status_write.spec.replicas = Some(7);
        status_write.status.replicas = 2;
        let stored = status_write.status_update(&old);
        assert_eq!(
            stored.spec.replicas,
            Some(3),
            "spec kept from the stored object"
        );
        assert_eq!(stored.status.replicas, 2);
    }

    #[test]
    fn status_counters_are_consistent() {
        let old = nginx();
        let mut new = old.clone();
        new.status.replicas = 2;
        new.status.ready_replicas = 3;
        new.status.available_replicas = 3;
        assert_eq!(
            messages(&new.validate_update(&old)),
            vec![
                "status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas",
                "status.availableReplicas: Invalid value: 3: cannot be greater than status.replicas",
            ]
        );
    }

    #[test]
    fn annotation_change_counts_as_spec_change() {
        let old = nginx();
        let mut new = old.clone();
        assert!(!new.spec_changed(&old));
        new.metadata
            .annotations
            .insert("kubernetes.io/change-cause".into(), "v2".into());
        assert!(new.spec_changed(&old));
    }

    #[test]
    fn scale_view() {
        let mut d = nginx();
        d.spec.selector.as_mut().unwrap().match_expressions.push(
            crate::meta::LabelSelectorRequirement {
                key: "env".into(),
                operator: "NotIn".into(),
                values: vec!["test".into(), "dev".into()],
            },
        );
        assert_eq!(d.selector_string(), "app=nginx,env notin (dev,test)");
        assert_eq!(d.spec_replicas(), 3);
        d.set_spec_replicas(0);
        assert_eq!(d.spec.replicas, Some(0));
    }
}

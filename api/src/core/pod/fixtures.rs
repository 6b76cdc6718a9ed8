//! Test fixtures: a small valid pod, decoded the way the apiserver would.

use super::Pod;
use crate::decode::decode_strict;
use crate::strategy::Strategy;

/// Decode a YAML manifest strictly into a pod and apply defaults.
pub(crate) fn pod_from_yaml(text: &str) -> Pod {
    let y: serde_yaml::Value = serde_yaml::from_str(text).expect("yaml");
    let mut pod: Pod = decode_strict(serde_json::to_value(y).expect("json")).expect("decodes");
    pod.apply_defaults();
    pod
}

/// A defaulted, valid pod with one container, a port, an env var, a
/// volume and its mount.
pub(crate) fn web_pod() -> Pod {
    pod_from_yaml(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  containers:
  - name: web
    image: nginx:1.27
    ports:
    - {name: http, containerPort: 80}
    env:
    - {name: MODE, value: prod}
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    emptyDir: {}
"#,
    )
}

/// `field: message` lines of a validation result.
pub(crate) fn lines(errs: &crate::status::FieldErrors) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

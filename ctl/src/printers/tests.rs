//! Tables for each kind, from objects as the apiserver returns them, to
//! the exact text kubectl prints for them.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;

fn now() -> DateTime<Utc> {
    duration::parse_time(Some("2024-05-01T12:00:00Z")).unwrap()
}

fn table(objects: &[Value]) -> String {
    print(
        objects,
        Shape::List,
        &OutputFormat::Table,
        &PrintOptions::default(),
        now(),
    )
    .unwrap()
}

fn wide(objects: &[Value]) -> String {
    print(
        objects,
        Shape::List,
        &OutputFormat::Wide,
        &PrintOptions::default(),
        now(),
    )
    .unwrap()
}

fn meta(name: &str, created: &str) -> Value {
    json!({
        "name": name,
        "namespace": "default",
        "uid": "6f1c2a4e-0000-4000-8000-000000000001",
        "resourceVersion": "1042",
        "creationTimestamp": created,
        "labels": {"app": "web"}
    })
}

fn running_pod(name: &str, created: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, created),
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": "nginx", "image": "nginx:1.25"}]
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "PodScheduled", "status": "True"}
            ],
            "containerStatuses": [{
                "name": "nginx",
                "image": "nginx:1.25",
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": created}}
            }]
        }
    })
}

fn crashing_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("crashy", "2024-05-01T11:50:00Z"),
        "spec": {"nodeName": "node-2", "containers": [{"name": "app", "image": "busybox"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "app",
                "ready": false,
                "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": "2024-05-01T11:57:58Z",
                    "finishedAt": "2024-05-01T11:58:00Z"
                }}
            }]
        }
    })
}

fn initializing_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("init-pod", "2024-05-01T11:59:30Z"),
        "spec": {
            "initContainers": [{"name": "migrate", "image": "app"}, {"name": "warm", "image": "app"}],
            "containers": [{"name": "app", "image": "app"}]
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "Initialized", "status": "False"}],
            "initContainerStatuses": [
                {"name": "migrate", "ready": true, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "warm", "ready": false, "restartCount": 0,
                 "state": {"running": {"startedAt": "2024-05-01T11:59:50Z"}}}
            ],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                                   "state": {"waiting": {"reason": "PodInitializing"}}}]
        }
    })
}

fn terminating_pod() -> Value {
    let mut pod = running_pod("old", "2024-05-01T08:56:00Z", "10.244.1.9");
    pod["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:58Z");
    pod["metadata"]["deletionGracePeriodSeconds"] = json!(30);
    pod
}

#[test]
fn pods() {
    let pods = [
        running_pod(
            "nginx-7854ff8877-x2x4j",
            "2024-05-01T11:55:00Z",
            "10.244.1.5",
        ),
        crashing_pod(),
        initializing_pod(),
        terminating_pod(),
    ];
    assert_eq!(
        table(&pods),
        "\
NAME                     READY   STATUS             RESTARTS     AGE
nginx-7854ff8877-x2x4j   1/1     Running            0            5m
crashy                   0/1     CrashLoopBackOff   4 (2m ago)   10m
init-pod                 0/1     Init:1/2           0            30s
old                      1/1     Terminating        0            3h4m
"
    );
    assert_eq!(
        wide(&pods[..2]),
        "\
NAME                     READY   STATUS             RESTARTS     AGE   IP           NODE     NOMINATED NODE   READINESS GATES
nginx-7854ff8877-x2x4j   1/1     Running            0            5m    10.244.1.5   node-1   <none>           <none>
crashy                   0/1     CrashLoopBackOff   4 (2m ago)   10m   <none>       node-2   <none>           <none>
"
    );
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default", "generation": 2,
            "creationTimestamp": "2024-04-26T10:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "2"}
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.25"},
                    {"name": "sidecar", "image": "busybox:1.36"}
                ]}
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
        },
        "status": {
            "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
            "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1
        }
    })
}

#[test]
fn deployments() {
    assert_eq!(
        table(&[deployment()]),
        "\
NAME   READY   UP-TO-DATE   AVAILABLE   AGE
web    2/3     3            2           5d2h
"
    );
    assert_eq!(
        wide(&[deployment()]),
        "\
NAME   READY   UP-TO-DATE   AVAILABLE   AGE    CONTAINERS      IMAGES                    SELECTOR
web    2/3     3            2           5d2h   nginx,sidecar   nginx:1.25,busybox:1.36   app=web
"
    );
}

#[test]
fn replicasets() {
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-7854ff8877", "namespace": "default",
            "creationTimestamp": "2024-04-01T12:00:00Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": "u", "controller": true}]
        },
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web", "pod-template-hash": "7854ff8877"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]
            },
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}
        },
        "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}
    });
    assert_eq!(
        table(std::slice::from_ref(&rs)),
        "\
NAME             DESIRED   CURRENT   READY   AGE
web-7854ff8877   3         3         2       30d
"
    );
    assert_eq!(
        wide(&[rs]),
        "\
NAME             DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES       SELECTOR
web-7854ff8877   3         3         2       30d   nginx        nginx:1.25   app=web,pod-template-hash=7854ff8877,tier in (edge,front)
"
    );
}

fn service(name: &str, kind: &str, ip: &str, ports: Value, created: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
        "spec": {
            "type": kind,
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ports": ports,
            "selector": {"app": name, "tier": "front"},
            "sessionAffinity": "None"
        },
        "status": {"loadBalancer": {}}
    })
}

#[test]
fn services() {
    let mut kubernetes = service(
        "kubernetes",
        "ClusterIP",
        "10.96.0.1",
        json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]),
        "2024-03-17T12:00:00Z",
    );
    kubernetes["spec"]["selector"] = Value::Null;
    let web = service(
        "web",
        "NodePort",
        "10.96.10.20",
        json!([{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080},
               {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53, "nodePort": 31053}]),
        "2024-05-01T11:57:50Z",
    );
    let mut lb = service(
        "edge",
        "LoadBalancer",
        "10.96.7.7",
        json!([{"port": 443, "protocol": "TCP", "targetPort": 8443, "nodePort": 32443}]),
        "2024-05-01T11:00:00Z",
    );
    let mut headless = service("db", "ClusterIP", "None", json!([]), "2024-05-01T11:00:00Z");
    headless["spec"]["clusterIPs"] = json!(["None"]);
    assert_eq!(
        table(&[kubernetes.clone(), web.clone(), lb.clone(), headless]),
        "\
NAME         TYPE           CLUSTER-IP    EXTERNAL-IP   PORT(S)                     AGE
kubernetes   ClusterIP      10.96.0.1     <none>        443/TCP                     45d
web          NodePort       10.96.10.20   <none>        80:30080/TCP,53:31053/UDP   2m10s
edge         LoadBalancer   10.96.7.7     <pending>     443:32443/TCP               60m
db           ClusterIP      None          <none>        <none>                      60m
"
    );
    assert_eq!(
        wide(&[kubernetes, web]),
        "\
NAME         TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)                     AGE     SELECTOR
kubernetes   ClusterIP   10.96.0.1     <none>        443/TCP                     45d     <none>
web          NodePort    10.96.10.20   <none>        80:30080/TCP,53:31053/UDP   2m10s   app=web,tier=front
"
    );
    lb["status"]["loadBalancer"]["ingress"] =
        json!([{"ip": "203.0.113.10"}, {"hostname": "lb.example.com"}]);
    assert_eq!(
        table(std::slice::from_ref(&lb)),
        "\
NAME   TYPE           CLUSTER-IP   EXTERNAL-IP        PORT(S)         AGE
edge   LoadBalancer   10.96.7.7    203.0.113.10,...   443:32443/TCP   60m
"
    );
    assert!(wide(&[lb]).contains("   203.0.113.10,lb.example.com   "));
}

#[test]
fn endpoints() {
    let kubernetes = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "creationTimestamp": "2024-03-17T12:00:00Z"},
        "subsets": [{"addresses": [{"ip": "192.168.1.10"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    });
    let web = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-05-01T11:58:00Z"},
        "subsets": [{
            "addresses": [
                {"ip": "10.244.1.5", "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": "a"}},
                {"ip": "10.244.1.6"}, {"ip": "10.244.2.7"}, {"ip": "10.244.2.8"}, {"ip": "10.244.3.9"}
            ],
            "notReadyAddresses": [{"ip": "10.244.3.10"}],
            "ports": [{"port": 80, "protocol": "TCP"}]
        }]
    });
    let empty = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "db", "namespace": "default", "creationTimestamp": "2024-05-01T11:59:00Z"}
    });
    assert_eq!(
        table(&[kubernetes, web, empty]),
        "\
NAME         ENDPOINTS                                               AGE
kubernetes   192.168.1.10:6443                                       45d
web          10.244.1.5:80,10.244.1.6:80,10.244.2.7:80 + 2 more...   2m
db           <none>                                                  60s
"
    );
}

fn node(name: &str, ready: &str, unschedulable: bool, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": "2024-03-17T12:00:00Z", "labels": labels},
        "spec": {"podCIDR": "10.244.1.0/24", "unschedulable": unschedulable},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": ready, "reason": "KubeletReady"}
            ],
            "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "kubeletVersion": "v1.30.0-tug",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-18-amd64",
                "containerRuntimeVersion": "runc://1.1.12"
            }
        }
    })
}

#[test]
fn nodes() {
    let control = node(
        "node-1",
        "True",
        false,
        json!({"kubernetes.io/hostname": "node-1", "node-role.kubernetes.io/control-plane": "",
               "node-role.kubernetes.io/master": ""}),
    );
    let cordoned = node(
        "node-2",
        "Unknown",
        true,
        json!({"kubernetes.io/role": "worker"}),
    );
    let mut fresh = node("node-3", "True", false, json!({}));
    fresh["status"]["conditions"] = json!([]);
    fresh["status"]["nodeInfo"] = json!({});
    fresh["status"]["addresses"] = json!([]);
    assert_eq!(
        table(&[control.clone(), cordoned, fresh.clone()]),
        "\
NAME     STATUS                        ROLES                  AGE   VERSION
node-1   Ready                         control-plane,master   45d   v1.30.0-tug
node-2   NotReady,SchedulingDisabled   worker                 45d   v1.30.0-tug
node-3   Unknown                       <none>                 45d   
"
    );
    assert_eq!(
        wide(&[control, fresh]),
        "\
NAME     STATUS    ROLES                  AGE   VERSION       INTERNAL-IP    EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION   CONTAINER-RUNTIME
node-1   Ready     control-plane,master   45d   v1.30.0-tug   192.168.1.10   <none>        Debian GNU/Linux 12 (bookworm)   6.1.0-18-amd64   runc://1.1.12
node-3   Unknown   <none>                 45d                 <none>         <none>        <unknown>                        <unknown>        <unknown>
"
    );
}

#[test]
fn namespaces_configmaps_secrets_leases() {
    let ns = |name: &str, phase: &str| {
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": name, "creationTimestamp": "2024-03-17T12:00:00Z"},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": phase}})
    };
    assert_eq!(
        table(&[ns("default", "Active"), ns("team-a", "Terminating")]),
        "\
NAME      STATUS        AGE
default   Active        45d
team-a    Terminating   45d
"
    );

    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": meta("web-config", "2024-05-01T11:59:55Z"),
                    "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AAE="}});
    let empty = json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": meta("kube-root-ca.crt", "2024-03-17T12:00:00Z")});
    assert_eq!(
        table(&[cm, empty]),
        "\
NAME               DATA   AGE
web-config         3      5s
kube-root-ca.crt   0      45d
"
    );

    let secret = json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": meta("db-pass", "2024-05-01T09:00:00Z"),
                        "type": "Opaque", "data": {"password": "c2VjcmV0"}});
    let tls = json!({"apiVersion": "v1", "kind": "Secret",
                     "metadata": meta("web-tls", "2024-05-01T09:00:00Z"),
                     "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        table(&[secret, tls]),
        "\
NAME      TYPE                DATA   AGE
db-pass   Opaque              1      3h
web-tls   kubernetes.io/tls   2      3h
"
    );

    let lease = |name: &str, holder: Option<&str>| {
        let mut l = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                           "metadata": {"name": name, "namespace": "kube-node-lease",
                                        "creationTimestamp": "2024-04-30T12:00:00Z"},
                           "spec": {"leaseDurationSeconds": 40, "renewTime": "2024-05-01T11:59:50.000000Z"}});
        if let Some(holder) = holder {
            l["spec"]["holderIdentity"] = json!(holder);
        }
        l
    };
    assert_eq!(
        table(&[
            lease("node-1", Some("node-1")),
            lease("tug-scheduler", None)
        ]),
        "\
NAME            HOLDER   AGE
node-1          node-1   24h
tug-scheduler            24h
"
    );
}

#[test]
fn events() {
    let scheduled = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web-1.17c1", "namespace": "default", "creationTimestamp": "2024-05-01T11:58:00Z"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u"},
        "reason": "Scheduled",
        "message": "Successfully assigned default/web-1 to node-1",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": "2024-05-01T11:58:00Z",
        "lastTimestamp": "2024-05-01T11:58:00Z",
        "count": 1,
        "type": "Normal"
    });
    let backoff = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "crashy.17c2", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "crashy", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container app in pod crashy_default(u)\n",
        "source": {"component": "kubelet", "host": "node-2"},
        "firstTimestamp": "2024-05-01T11:50:00Z",
        "lastTimestamp": "2024-05-01T11:59:30Z",
        "count": 12,
        "type": "Warning"
    });
    let new_api = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "node-1.17c3", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "node-1"},
        "reason": "RegisteredNode",
        "message": "Node node-1 event: Registered Node node-1 in Controller",
        "eventTime": "2024-05-01T09:59:59.500000Z",
        "reportingComponent": "node-controller",
        "reportingInstance": "",
        "type": "Normal"
    });
    let events = [scheduled, backoff, new_api];
    assert_eq!(
        table(&events),
        "\
LAST SEEN   TYPE      REASON           OBJECT        MESSAGE
2m          Normal    Scheduled        pod/web-1     Successfully assigned default/web-1 to node-1
30s         Warning   BackOff          pod/crashy    Back-off restarting failed container app in pod crashy_default(u)
120m        Normal    RegisteredNode   node/node-1   Node node-1 event: Registered Node node-1 in Controller
"
    );
    assert_eq!(
        wide(&events),
        "\
LAST SEEN   TYPE      REASON           OBJECT        SUBOBJECT              SOURCE              MESSAGE                                                             FIRST SEEN   COUNT   NAME
2m          Normal    Scheduled        pod/web-1                            default-scheduler   Successfully assigned default/web-1 to node-1                       2m           1       web-1.17c1
30s         Warning   BackOff          pod/crashy    spec.containers{app}   kubelet, node-2     Back-off restarting failed container app in pod crashy_default(u)   10m          12      crashy.17c2
120m        Normal    RegisteredNode   node/node-1                          node-controller     Node node-1 event: Registered Node node-1 in Controller             120m         1       node-1.17c3
"
    );
}

#[test]
fn unknown_kinds_get_name_and_age() {
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                        "metadata": {"name": "w1", "creationTimestamp": "2024-05-01T11:59:00Z"}});
    let undated =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}});
    assert_eq!(
        table(&[widget, undated]),
        "\
NAME   AGE
w1     60s
w2     <unknown>
"
    );
}

#[test]
fn all_namespaces_and_labels_columns() {
    let mut other = running_pod("api-0", "2024-05-01T11:00:00Z", "10.244.2.3");
    other["metadata"]["namespace"] = json!("team-a");
    other["metadata"]["labels"] = json!({"tier": "back", "app": "api"});
    let mut unlabelled = running_pod("bare", "2024-05-01T11:00:00Z", "10.244.2.4");
    unlabelled["metadata"]["labels"] = Value::Null;
    let pods = [
        running_pod("web-0", "2024-05-01T11:55:00Z", "10.244.1.5"),
        other,
        unlabelled,
    ];
    let options = PrintOptions {
        with_namespace: true,
        show_labels: true,
        ..PrintOptions::default()
    };
    assert_eq!(
        print(&pods, Shape::List, &OutputFormat::Table, &options, now()).unwrap(),
        "\
NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   LABELS
default     web-0   1/1     Running   0          5m    app=web
team-a      api-0   1/1     Running   0          60m   app=api,tier=back
default     bare    1/1     Running   0          60m   <none>
"
    );
    let no_headers = PrintOptions {
        no_headers: true,
        ..PrintOptions::default()
    };
    assert_eq!(
        print(
            &pods[..1],
            Shape::List,
            &OutputFormat::Table,
            &no_headers,
            now()
        )
        .unwrap(),
        "web-0   1/1   Running   0     5m\n"
    );
}

#[test]
fn several_kinds_print_one_table_each_with_kind_names() {
    let options = PrintOptions {
        with_kind: true,
        ..PrintOptions::default()
    };
    let objects = [
        running_pod("web-0", "2024-05-01T11:55:00Z", "10.244.1.5"),
        deployment(),
    ];
    assert_eq!(
        print(&objects, Shape::List, &OutputFormat::Table, &options, now()).unwrap(),
        "\
NAME        READY   STATUS    RESTARTS   AGE
pod/web-0   1/1     Running   0          5m

NAME                  READY   UP-TO-DATE   AVAILABLE   AGE
deployment.apps/web   2/3     3            2           5d2h
"
    );
}

#[test]
fn watch_rows_keep_the_first_header_and_widths() {
    let mut printer = WatchPrinter::new(OutputFormat::Table, PrintOptions::default());
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": meta("web-0", "2024-05-01T11:59:58Z"),
        "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
        "status": {"phase": "Pending"}
    });
    assert_eq!(printer.print(&[], now()).unwrap(), "");
    assert_eq!(
        printer.print(std::slice::from_ref(&pod), now()).unwrap(),
        "\
NAME    READY   STATUS    RESTARTS   AGE
web-0   0/1     Pending   0          2s
"
    );
    pod["spec"]["nodeName"] = json!("node-1");
    pod["status"]["containerStatuses"] = json!([{"name": "nginx", "ready": false, "restartCount": 0,
                                                 "state": {"waiting": {"reason": "ContainerCreating"}}}]);
    let later = now() + chrono::TimeDelta::seconds(3);
    assert_eq!(
        printer.print(std::slice::from_ref(&pod), later).unwrap(),
        "web-0   0/1     ContainerCreating   0          5s\n"
    );
    pod["status"] = running_pod("web-0", "2024-05-01T11:59:58Z", "10.244.1.5")["status"].clone();
    assert_eq!(
        printer.print(std::slice::from_ref(&pod), later).unwrap(),
        "web-0   1/1     Running             0          5s\n"
    );
}

#[test]
fn watch_in_other_formats() {
    let pod = running_pod("web-0", "2024-05-01T11:55:00Z", "10.244.1.5");
    let mut names = WatchPrinter::new(OutputFormat::Name, PrintOptions::default());
    assert_eq!(
        names.print(&[pod.clone(), pod.clone()], now()).unwrap(),
        "pod/web-0\npod/web-0\n"
    );
    let mut yaml = WatchPrinter::new(OutputFormat::Yaml, PrintOptions::default());
    let first = yaml.print(std::slice::from_ref(&pod), now()).unwrap();
    assert!(first.starts_with("apiVersion: v1\n"), "{first}");
    let second = yaml.print(std::slice::from_ref(&pod), now()).unwrap();
    assert!(second.starts_with("---\napiVersion: v1\n"), "{second}");
    let path = "jsonpath={.metadata.name}{\"\\n\"}".parse().unwrap();
    let mut jsonpath = WatchPrinter::new(path, PrintOptions::default());
    assert_eq!(
        jsonpath.print(&[pod.clone(), pod], now()).unwrap(),
        "web-0\nweb-0\n"
    );
}

#[test]
fn name_json_yaml_and_jsonpath_outputs() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"x": "<y>"}}});
    let objects = [pod.clone(), deployment()];
    let out = |format: &str, objects: &[Value], shape| {
        print(
            objects,
            shape,
            &format.parse().unwrap(),
            &PrintOptions::default(),
            now(),
        )
        .unwrap()
    };
    assert_eq!(
        out("name", &objects, Shape::List),
        "pod/a\ndeployment.apps/web\n"
    );
    assert_eq!(
        out("json", std::slice::from_ref(&pod), Shape::Single),
        "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"labels\": {\n            \"x\": \"\\u003cy\\u003e\"\n        },\n        \"name\": \"a\"\n    }\n}\n"
    );
    assert_eq!(
        out("json", &[], Shape::List),
        "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
    );
    assert_eq!(
        out("yaml", std::slice::from_ref(&pod), Shape::List),
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    labels:\n      x: <y>\n    name: a\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
    );
    assert_eq!(
        out("jsonpath={.items[*].metadata.name}", &objects, Shape::List),
        "a web"
    );
    assert_eq!(
        out(
            "jsonpath={.metadata.name}",
            std::slice::from_ref(&pod),
            Shape::Single
        ),
        "a"
    );
}

#[test]
fn output_format_errors() {
    let err = |s: &str| s.parse::<OutputFormat>().unwrap_err().to_string();
    assert_eq!(
        err("xml"),
        "unable to match a printer suitable for the output format \"xml\", allowed formats are: json,jsonpath,name,wide,yaml"
    );
    assert_eq!(
        err("jsonpath"),
        "template format specified but no template given"
    );
    assert_eq!(
        err("jsonpath={.items["),
        "error parsing jsonpath {.items[, unterminated array"
    );
    let path: OutputFormat = "jsonpath={.items[3]}".parse().unwrap();
    assert_eq!(
        print(&[], Shape::List, &path, &PrintOptions::default(), now())
            .unwrap_err()
            .to_string(),
        "error executing jsonpath \"{.items[3]}\": array index out of bounds: index 3, length 0"
    );
    assert_eq!(
        print(
            &[json!({"metadata": {"name": "x"}})],
            Shape::List,
            &OutputFormat::Name,
            &PrintOptions::default(),
            now()
        )
        .unwrap_err()
        .to_string(),
        "missing kind for resource with name x"
    );
}

#[test]
fn list_items_get_their_kind_and_no_resources_message() {
    let list = json!({"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {},
                      "items": [{"metadata": {"name": "web"}}, {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "api"}}]});
    let items = items_with_kind(&list);
    assert_eq!(items[0]["kind"], "Deployment");
    assert_eq!(items[0]["apiVersion"], "apps/v1");
    assert_eq!(qualified_name(&items[1]).unwrap(), "deployment.apps/api");
    assert_eq!(
        no_resources_message(Some("default")),
        "No resources found in default namespace."
    );
    assert_eq!(no_resources_message(None), "No resources found");
}

//! The everyday path: `apply -f manifests/` with kubectl's default
//! (strict) validation, `wait --for=condition=Available`, `get` as a
//! table and as YAML, `describe`, and `delete -f` taking everything away.

use std::time::Duration;

use serde_json::Value;
use tug_api::apps::ReplicaSet;
use tug_api::core::{Pod, Service};
use tug_client::{Api, ListParams};

use crate::cluster::{pods_of, wait_for};
use crate::output::{describe_field, Table};
use crate::support::{lines, manifests_dir, Setup, WEB_REPLICAS};

#[tokio::test(flavor = "multi_thread")]
async fn apply_wait_get_describe_delete_the_manifests() {
    let Some(s) = Setup::start("apply_wait_get_describe_delete_the_manifests").await else {
        return;
    };
    let k = &s.kubectl;
    let dir = manifests_dir();

    // apply, default validation (kubectl's --validate=strict).
    let out = k.ok(&["apply", "-f", &dir]).await;
    for created in [
        "pod/localhost-pair created",
        "service/web-nodeport created",
        "deployment.apps/web created",
        "service/web created",
    ] {
        assert!(lines(&out).contains(&created), "{created:?} in {out}");
    }

    // wait --for=condition=Available
    let out = k
        .ok(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=90s",
        ])
        .await;
    assert_eq!(lines(&out), ["deployment.apps/web condition met"]);
    let web = s.wait_rolled_out("web", WEB_REPLICAS).await;

    // get: the same columns as against Kubernetes.
    let t = Table::parse(&k.ok(&["get", "deployments"]).await);
    assert_eq!(
        t.columns,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    let row = t.expect_row("web");
    assert_eq!(
        (&*row["READY"], &*row["UP-TO-DATE"], &*row["AVAILABLE"]),
        ("6/6", "6", "6")
    );

    let t = Table::parse(&k.ok(&["get", "pods", "-l", "app=web", "-o", "wide"]).await);
    assert_eq!(
        t.columns[..6],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    );
    assert_eq!(t.columns[6], "NODE");
    assert_eq!(t.rows.len(), WEB_REPLICAS as usize, "{t:#?}");
    let pods = pods_of(s.client(), "web").await;
    for pod in &pods {
        let row = t.expect_row(&pod.metadata.name);
        assert_eq!(row["READY"], "1/1", "{row:?}");
        assert_eq!(row["STATUS"], "Running", "{row:?}");
        assert_eq!(row["RESTARTS"], "0", "{row:?}");
        assert_eq!(row["NODE"], pod.spec.node_name, "{row:?}");
        assert_eq!(row["IP"], pod.status.pod_ip, "{row:?}");
    }

    let t = Table::parse(&k.ok(&["get", "services"]).await);
    assert_eq!(
        t.columns,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    let services = Api::<Service>::namespaced(s.client().clone(), "default");
    let np = services.get("web-nodeport").await.expect("web-nodeport");
    let row = t.expect_row("web-nodeport");
    assert_eq!(row["TYPE"], "NodePort");
    assert_eq!(row["CLUSTER-IP"], np.spec.cluster_ip);
    assert_eq!(row["EXTERNAL-IP"], "<none>");
    assert_eq!(row["PORT(S)"], "80:30080/TCP");
    assert_eq!(t.expect_row("web")["PORT(S)"], "80/TCP");

    // get -o yaml: the stored object, as YAML.
    let yaml = k.ok(&["get", "deployment", "web", "-o", "yaml"]).await;
    let obj: Value = serde_yaml::from_str(&yaml).expect("kubectl prints YAML");
    assert_eq!(obj["apiVersion"], "apps/v1");
    assert_eq!(obj["kind"], "Deployment");
    assert_eq!(obj["metadata"]["uid"], web.metadata.uid.as_str());
    assert_eq!(obj["spec"]["replicas"], WEB_REPLICAS);
    assert_eq!(obj["status"]["readyReplicas"], WEB_REPLICAS);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1.36"
    );
    assert!(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string(),
        "client-side apply records what it applied: {yaml}"
    );

    // describe: the deployment, its ReplicaSet and what the controller did.
    let rs = Api::<ReplicaSet>::namespaced(s.client().clone(), "default")
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list replicasets")
        .items;
    assert_eq!(rs.len(), 1);
    let rs_name = &rs[0].metadata.name;
    let out = k.ok(&["describe", "deployment", "web"]).await;
    assert_eq!(describe_field(&out, "Name"), Some("web"));
    assert_eq!(describe_field(&out, "Namespace"), Some("default"));
    assert_eq!(describe_field(&out, "Selector"), Some("app=web"));
    assert_eq!(
        describe_field(&out, "Replicas"),
        Some("6 desired | 6 updated | 6 total | 6 available | 0 unavailable")
    );
    assert_eq!(
        describe_field(&out, "RollingUpdateStrategy"),
        Some("0 max unavailable, 1 max surge")
    );
    assert_eq!(
        describe_field(&out, "NewReplicaSet"),
        Some(format!("{rs_name} (6/6 replicas created)").as_str())
    );
    assert!(
        out.contains(&format!("Scaled up replica set {rs_name} from 0 to 6")),
        "the controller's event is shown: {out}"
    );

    let out = k.ok(&["describe", "pod", "localhost-pair"]).await;
    assert_eq!(describe_field(&out, "Status"), Some("Running"));
    let pod = Api::<Pod>::namespaced(s.client().clone(), "default")
        .get("localhost-pair")
        .await
        .expect("the pod");
    assert_eq!(describe_field(&out, "IP"), Some(pod.status.pod_ip.as_str()));
    assert!(
        out.contains("  server:") && out.contains("  client:"),
        "{out}"
    );

    // delete -f: kubectl waits until the objects are gone; the pods of the
    // deployment follow (garbage collection).
    let out = k.ok(&["delete", "-f", &dir, "--timeout=90s"]).await;
    for deleted in [
        "pod \"localhost-pair\" deleted",
        "service \"web-nodeport\" deleted",
        "deployment.apps \"web\" deleted",
        "service \"web\" deleted",
    ] {
        assert!(out.contains(deleted), "{deleted:?} in {out}");
    }
    wait_for("the web pods gone", Duration::from_secs(60), || async {
        let left = pods_of(s.client(), "web").await;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{} pods left", left.len()))
        }
    })
    .await;
    let remaining = k
        .ok(&["get", "deployments,services,pods", "-o", "name"])
        .await;
    let ours = [
        "deployment.apps/web",
        "service/web",
        "pod/web-",
        "pod/localhost-pair",
    ];
    let left: Vec<_> = lines(&remaining)
        .into_iter()
        .filter(|l| ours.iter().any(|o| l.starts_with(o)))
        .collect();
    assert!(left.is_empty(), "still there after delete: {left:?}");
}

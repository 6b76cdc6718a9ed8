//! `kubectl apply --server-side`: the server merges the applied
//! configuration, records who owns which field in `managedFields`, and
//! refuses to let a second manager take a field over unless forced.

use serde_json::Value;

use crate::support::{lines, manifests_dir, Setup, WEB_REPLICAS};

/// The `managedFields` entry of `manager`, if any.
fn managed_by<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

/// Whether a managedFields entry owns `.spec.replicas`.
fn owns_replicas(entry: &Value) -> bool {
    entry["fieldsV1"]["f:spec"]["f:replicas"].is_object()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_owns_fields_and_reports_conflicts() {
    let Some(s) = Setup::start("server_side_apply_owns_fields_and_reports_conflicts").await else {
        return;
    };
    let k = &s.kubectl;
    let out = k
        .ok(&["apply", "--server-side", "-f", &manifests_dir()])
        .await;
    for applied in [
        "pod/localhost-pair serverside-applied",
        "service/web-nodeport serverside-applied",
        "deployment.apps/web serverside-applied",
        "service/web serverside-applied",
    ] {
        assert!(lines(&out).contains(&applied), "{applied:?} in {out}");
    }
    s.wait_rolled_out("web", WEB_REPLICAS).await;
    let get = [
        "get",
        "deployment",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ];
    let obj: Value = serde_json::from_str(&k.ok(&get).await).expect("JSON");
    let kubectl = managed_by(&obj, "kubectl").expect("kubectl's entry in managedFields");
    assert_eq!(kubectl["operation"], "Apply");
    assert_eq!(kubectl["apiVersion"], "apps/v1");
    assert_eq!(kubectl["fieldsType"], "FieldsV1");
    assert!(owns_replicas(kubectl), "{kubectl}");
    assert!(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_null(),
        "server-side apply keeps no client-side annotation"
    );

    // Applying the same configuration again changes nothing.
    let out = k
        .ok(&["apply", "--server-side", "-f", &manifests_dir()])
        .await;
    assert!(lines(&out).contains(&"deployment.apps/web serverside-applied"));
    let again: Value = serde_json::from_str(&k.ok(&get).await).expect("JSON");
    assert_eq!(
        again["metadata"]["resourceVersion"], obj["metadata"]["resourceVersion"],
        "a no-op apply writes nothing"
    );

    // A second manager wanting another replica count conflicts.
    let three = s.edited_web("web-3.yaml", "replicas: 6", "replicas: 3");
    let apply_as_hpa = [
        "apply",
        "--server-side",
        "--field-manager=autoscaler",
        "-f",
        &three,
    ];
    let run = k.run(&apply_as_hpa).await;
    assert!(!run.success(), "a conflicting apply must fail");
    assert!(
        run.stderr.contains("Apply failed with 1 conflict")
            && run.stderr.contains("conflict with \"kubectl\"")
            && run.stderr.contains(".spec.replicas"),
        "the conflict names the field and its manager: {}",
        run.stderr
    );
    let d = s.deployments().get("web").await.expect("web");
    assert_eq!(d.spec.replicas, Some(WEB_REPLICAS), "nothing changed");

    // Forced, the field changes hands.
    let mut forced = apply_as_hpa.to_vec();
    forced.insert(2, "--force-conflicts");
    let out = k.ok(&forced).await;
    assert!(lines(&out).contains(&"deployment.apps/web serverside-applied"));
    s.wait_rolled_out("web", 3).await;
    let obj: Value = serde_json::from_str(&k.ok(&get).await).expect("JSON");
    let hpa = managed_by(&obj, "autoscaler").expect("autoscaler's entry");
    assert_eq!(hpa["operation"], "Apply");
    assert!(owns_replicas(hpa), "{hpa}");
    let kubectl = managed_by(&obj, "kubectl").expect("kubectl keeps its other fields");
    assert!(
        !owns_replicas(kubectl),
        "kubectl lost .spec.replicas: {kubectl}"
    );
}

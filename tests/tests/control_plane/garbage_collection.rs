//! Deleting an owner removes its dependents, unless told to orphan them.

use std::time::Duration;

use serde_json::json;
use tug_api::apps::{Deployment, ReplicaSet};
use tug_client::{Api, DeleteParams, ListParams, PropagationPolicy};

use crate::support::*;

async fn replica_sets_of(c: &tug_client::Client, app: &str) -> Vec<ReplicaSet> {
    Api::<ReplicaSet>::namespaced(c.clone(), "default")
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_deployment_removes_or_orphans_its_replica_sets_and_pods() {
    let t = start(2, |_| {}).await;
    let c = &t.client;
    let deployments = Api::<Deployment>::namespaced(c.clone(), "default");

    // Background (the default): ReplicaSets and pods go too.
    create_deployment(c, &deployment("gone", 3, "img:a", json!({}))).await;
    wait_running(c, "gone", 3, Duration::from_secs(60)).await;
    deployments
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for(
        "ReplicaSets and pods deleted",
        Duration::from_secs(60),
        || async {
            let rs = replica_sets_of(c, "gone").await.len();
            let pods = pods_of(c, "gone").await.len();
            if rs == 0 && pods == 0 {
                Ok(())
            } else {
                Err(format!("{rs} ReplicaSets, {pods} pods"))
            }
        },
    )
    .await;

    // Orphan: the Deployment goes, its ReplicaSet and pods stay, unowned.
    create_deployment(c, &deployment("kept", 3, "img:a", json!({}))).await;
    let before: Vec<String> = wait_running(c, "kept", 3, Duration::from_secs(60))
        .await
        .into_iter()
        .map(|p| p.metadata.name)
        .collect();
    let orphan = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    deployments.delete("kept", &orphan).await.expect("delete");
    wait_for("the Deployment gone", Duration::from_secs(30), || async {
        match deployments.get_opt("kept").await {
            Ok(None) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let rs = wait_for(
        "the ReplicaSet orphaned",
        Duration::from_secs(30),
        || async {
            let rs = replica_sets_of(c, "kept").await;
            match rs.as_slice() {
                [one] if one.metadata.owner_references.is_empty() => Ok(one.clone()),
                other => Err(format!(
                    "{:?}",
                    other.iter().map(|r| &r.metadata).collect::<Vec<_>>()
                )),
            }
        },
    )
    .await;
    // The pods are untouched and still owned by the surviving ReplicaSet.
    let pods = wait_running(c, "kept", 3, Duration::from_secs(30)).await;
    for p in &pods {
        assert!(
            before.contains(&p.metadata.name),
            "pod {} is new",
            p.metadata.name
        );
        assert_eq!(
            p.metadata.controller_ref().map(|r| r.uid.as_str()),
            Some(rs.metadata.uid.as_str())
        );
    }
}

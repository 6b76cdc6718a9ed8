//! What happens to the pods of a node that stops being ready.

use tug_api::core::{pod_condition, Pod};
use tug_api::Time;
use tug_client::{Api, Client, EventRecorder, PostParams, Store};

/// The pod store index by `spec.nodeName` this controller adds.
pub const POD_NODE_INDEX: &str = "nodelifecycle:spec.nodeName";

/// Upstream `MarkPodsNotReady`: set the Ready condition of every pod on
/// `node` to False, so that Endpoints stop sending traffic to pods whose
/// node no longer answers. The kubelet, if it comes back, reports their
/// real readiness again.
pub async fn mark_pods_not_ready(
    client: &Client,
    recorder: &EventRecorder,
    pods: &Store<Pod>,
    node: &str,
) -> anyhow::Result<()> {
    let mut failed = 0;
    for pod in pods.by_index(POD_NODE_INDEX, node) {
        if pod.spec.node_name != node
            || pod_condition(&pod, "Ready").is_none_or(|c| c.status == "False")
        {
            continue;
        }
        let mut updated = (*pod).clone();
        for c in updated
            .status
            .conditions
            .iter_mut()
            .filter(|c| c.type_ == "Ready")
        {
            c.status = "False".into();
            c.last_transition_time = Some(Time::now());
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.metadata.namespace);
        match api
            .replace_status(&pod.metadata.name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => recorder.warning(&updated, "NodeNotReady", "Node is not ready"),
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                tracing::warn!(pod = %tug_client::key_of(&pod.metadata), error = %e, "could not mark pod not ready");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} pod(s) on node {node} could not be marked not ready");
    }
    Ok(())
}

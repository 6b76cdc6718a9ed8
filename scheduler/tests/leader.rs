//! Two `tug-scheduler` processes: only the Lease holder schedules, and
//! when it dies the other takes over and places the pods created since.

mod common;

use common::*;
use serde_json::json;
use tug_api::coordination::Lease;
use tug_client::Api;

async fn holder(leases: &Api<Lease>) -> Result<String, String> {
    match leases.get_opt("tug-scheduler").await {
        Ok(Some(l)) => l
            .spec
            .holder_identity
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "no holder".to_string()),
        Ok(None) => Err("no lease yet".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_when_the_leader_dies() {
    let server = start_apiserver();
    let client = client(&server);
    add_node(&client, "node-a", "4", "8Gi", 110).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");

    let mut first = SchedulerProcess::start(&server, &[]);
    let leader = poll_until("the first scheduler leading", || holder(&leases)).await;
    let _second = SchedulerProcess::start(&server, &[]);

    create_pod(&client, &pod("before", "", json!({}), json!({}))).await;
    assert_eq!(wait_bound(&client, "before").await, "node-a");
    assert_eq!(
        holder(&leases).await.unwrap(),
        leader,
        "the leader kept its lease"
    );

    first.kill();
    create_pod(&client, &pod("after", "", json!({}), json!({}))).await;
    assert_eq!(wait_bound(&client, "after").await, "node-a");
    let new_leader = holder(&leases).await.unwrap();
    assert_ne!(new_leader, leader, "the standby holds the lease now");
}

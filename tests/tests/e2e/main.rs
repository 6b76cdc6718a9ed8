//! The user stories, end to end, as root on one three-node runc cluster:
//! every node a network namespace with its own address on a bridge, its
//! own `tug-kubelet` running real containers and its own `tug-proxy`
//! programming nftables; the control plane on the host. The stories run
//! in order on the same cluster, as a user would go through them:
//!
//! a. `tugctl apply -f manifests/`: six web pods spread over the nodes
//!    and become Ready, while `tugctl get pods -o wide -w` shows it;
//! b. from a pod on node-0, 300 requests to the ClusterIP reach every web
//!    pod on every node; the NodePort answers on every node's address;
//! c. a rolling update to a new image and `rollout undo` back, with not
//!    one failed request in a loop running throughout;
//! d. scaled to zero the ClusterIP refuses connections at once; scaled
//!    back it answers;
//! e. a node cut off goes NotReady, its pods are replaced elsewhere and
//!    the Service answers from the rest;
//! f. `down` leaves nothing behind on the machine.
//!
//! Without root or the tools (runc, CNI plugins, nftables, conntrack,
//! busybox-static) the test says SKIP. The images come from an archive of
//! the machine's busybox imported on every node, so nothing is pulled.
//!
//! Run `cargo build --workspace --bins` first (scripts/test.sh does).

mod support;
mod traffic;

mod apply;
mod node_loss;
mod reach;
mod rollout;
mod scale;
mod teardown;

use support::{E2e, CLIENT_NODE};

#[tokio::test(flavor = "multi_thread")]
async fn user_stories_on_a_three_node_runc_cluster() {
    let Some(mut e2e) = E2e::start().await else {
        return;
    };
    apply::apply_manifests(&e2e).await;
    eprintln!("e2e: starting a client pod on {CLIENT_NODE}");
    let client = e2e.client_pod(CLIENT_NODE).await;
    reach::every_backend_answers(&e2e, &client).await;
    rollout::rolling_update_and_undo_without_a_failed_request(&e2e, &client).await;
    scale::scale_to_zero_refuses_then_answers_again(&e2e, &client).await;
    node_loss::a_lost_node_is_replaced(&mut e2e, &client).await;
    teardown::down_leaves_nothing_behind(e2e).await;
}

//! Story f: `down` leaves the machine as it was before `up`: no network
//! namespace, link, route, nftables table, mount, process or cgroup of
//! the cluster's is left.

use tug_tests::host_state::HostState;

use crate::support::E2e;

pub async fn down_leaves_nothing_behind(e2e: E2e) {
    // Whatever pods exist now (the lost node's, never finished) count too.
    e2e.web_pods().await;
    let E2e {
        cluster,
        before,
        markers,
        work,
        ..
    } = e2e;
    let markers: Vec<String> = markers.into_inner().unwrap().into_iter().collect();
    eprintln!("e2e story f: cluster down");
    cluster.down().await.expect("cluster down");
    let after = HostState::capture();
    let appeared = after.new_since(&before);
    let ours = appeared.mentioning(&markers);
    assert!(
        ours.is_empty(),
        "the cluster left these behind:\n{ours}(its markers: {markers:?})"
    );
    if !appeared.is_empty() {
        eprintln!(
            "e2e: {} things new on the machine since up, none of them this cluster's \
             (other programs running meanwhile)",
            appeared.0.len()
        );
    }
    drop(work);
    eprintln!("e2e: down left nothing behind");
}

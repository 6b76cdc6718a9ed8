//! Story f: `down` leaves the machine as it was before `up`: no network
//! namespace, link, route, nftables table, mount, process or cgroup of
//! the cluster's is left.

use std::collections::BTreeSet;

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
    // The markers must find the running cluster's things, or finding
    // none of them after `down` would prove nothing.
    let running = HostState::capture().new_since(&before).mentioning(&markers);
    let kinds: BTreeSet<&str> = running.0.iter().map(|(kind, _)| *kind).collect();
    for kind in ["netns", "link", "route", "mount", "process", "cgroup"] {
        assert!(
            kinds.contains(kind),
            "the running cluster shows no {kind} among its markers {markers:?}:\n{running}"
        );
    }
    eprintln!(
        "e2e story f: cluster down ({} things of it on the machine now)",
        running.0.len()
    );
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

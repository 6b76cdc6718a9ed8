//! Story c: a rolling update to busybox:1.37 and `rollout undo` back to
//! 1.36, each with a client sending requests through the ClusterIP the
//! whole time: not one of them fails.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::support::{manifests_dir, names, E2e, REPLICAS};
use crate::traffic::Loop;

/// How long a rollout of six pods may take (each new pod starts and
/// passes its probe; each old one gets its preStop delay).
const ROLLOUT: Duration = Duration::from_secs(240);

pub async fn rolling_update_and_undo_without_a_failed_request(e2e: &E2e, client_netns: &Path) {
    let target = SocketAddr::from((e2e.cluster_ip("web").await, 80));

    eprintln!("e2e story c: tugctl apply of web.yaml with busybox:1.37, requests looping");
    let text = std::fs::read_to_string(manifests_dir().join("web.yaml")).expect("web.yaml");
    assert!(
        text.contains("image: busybox:1.36"),
        "web.yaml runs busybox:1.36"
    );
    let edited = e2e.work.path().join("web.yaml");
    std::fs::write(
        &edited,
        text.replace("image: busybox:1.36", "image: busybox:1.37"),
    )
    .expect("writing the edited manifest");
    let before = names(&e2e.web_pods().await);

    let requests = Loop::start(client_netns.to_path_buf(), target);
    let out = e2e
        .tugctl(&["apply", "-f", edited.to_str().expect("a UTF-8 path")])
        .await;
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    rollout_status(e2e).await;
    let updated = e2e
        .wait_web_settled(REPLICAS, "busybox:1.37", None, ROLLOUT)
        .await;
    let tally = requests.stop().await;
    eprintln!("e2e: during the update: {tally}");
    assert!(
        tally.failures.is_empty(),
        "no request fails during a rolling update: {tally}"
    );
    assert!(tally.total() >= 50, "the loop ran throughout: {tally}");
    assert!(
        names(&updated).is_disjoint(&before),
        "every pod was replaced"
    );
    assert!(
        tally.by_backend.keys().any(|b| before.contains(b))
            && tally.by_backend.keys().any(|b| names(&updated).contains(b)),
        "old pods answered, then new ones: {tally}"
    );

    eprintln!("e2e story c: tugctl rollout undo, requests looping");
    let requests = Loop::start(client_netns.to_path_buf(), target);
    let out = e2e.tugctl(&["rollout", "undo", "deployment/web"]).await;
    assert!(out.contains("rolled back"), "{out}");
    rollout_status(e2e).await;
    let restored = e2e
        .wait_web_settled(REPLICAS, "busybox:1.36", None, ROLLOUT)
        .await;
    let tally = requests.stop().await;
    eprintln!("e2e: during the undo: {tally}");
    assert!(
        tally.failures.is_empty(),
        "no request fails during rollout undo: {tally}"
    );
    assert!(tally.total() >= 50, "the loop ran throughout: {tally}");
    assert!(names(&restored).is_disjoint(&names(&updated)));
}

/// `tugctl rollout status deployment/web` until it says the rollout is done.
async fn rollout_status(e2e: &E2e) {
    let out = e2e
        .tugctl(&["rollout", "status", "deployment/web", "--timeout=240s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
}

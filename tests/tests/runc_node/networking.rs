//! The pod sandbox: containers of a pod share the pause container's
//! network (localhost), the pod IP is reachable from the host, the
//! hostname is the pod's name, and each container has its own mounts.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    container_id, container_init_pid, namespace, pod, processes_in_cgroup, sh, start, wait_for,
};

#[tokio::test(flavor = "multi_thread")]
async fn two_containers_share_the_pod_network_but_not_their_mounts() {
    let Some(node) = start("two_containers_share_the_pod_network_but_not_their_mounts").await
    else {
        return;
    };
    let server = sh(
        "web",
        &node.image,
        "mkdir -p /tmp/www && echo \"hello from $(hostname)\" > /tmp/www/index.html \
         && exec httpd -f -p 8080 -h /tmp/www",
    );
    let client = sh(
        "client",
        &node.image,
        "while true; do wget -q -O- http://localhost:8080/ || echo failed; sleep 0.5; done",
    );
    node.create(pod("duo", json!([server, client]), json!({})))
        .await;
    let p = node.wait_running("duo").await;

    // The client reaches the server over localhost, and the page carries
    // the sandbox's hostname: the pod's name.
    wait_for(
        "the client's log to show the page",
        Duration::from_secs(30),
        || async {
            let log = node.logs("duo", "client").await;
            if log.contains("hello from duo") {
                Ok(())
            } else {
                Err(log)
            }
        },
    )
    .await;

    // The pod IP is in the node's range and answers from the host.
    let ip = p.status.pod_ip.clone();
    assert!(!ip.is_empty(), "the pod has an IP");
    assert!(
        ip.starts_with("10."),
        "pod IP {ip} from the node's pod range"
    );
    let url = format!("http://{ip}:8080/");
    let body = wait_for(
        "the pod IP to answer from the host",
        Duration::from_secs(20),
        || async {
            let r = reqwest::get(&url).await.map_err(|e| e.to_string())?;
            r.text().await.map_err(|e| e.to_string())
        },
    )
    .await;
    assert_eq!(body.trim(), "hello from duo");

    // Both containers are in the pause process's network, IPC and UTS
    // namespaces, each in a mount namespace of its own.
    let web = container_init_pid(&container_id(&p, "web")).expect("the web container's process");
    let cli =
        container_init_pid(&container_id(&p, "client")).expect("the client container's process");
    let pod_pids = processes_in_cgroup(&format!("pod{}", p.metadata.uid));
    let pause = pod_pids
        .iter()
        .copied()
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim()
                == "pause"
        })
        .expect("the pause process is in the pod's cgroup");
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(
            namespace(web, kind),
            namespace(pause, kind),
            "web shares {kind}"
        );
        assert_eq!(
            namespace(cli, kind),
            namespace(pause, kind),
            "client shares {kind}"
        );
    }
    assert_ne!(
        namespace(web, "net"),
        namespace(std::process::id(), "net"),
        "not the host's network"
    );
    assert_ne!(
        namespace(web, "mnt"),
        namespace(cli, "mnt"),
        "own mount namespaces"
    );
    assert_ne!(namespace(web, "mnt"), namespace(pause, "mnt"));
}

#[tokio::test(flavor = "multi_thread")]
async fn host_network_pods_use_the_nodes_network() {
    let Some(node) = start("host_network_pods_use_the_nodes_network").await else {
        return;
    };
    let c = sh("app", &node.image, "sleep 3600");
    node.create(pod("hostnet", json!([c]), json!({"hostNetwork": true})))
        .await;
    let p = node.wait_running("hostnet").await;
    assert_eq!(
        p.status.pod_ip, p.status.host_ip,
        "a host-network pod has the node's IP"
    );
    let pid = container_init_pid(&container_id(&p, "app")).expect("its process");
    assert_eq!(namespace(pid, "net"), namespace(std::process::id(), "net"));
}

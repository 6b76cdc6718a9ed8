//! Images: pulled from the local registry by tag and by digest, a wrong
//! tag reported as Kubernetes does (ErrImagePull, then ImagePullBackOff,
//! with the registry's reason), and an OCI archive imported offline.

use std::time::Duration;

use serde_json::json;
use tug_client::{Api, ListParams};

use crate::support::{container, pod, sh, start, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn images_are_pulled_by_tag_and_by_digest() {
    let Some(node) = start("images_are_pulled_by_tag_and_by_digest").await else {
        return;
    };
    node.create(pod(
        "by-tag",
        json!([sh("app", &node.image, "sleep 3600")]),
        json!({}),
    ))
    .await;
    let digest_image = node.image_by_digest.clone();
    node.create(pod(
        "by-digest",
        json!([sh("app", &digest_image, "sleep 3600")]),
        json!({}),
    ))
    .await;
    let tagged = node.wait_running("by-tag").await;
    let pinned = node.wait_running("by-digest").await;
    let digest = digest_image.split_once('@').expect("a digest").1;
    for p in [&tagged, &pinned] {
        let c = container(p, "app").expect("status");
        assert!(
            c.image_id.ends_with(digest),
            "imageID {} names the manifest digest {digest}",
            c.image_id
        );
    }
    assert_eq!(container(&tagged, "app").unwrap().image, node.image);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_tag_backs_off_with_the_registrys_reason() {
    let Some(node) = start("a_wrong_tag_backs_off_with_the_registrys_reason").await else {
        return;
    };
    let missing = node.image.replace(":1.0", ":no-such-tag");
    node.create(pod(
        "bad-tag",
        json!([sh("app", &missing, "true")]),
        json!({}),
    ))
    .await;
    let seen = &std::sync::Mutex::new(std::collections::BTreeSet::new());
    let node = &node;
    wait_for(
        "the container to wait with ErrImagePull and then ImagePullBackOff",
        Duration::from_secs(60),
        || async move {
            let p = node
                .pods()
                .get("bad-tag")
                .await
                .map_err(|e| e.to_string())?;
            let mut seen = seen.lock().unwrap();
            let waiting = container(&p, "app").and_then(|c| c.state.waiting.clone());
            if let Some(w) = waiting {
                if w.reason == "ErrImagePull" {
                    assert!(
                        w.message.contains("manifest unknown")
                            || w.message.contains("MANIFEST_UNKNOWN")
                            || w.message.contains("not found"),
                        "the registry's reason is in the message: {}",
                        w.message
                    );
                }
                seen.insert(w.reason);
            }
            if seen.contains("ErrImagePull") && seen.contains("ImagePullBackOff") {
                Ok(())
            } else {
                Err(format!("seen {seen:?}"))
            }
        },
    )
    .await;
    let events = Api::<tug_api::core::Event>::namespaced(node.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    assert!(
        events.iter().any(|e| e.reason == "Failed"
            && e.message.contains("Failed to pull image")
            && e.involved_object.name == "bad-tag"),
        "a Failed event says why: {:?}",
        events
            .iter()
            .map(|e| (&e.reason, &e.message))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oci_archive_is_imported_offline() {
    let Some(node) = start("an_oci_archive_is_imported_offline").await else {
        return;
    };
    // An image no registry has: the same layout, archived under a name of
    // its own, imported into the node's store by the kubelet binary.
    let archive = node.layout.with_extension("tar");
    tug_tests::images::name_layout(&node.layout, "airgap.local/tools:v1").expect("name the image");
    tug_tests::images::write_oci_archive(&node.layout, &archive).expect("write the OCI archive");
    let kubelet = tug_tests::bins::workspace_binary("tug-kubelet");
    let out = std::process::Command::new(kubelet)
        .args(["image", "import", "--root-dir"])
        .arg(&node.root_dir)
        .arg(&archive)
        .output()
        .expect("run tug-kubelet image import");
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("airgap.local/tools:v1"));
    let c = json!({"name": "app", "image": "airgap.local/tools:v1",
                   "imagePullPolicy": "Never", "command": ["sleep", "3600"]});
    node.create(pod("offline", json!([c]), json!({}))).await;
    node.wait_running("offline").await;
}

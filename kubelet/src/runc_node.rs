//! Putting a real node together: the image store, CNI and the runc
//! runtime built from the kubelet's settings, which are kept in the
//! state directory (`node.json`) so that `tug-kubelet reset` takes down
//! exactly what the kubelet set up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::flags::RuncFlags;
use crate::image::{ImageStore, StoreConfig};
use crate::network::cni::{Cni, CniConfig};
use crate::runtime::runc::{cgroup, RuncConfig, RuncRuntime};
use crate::runtime::Runtime;

/// The file in the state directory holding [`NodeSettings`].
const SETTINGS_FILE: &str = "node.json";

/// What a real node was set up with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSettings {
    /// The state directory (`--root-dir`).
    pub root_dir: PathBuf,
    /// The runc binary.
    pub runc: PathBuf,
    /// Where the CNI plugins are.
    pub cni_bin_dirs: Vec<PathBuf>,
    /// The pod bridge.
    pub bridge: String,
    /// The cgroup pod cgroups are made in.
    pub cgroup_parent: String,
    /// Registries reached over HTTP.
    pub insecure_registries: Vec<String>,
}

impl NodeSettings {
    /// The settings `flags` give node `node_name`.
    pub fn from_flags(flags: &RuncFlags, node_name: &str) -> NodeSettings {
        NodeSettings {
            root_dir: flags.root_dir.clone(),
            runc: flags.runc.clone(),
            cni_bin_dirs: flags.cni_bin_dir.clone(),
            bridge: flags.cni_bridge.clone(),
            cgroup_parent: format!("{}/{node_name}", flags.cgroup_root.trim_end_matches('/')),
            insecure_registries: flags.insecure_registry.clone(),
        }
    }

    /// Keep them in the state directory.
    pub fn save(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.root_dir)
            .with_context(|| format!("creating {}", self.root_dir.display()))?;
        let path = self.root_dir.join(SETTINGS_FILE);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// The settings a kubelet saved in `root_dir`, if it ever ran there.
    pub fn load(root_dir: &Path) -> anyhow::Result<Option<NodeSettings>> {
        let path = root_dir.join(SETTINGS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The image store's settings.
    pub fn image_store(&self) -> StoreConfig {
        image_store_config(&self.root_dir, &self.insecure_registries)
    }

    /// The runtime over these settings (its image store and CNI client),
    /// reading ConfigMaps and Secrets through `client`, on a node with
    /// address `node_ip`.
    pub fn runtime(
        &self,
        client: Option<tug_client::Client>,
        node_ip: std::net::IpAddr,
        images: Arc<ImageStore>,
    ) -> anyhow::Result<RuncRuntime> {
        let cni = Arc::new(Cni::new(CniConfig {
            bin_dirs: self.cni_bin_dirs.clone(),
            bridge: self.bridge.clone(),
            state_dir: self.root_dir.join("cni"),
        })?);
        RuncRuntime::new(RuncConfig {
            root_dir: self.root_dir.clone(),
            runc: self.runc.clone(),
            shim_binary: std::env::current_exe()?,
            cgroup_parent: self.cgroup_parent.clone(),
            images,
            cni,
            client,
            node_ip,
        })
    }
}

/// The image store of the state directory `root_dir`.
pub fn image_store_config(root_dir: &Path, insecure: &[String]) -> StoreConfig {
    StoreConfig {
        root: root_dir.join("images"),
        insecure_registries: insecure.to_vec(),
    }
}

/// `tug-kubelet reset`: stop and remove every pod of the node whose state
/// is in `root_dir` (containers, sandboxes, their IPs, mounts and
/// cgroups), delete its bridge, and remove the state directory. For a
/// node taken out of service (`tugctl cluster down` runs it); the
/// kubelet must not be running.
pub async fn reset(root_dir: &Path) -> anyhow::Result<()> {
    let Some(settings) = NodeSettings::load(root_dir)? else {
        // Never ran here: nothing but the directory to remove.
        return remove_dir(root_dir);
    };
    let images = Arc::new(ImageStore::open(settings.image_store())?);
    let runtime = settings.runtime(None, std::net::Ipv4Addr::LOCALHOST.into(), images)?;
    for uid in runtime.list_pods().await {
        runtime.stop_pod(&uid, std::time::Duration::ZERO).await;
        runtime.remove_pod(&uid).await;
    }
    let _ = tokio::process::Command::new("ip")
        .args(["link", "delete", &settings.bridge])
        .output()
        .await;
    // The node's cgroup, and the cgroup root above it once no other node
    // of this machine uses it.
    let left = cgroup::remove_tree(&settings.cgroup_parent);
    if !left.is_empty() {
        tracing::warn!(?left, "cgroups still in use were left");
    }
    if let Some((root, _)) = settings
        .cgroup_parent
        .trim_end_matches('/')
        .rsplit_once('/')
    {
        if !root.is_empty() {
            for dir in cgroup::dirs_of(root) {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
    remove_dir(root_dir)
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// How often unused images are looked for (the kubelet's image GC period).
const IMAGE_GC_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);

/// Image garbage collection, for ever: every [`IMAGE_GC_PERIOD`], when the
/// image filesystem is fuller than `high` percent, remove images no pod
/// bound to `node_name` uses until it is below `low` percent.
pub async fn run_image_gc(
    client: tug_client::Client,
    node_name: String,
    images: Arc<ImageStore>,
    high: u8,
    low: u8,
) {
    let pods: tug_client::Api<tug_api::core::Pod> = tug_client::Api::all(client);
    let params = tug_client::ListParams::default().fields(&format!("spec.nodeName={node_name}"));
    let mut tick = tokio::time::interval(IMAGE_GC_PERIOD);
    loop {
        tick.tick().await;
        let in_use = match pods.list(&params).await {
            Ok(list) => list
                .items
                .iter()
                .flat_map(|p| p.spec.init_containers.iter().chain(&p.spec.containers))
                .map(|c| c.image.clone())
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "image GC: cannot list the node's pods; skipped");
                continue;
            }
        };
        match images.garbage_collect(&in_use, high, low).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(?removed, "image GC removed unused images")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "image GC failed"),
        }
    }
}

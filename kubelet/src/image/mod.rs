//! The node's OCI image store: images pulled from registries or imported
//! from OCI archives, kept as content-addressed blobs with each layer
//! unpacked once (whiteouts honoured), so a container's rootfs is an
//! overlayfs over the unpacked layers of its image.
//!
//! Layout under the store's root:
//! - `blobs/sha256/<hex>`: manifests, configs and compressed layers, each
//!   verified against its digest before it lands there;
//! - `layers/<hex>/`: the layer whose compressed blob is `sha256:<hex>`,
//!   unpacked (no `:` in the path, so it can go into an overlayfs
//!   `lowerdir=` list);
//! - `index.json`: images, tags and last use (see [`state`]);
//! - `tmp/`: work in progress, emptied when the store opens.

mod archive;
mod blobs;
mod gc;
mod layers;
mod oci;
mod reference;
mod registry;
mod state;
mod store;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use gc::DEFAULT_MIN_AGE;
pub use layers::get_xattr;
pub use reference::{InvalidReference, Reference};

/// Where the store keeps its data and which registries it may reach over
/// plain HTTP.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// The store's root directory (`<root-dir>/images`).
    pub root: PathBuf,
    /// Registries (`host:port`) reached over HTTP instead of HTTPS
    /// (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
}

/// `imagePullPolicy`, with Kubernetes' default (`Always` for `:latest`
/// or no tag, else `IfNotPresent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull every time a container starts (the manifest is checked; blobs
    /// already held are not fetched again).
    Always,
    /// Pull only when the store does not hold the image.
    IfNotPresent,
    /// Never pull; fail with `ErrImageNeverPull` when absent.
    Never,
}

impl PullPolicy {
    /// The policy for a container: its `imagePullPolicy`, or the default
    /// for its image reference when empty.
    pub fn for_container(image_pull_policy: &str, image: &str) -> PullPolicy {
        match image_pull_policy {
            "Always" => PullPolicy::Always,
            "IfNotPresent" => PullPolicy::IfNotPresent,
            "Never" => PullPolicy::Never,
            // Kubernetes' defaulting: the tag after parsing (so no tag and
            // no digest counts as `latest`).
            _ => match Reference::parse(image) {
                Ok(r) if r.tag.as_deref() == Some(reference::DEFAULT_TAG) => PullPolicy::Always,
                _ => PullPolicy::IfNotPresent,
            },
        }
    }
}

/// The parts of an image config a container is built from.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageConfig {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env`, `NAME=value` each.
    pub env: Vec<String>,
    /// `WorkingDir` (empty: `/`).
    pub working_dir: String,
    /// `User` (`uid`, `uid:gid`, or a name); empty: root.
    pub user: String,
}

/// An image held by the store, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// The reference, normalised (`docker.io/library/busybox:latest`).
    pub reference: String,
    /// `imageID` as Kubernetes reports it: the repo digest,
    /// `docker.io/library/busybox@sha256:<manifest digest>`.
    pub image_id: String,
    /// The unpacked layer directories, bottom layer first (overlayfs
    /// takes them as lowerdir in reverse).
    pub layers: Vec<PathBuf>,
    /// The image's config.
    pub config: ImageConfig,
}

/// Why an image could not be had.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PullError {
    /// `ErrImagePull`, `ErrImageNeverPull` or `InvalidImageName`.
    pub reason: &'static str,
    /// What went wrong, the registry's own reason included.
    pub message: String,
}

impl PullError {
    /// `InvalidImageName`, worded as Kubernetes words it.
    pub fn invalid_name(image: &str) -> PullError {
        PullError {
            reason: "InvalidImageName",
            message: format!(
                "Failed to apply default image tag {image:?}: {}",
                InvalidReference(image.to_string())
            ),
        }
    }

    /// `ErrImageNeverPull`, worded as Kubernetes words it.
    pub fn never_pull(image: &str) -> PullError {
        PullError {
            reason: "ErrImageNeverPull",
            message: format!("Container image {image:?} is not present with pull policy of Never"),
        }
    }

    /// `ErrImagePull` for `reference`, with the cause's chain.
    pub fn pull_failed(reference: &str, cause: &anyhow::Error) -> PullError {
        PullError {
            reason: "ErrImagePull",
            message: format!("failed to pull and unpack image {reference:?}: {cause:#}"),
        }
    }
}

/// One image the store holds, for the Node's `status.images`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSummary {
    /// Its names: references and repo digests.
    pub names: Vec<String>,
    /// Bytes on disk (compressed layers).
    pub size_bytes: i64,
}

/// Counters of registry traffic (for metrics, and for tests that check
/// that racing pulls of one image fetch it once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Manifests (and indexes) fetched from registries.
    pub manifests_fetched: u64,
    /// Blobs (configs, layers) fetched from registries.
    pub blobs_fetched: u64,
}

/// The store.
pub struct ImageStore {
    config: StoreConfig,
    blobs: blobs::BlobStore,
    layers_dir: PathBuf,
    tmp_dir: PathBuf,
    index: state::Index,
    registry: registry::RegistryClient,
    /// One lock per normalised reference, holding when that reference was
    /// last resolved at its registry: racing `ensure`s pull once.
    pulls: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
    /// Pulls and imports read, garbage collection writes: GC never removes
    /// what a pull is about to hand out.
    gc_lock: tokio::sync::RwLock<()>,
    manifests_fetched: AtomicU64,
    blobs_fetched: AtomicU64,
}

impl ImageStore {
    /// Open (or create) the store under `config.root`.
    pub fn open(config: StoreConfig) -> anyhow::Result<ImageStore> {
        store::open(config)
    }

    /// The image `reference` under `policy`: from the store, or pulled.
    pub async fn ensure(&self, reference: &str, policy: PullPolicy) -> Result<Image, PullError> {
        self.ensure_image(reference, policy).await
    }

    /// Import every image of an OCI archive (a tar of an OCI image
    /// layout, tagged by `org.opencontainers.image.ref.name`); returns
    /// the references imported.
    pub async fn import_archive(&self, path: &Path) -> anyhow::Result<Vec<String>> {
        self.import(path).await
    }

    /// Every image held.
    pub fn list(&self) -> Vec<ImageSummary> {
        self.index.read(|state| {
            state
                .images
                .values()
                .map(|img| ImageSummary {
                    names: state.names(img),
                    size_bytes: img.size,
                })
                .collect()
        })
    }

    /// Remove images no container uses (`in_use` holds references or
    /// image ids) when the store's filesystem is fuller than
    /// `high_percent`, oldest-used first, until below `low_percent`.
    /// Returns the references removed.
    pub async fn garbage_collect(
        &self,
        in_use: &HashSet<String>,
        high_percent: u8,
        low_percent: u8,
    ) -> anyhow::Result<Vec<String>> {
        self.garbage_collect_with(in_use, high_percent, low_percent, DEFAULT_MIN_AGE)
            .await
    }

    /// Registry traffic so far.
    pub fn stats(&self) -> StoreStats {
        use std::sync::atomic::Ordering::Relaxed;
        StoreStats {
            manifests_fetched: self.manifests_fetched.load(Relaxed),
            blobs_fetched: self.blobs_fetched.load(Relaxed),
        }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.config.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_defaults_like_kubernetes_and_an_explicit_one_wins() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let digest_ref = format!("busybox@{d}");
        let cases = [
            ("", "busybox", PullPolicy::Always),
            ("", "busybox:latest", PullPolicy::Always),
            ("", "busybox:1.36", PullPolicy::IfNotPresent),
            ("", digest_ref.as_str(), PullPolicy::IfNotPresent),
            ("", "localhost:5000/x:v1", PullPolicy::IfNotPresent),
            ("", "localhost:5000/x", PullPolicy::Always),
            ("Never", "busybox", PullPolicy::Never),
            ("Always", "busybox:1", PullPolicy::Always),
            ("IfNotPresent", "busybox", PullPolicy::IfNotPresent),
        ];
        for (policy, image, want) in cases {
            assert_eq!(
                PullPolicy::for_container(policy, image),
                want,
                "{policy:?} {image:?}"
            );
        }
    }

    #[test]
    fn errors_are_worded_as_kubernetes_words_them() {
        let e = PullError::never_pull("busybox:1");
        assert_eq!(e.reason, "ErrImageNeverPull");
        assert_eq!(
            e.message,
            "Container image \"busybox:1\" is not present with pull policy of Never"
        );
        let e = PullError::invalid_name("Bad");
        assert_eq!(e.reason, "InvalidImageName");
        assert!(
            e.message.contains("invalid reference format"),
            "{}",
            e.message
        );
    }
}

//! The node's OCI image store: images pulled from registries or imported
//! from OCI archives, kept as content-addressed blobs with each layer
//! unpacked once (whiteouts honoured), so a container's rootfs is an
//! overlayfs over the unpacked layers of its image.
//!
//! SKELETON (issue 5 integration): the public surface below is fixed;
//! the images engineer fills in the bodies and adds private submodules.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

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
        let _ = (image_pull_policy, image);
        todo!("images engineer")
    }
}

/// The parts of an image config a container is built from.
#[derive(Clone, Debug, Default, PartialEq)]
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

/// One image the store holds, for the Node's `status.images`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSummary {
    /// Its names: references and repo digests.
    pub names: Vec<String>,
    /// Bytes on disk (compressed layers).
    pub size_bytes: i64,
}

/// The store.
pub struct ImageStore {
    _config: StoreConfig,
}

impl ImageStore {
    /// Open (or create) the store under `config.root`.
    pub fn open(config: StoreConfig) -> anyhow::Result<ImageStore> {
        Ok(ImageStore { _config: config })
    }

    /// The image `reference` under `policy`: from the store, or pulled.
    pub async fn ensure(&self, reference: &str, policy: PullPolicy) -> Result<Image, PullError> {
        let _ = (reference, policy);
        todo!("images engineer")
    }

    /// Import every image of an OCI archive (a tar of an OCI image
    /// layout, tagged by `org.opencontainers.image.ref.name`); returns
    /// the references imported.
    pub async fn import_archive(&self, path: &Path) -> anyhow::Result<Vec<String>> {
        let _ = path;
        todo!("images engineer")
    }

    /// Every image held.
    pub fn list(&self) -> Vec<ImageSummary> {
        todo!("images engineer")
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
        let _ = (in_use, high_percent, low_percent);
        todo!("images engineer")
    }
}

//! The store's pull path: opening the store, looking images up, and
//! fetching an image (from a registry or an OCI layout) into blobs,
//! unpacked layers and an index record.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Instant;

use anyhow::Context;

use super::blobs::{digest_hex, sha256_digest, BlobStore};
use super::oci::{self, ConfigFile, Fetched};
use super::reference::Reference;
use super::registry::RegistryClient;
use super::state::{ImageRecord, Index};
use super::{layers, Image, ImageConfig, ImageStore, PullError, PullPolicy, StoreConfig};

/// How far `last_used` may lag before a use is written to disk (bounds
/// index writes on the pod start path; GC order only needs minutes).
const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// Layer media types the store cannot unpack.
const UNSUPPORTED_LAYER_MARKERS: [&str; 2] = ["zstd", "foreign"];

/// Open (or create) the store.
pub fn open(config: StoreConfig) -> anyhow::Result<ImageStore> {
    let root = config.root.clone();
    let tmp_root = root.join("tmp");
    fs::create_dir_all(&tmp_root)?;
    clear_dead_scratch(&tmp_root);
    // Each process works in its own scratch dir (same filesystem as the
    // store, so renames into place are atomic).
    let tmp_dir = tmp_root.join(format!(
        "{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let blobs = BlobStore::open(&root, &tmp_dir)?;
    let layers_dir = root.join("layers");
    fs::create_dir_all(&layers_dir)?;
    let index = Index::open(&root)?;
    Ok(ImageStore {
        registry: RegistryClient::new(&config.insecure_registries)?,
        config,
        blobs,
        layers_dir,
        tmp_dir,
        index,
        pulls: Mutex::new(HashMap::new()),
        gc_lock: tokio::sync::RwLock::new(()),
        manifests_fetched: AtomicU64::new(0),
        blobs_fetched: AtomicU64::new(0),
    })
}

impl Drop for ImageStore {
    fn drop(&mut self) {
        // Our scratch dir; anything in it is unfinished work of ours.
        let _ = fs::remove_dir_all(&self.tmp_dir);
    }
}

/// Remove scratch dirs (`<pid>-<n>`) of processes that are gone: an
/// interrupted pull or import nobody will finish.
fn clear_dead_scratch(tmp_root: &Path) {
    let Ok(entries) = fs::read_dir(tmp_root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Where an image's manifests and blobs come from.
pub(super) enum Source<'a> {
    /// A registry, for this reference's repository.
    Registry(&'a Reference),
    /// An OCI image layout on disk.
    Layout(&'a Path),
}

pub(super) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl ImageStore {
    pub(super) async fn ensure_image(
        &self,
        image: &str,
        policy: PullPolicy,
    ) -> Result<Image, PullError> {
        // A resolution at the registry that finished after this call began
        // is as good as our own (racing `Always` pulls share one).
        let started = Instant::now();
        let r = Reference::parse(image).map_err(|_| PullError::invalid_name(image))?;
        let _no_gc = self.gc_lock.read().await;
        if policy != PullPolicy::Always {
            if let Some(img) = self.held(&r).await {
                return Ok(img);
            }
            if policy == PullPolicy::Never {
                return Err(PullError::never_pull(image));
            }
        }
        let lock = self.pull_lock(&r.to_string());
        let mut resolved = lock.lock().await;
        // Whoever held the lock before us may have done our work.
        let fresh = resolved.is_some_and(|at| at >= started);
        if policy == PullPolicy::IfNotPresent || fresh {
            if let Some(img) = self.held(&r).await {
                return Ok(img);
            }
        }
        let record = self
            .pull(&r)
            .await
            .map_err(|e| PullError::pull_failed(&r.to_string(), &e))?;
        *resolved = Some(Instant::now());
        Ok(self.image_of(&r, &record))
    }

    fn pull_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<Option<Instant>>> {
        let mut pulls = self.pulls.lock().expect("pull locks");
        pulls.entry(key.to_string()).or_default().clone()
    }

    /// The record `r` resolves to in the index: by tag, or by digest
    /// within the same repository.
    fn find(&self, r: &Reference) -> Option<ImageRecord> {
        self.index.read(|state| {
            let digest = match (&r.digest, r.tagged()) {
                (Some(d), _) => d.clone(),
                (None, Some(tag)) => state.tags.get(&tag)?.clone(),
                (None, None) => return None,
            };
            state
                .images
                .get(&digest)
                .filter(|img| img.repos.contains(&r.repo()))
                .cloned()
        })
    }

    /// The image `r` if held and usable (layers unpacked again from their
    /// blobs if someone removed a layer directory); marks it used.
    async fn held(&self, r: &Reference) -> Option<Image> {
        let record = self.find(r)?;
        if let Err(e) = self.unpack_all(&record).await {
            tracing::warn!(image = %r, error = %format!("{e:#}"), "held image is incomplete");
            return None;
        }
        self.touch(&record.digest);
        Some(self.image_of(r, &record))
    }

    fn touch(&self, digest: &str) {
        let now = now_unix();
        let stale = self.index.read(|s| {
            s.images
                .get(digest)
                .is_some_and(|img| now - img.last_used >= LAST_USED_RESOLUTION_SECS)
        });
        if stale {
            let saved = self.index.modify(|s| {
                if let Some(img) = s.images.get_mut(digest) {
                    img.last_used = now;
                }
            });
            if let Err(e) = saved {
                tracing::warn!(error = %format!("{e:#}"), "saving the image index");
            }
        }
    }

    fn image_of(&self, r: &Reference, record: &ImageRecord) -> Image {
        Image {
            reference: r.to_string(),
            image_id: format!("{}@{}", r.repo(), record.digest),
            layers: record.layers.iter().map(|d| self.layer_dir(d)).collect(),
            config: record.config.clone(),
        }
    }

    /// Where the layer with compressed digest `digest` is unpacked.
    pub(super) fn layer_dir(&self, digest: &str) -> std::path::PathBuf {
        self.layers_dir.join(digest_hex(digest))
    }

    /// Resolve `r` at its registry and fetch what the store lacks.
    async fn pull(&self, r: &Reference) -> anyhow::Result<ImageRecord> {
        let source = Source::Registry(r);
        let (top, content_type) = self
            .fetch_manifest(&source, r.manifest_ref())
            .await
            .with_context(|| format!("failed to resolve reference \"{r}\""))?;
        let top_digest = sha256_digest(&top);
        if let Some(want) = &r.digest {
            if *want != top_digest {
                anyhow::bail!("manifest digest mismatch: asked for {want}, got {top_digest}");
            }
        }
        self.install(
            &source,
            &r.repo(),
            r.tagged(),
            &top,
            &content_type,
            &top_digest,
        )
        .await
    }

    async fn fetch_manifest(
        &self,
        source: &Source<'_>,
        reference: &str,
    ) -> anyhow::Result<(Vec<u8>, String)> {
        match source {
            Source::Registry(r) => {
                self.manifests_fetched.fetch_add(1, Ordering::Relaxed);
                self.registry.manifest(r, reference).await
            }
            Source::Layout(dir) => {
                let path = dir.join("blobs/sha256").join(digest_hex(reference));
                let bytes = fs::read(&path)
                    .with_context(|| format!("reading {} from the layout", reference))?;
                Ok((bytes, String::new()))
            }
        }
    }

    /// Bring the blob `desc` into the store unless it is there.
    async fn fetch_blob(&self, source: &Source<'_>, desc: &oci::Descriptor) -> anyhow::Result<()> {
        let digest = desc.digest.as_str();
        if self.blobs.has(digest) {
            return Ok(());
        }
        match source {
            Source::Registry(r) => {
                self.blobs_fetched.fetch_add(1, Ordering::Relaxed);
                let mut w = self.blobs.writer(digest)?;
                self.registry.blob(r, digest, desc.size, &mut w).await?;
                w.commit().with_context(|| format!("blob {digest}"))?;
            }
            Source::Layout(dir) => {
                let src = dir.join("blobs/sha256").join(digest_hex(digest));
                self.blobs
                    .put_file(digest, &src)
                    .with_context(|| format!("blob {digest} of the layout"))?;
            }
        }
        Ok(())
    }

    /// Store the image whose top document (`top`, digest `top_digest`) was
    /// fetched from `source`: choose the platform, fetch blobs, unpack
    /// layers, and record it under `repo` (and `tag`).
    pub(super) async fn install(
        &self,
        source: &Source<'_>,
        repo: &str,
        tag: Option<String>,
        top: &[u8],
        content_type: &str,
        top_digest: &str,
    ) -> anyhow::Result<ImageRecord> {
        let (manifest_digest, manifest) = match oci::parse_manifest(content_type, top)? {
            Fetched::Manifest(m) => (top_digest.to_string(), m),
            Fetched::Index(index) => {
                let arch = crate::config::go_arch();
                let d = oci::select_platform(&index, arch).ok_or_else(|| {
                    anyhow::anyhow!("no match for platform linux/{arch} in the manifest list")
                })?;
                let (bytes, ct) = self.fetch_manifest(source, &d.digest).await?;
                let actual = sha256_digest(&bytes);
                if actual != d.digest {
                    anyhow::bail!(
                        "manifest digest mismatch: expected {}, got {actual}",
                        d.digest
                    );
                }
                let ct = if ct.is_empty() {
                    d.media_type.clone()
                } else {
                    ct
                };
                match oci::parse_manifest(&ct, &bytes)? {
                    Fetched::Manifest(m) => {
                        self.blobs.put(&d.digest, &bytes)?;
                        (d.digest.clone(), m)
                    }
                    Fetched::Index(_) => anyhow::bail!("nested image indexes are not supported"),
                }
            }
        };
        if !self.blobs.has(top_digest) {
            self.blobs.put(top_digest, top)?;
        }
        for layer in &manifest.layers {
            if UNSUPPORTED_LAYER_MARKERS
                .iter()
                .any(|m| layer.media_type.contains(m))
            {
                anyhow::bail!(
                    "layer {}: unsupported media type {}",
                    layer.digest,
                    layer.media_type
                );
            }
        }
        self.fetch_blob(source, &manifest.config).await?;
        for layer in &manifest.layers {
            self.fetch_blob(source, layer).await?;
        }
        let config: ConfigFile = serde_json::from_slice(&self.blobs.read(&manifest.config.digest)?)
            .context("parsing the image config")?;
        let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if !diff_ids.is_empty() && diff_ids.len() != manifest.layers.len() {
            anyhow::bail!(
                "image config lists {} diff_ids for {} layers",
                diff_ids.len(),
                manifest.layers.len()
            );
        }
        let c = config.config.unwrap_or_default();
        let mut record = ImageRecord {
            digest: top_digest.to_string(),
            manifest: manifest_digest,
            config_digest: manifest.config.digest.clone(),
            layers: manifest.layers.iter().map(|l| l.digest.clone()).collect(),
            config: ImageConfig {
                entrypoint: c.entrypoint.unwrap_or_default(),
                cmd: c.cmd.unwrap_or_default(),
                env: c.env.unwrap_or_default(),
                working_dir: c.working_dir.unwrap_or_default(),
                user: c.user.unwrap_or_default(),
            },
            repos: Default::default(),
            size: 0,
            last_used: now_unix(),
        };
        record.size = std::iter::once(&record.config_digest)
            .chain(record.layers.iter())
            .map(|d| self.blobs.size(d) as i64)
            .sum();
        self.unpack_layers(&record, &diff_ids).await?;
        let digest = record.digest.clone();
        self.index.modify(|state| {
            state.insert(record, repo, tag);
            state.images[&digest].clone()
        })
    }

    /// Unpack every layer of `record` not unpacked yet (diff_ids unknown).
    async fn unpack_all(&self, record: &ImageRecord) -> anyhow::Result<()> {
        if record.layers.iter().all(|d| self.layer_dir(d).is_dir()) {
            return Ok(());
        }
        let config: ConfigFile = serde_json::from_slice(&self.blobs.read(&record.config_digest)?)?;
        let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        self.unpack_layers(record, &diff_ids).await
    }

    async fn unpack_layers(&self, record: &ImageRecord, diff_ids: &[String]) -> anyhow::Result<()> {
        let jobs: Vec<_> = record
            .layers
            .iter()
            .enumerate()
            .filter(|(_, d)| !self.layer_dir(d).is_dir())
            .map(|(i, d)| {
                (
                    self.blobs.path(d),
                    self.layer_dir(d),
                    diff_ids.get(i).cloned(),
                )
            })
            .collect();
        if jobs.is_empty() {
            return Ok(());
        }
        let scratch = self.tmp_dir.clone();
        tokio::task::spawn_blocking(move || {
            for (blob, dest, diff_id) in jobs {
                layers::unpack_layer(&blob, &dest, diff_id.as_deref(), &scratch)?;
            }
            anyhow::Ok(())
        })
        .await?
    }
}

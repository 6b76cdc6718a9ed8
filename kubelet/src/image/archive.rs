//! Offline import of an OCI archive: a tar (optionally gzipped) of an OCI
//! image layout whose `index.json` names its images with
//! `io.containerd.image.name` (a full reference) or
//! `org.opencontainers.image.ref.name` (a reference, normalised as any).

use std::fs;
use std::path::Path;

use anyhow::Context;

use super::blobs::sha256_digest;
use super::layers::RemoveOnDrop;
use super::oci::Index;
use super::reference::Reference;
use super::store::Source;
use super::ImageStore;

/// containerd's annotation for the full image name.
const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The OCI annotation for a manifest's reference name.
const OCI_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The reference an index entry names, if any.
pub fn entry_name(annotations: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    annotations
        .get(CONTAINERD_NAME)
        .or_else(|| annotations.get(OCI_REF_NAME))
        .map(String::as_str)
        .filter(|n| !n.is_empty())
}

impl ImageStore {
    pub(super) async fn import(&self, archive: &Path) -> anyhow::Result<Vec<String>> {
        let _no_gc = self.gc_lock.read().await;
        let scratch = self
            .tmp_dir
            .join(format!("import-{:016x}", rand::random::<u64>()));
        let _cleanup = RemoveOnDrop(scratch.clone());
        let (src, dst) = (archive.to_path_buf(), scratch.clone());
        tokio::task::spawn_blocking(move || extract(&src, &dst))
            .await?
            .with_context(|| format!("unpacking {}", archive.display()))?;
        if !scratch.join("oci-layout").is_file() {
            anyhow::bail!("{}: not an OCI archive (no oci-layout)", archive.display());
        }
        let index: Index = serde_json::from_slice(&fs::read(scratch.join("index.json"))?)
            .context("reading the archive's index.json")?;
        let mut imported = Vec::new();
        for entry in &index.manifests {
            let Some(name) = entry_name(&entry.annotations) else {
                tracing::warn!(digest = %entry.digest, "archive entry without a name skipped");
                continue;
            };
            let r = Reference::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let path = scratch
                .join("blobs/sha256")
                .join(super::blobs::digest_hex(&entry.digest));
            let top =
                fs::read(&path).with_context(|| format!("{name}: reading {}", entry.digest))?;
            let actual = sha256_digest(&top);
            if actual != entry.digest {
                anyhow::bail!(
                    "{name}: digest mismatch: expected {}, got {actual}",
                    entry.digest
                );
            }
            self.install(
                &Source::Layout(&scratch),
                &r.repo(),
                r.tagged(),
                &top,
                &entry.media_type,
                &entry.digest,
            )
            .await
            .with_context(|| format!("importing {name}"))?;
            imported.push(r.to_string());
        }
        if imported.is_empty() {
            anyhow::bail!("{}: the archive names no image", archive.display());
        }
        Ok(imported)
    }
}

/// Unpack the archive's regular files and directories into `dst`.
fn extract(archive: &Path, dst: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dst)?;
    let reader = super::layers::open_maybe_gzip(archive)?;
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_dir() {
            entry.unpack_in(dst)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerds_name_wins_over_the_oci_ref_name() {
        let mut a = std::collections::BTreeMap::new();
        assert_eq!(entry_name(&a), None);
        a.insert(OCI_REF_NAME.to_string(), "busybox:1".to_string());
        assert_eq!(entry_name(&a), Some("busybox:1"));
        a.insert(
            CONTAINERD_NAME.to_string(),
            "localhost:5000/b:2".to_string(),
        );
        assert_eq!(entry_name(&a), Some("localhost:5000/b:2"));
    }
}

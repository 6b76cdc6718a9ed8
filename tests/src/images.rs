//! Test images built from the machine's static busybox (Debian's
//! `busybox-static`), written as OCI image layouts and archives, so no test
//! pulls anything from the internet.
//!
//! [`build_busybox_image`] makes a one-layer image; [`LayerBuilder`] and
//! [`write_layout`] make others (extra layers with whiteouts, ...);
//! [`write_oci_archive`] tars a layout for offline import.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest as _, Sha256};

/// The static busybox the images are built from.
pub const BUSYBOX: &str = "/bin/busybox";

/// The applets linked in `bin/` of the busybox image.
pub const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "sleep", "hostname", "httpd", "wget", "nc", "ps", "id", "env",
    "true", "false", "head", "tail", "date", "dd", "mkdir", "touch", "kill", "ip", "ifconfig",
    "cut", "grep", "seq", "rm", "mv", "cp", "ln", "chmod", "pwd", "test", "[", "wc", "stat",
    "mount", "uname", "whoami", "yes", "printf", "expr", "sed", "awk", "find", "readlink",
];

/// Media types the layouts use.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The annotation naming a manifest in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A fixed mtime so the same inputs give the same digests.
const MTIME: u64 = 1_700_000_000;

/// Whether the static busybox is installed.
pub fn busybox_available() -> bool {
    Path::new(BUSYBOX).is_file()
}

/// The config of a test image.
#[derive(Clone, Debug, Default)]
pub struct ImageSpec {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env`, `NAME=value` each.
    pub env: Vec<String>,
}

/// An image written as an OCI layout.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    /// The layout directory.
    pub dir: PathBuf,
    /// `sha256:` digest of the image manifest (what a push by tag yields).
    pub manifest_digest: String,
    /// Digest of the config blob.
    pub config_digest: String,
    /// Digests of the compressed layers, bottom first.
    pub layer_digests: Vec<String>,
}

/// A finished layer: gzip bytes and the digest of the uncompressed tar.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The gzip-compressed tar.
    pub gzip: Vec<u8>,
    /// sha256 of the uncompressed tar (the config's `diff_id`).
    pub diff_id: String,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Builds one layer tar entry by entry (root-owned unless told).
pub struct LayerBuilder {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerBuilder {
    /// An empty layer.
    pub fn new() -> LayerBuilder {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        LayerBuilder { tar }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h
    }

    /// A directory.
    pub fn dir(mut self, path: &str, mode: u32) -> anyhow::Result<Self> {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0);
        self.tar.append_data(&mut h, path, std::io::empty())?;
        Ok(self)
    }

    /// A regular file with `data`, owned by `uid:gid`.
    pub fn file_owned(
        mut self,
        path: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> anyhow::Result<Self> {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.tar.append_data(&mut h, path, data)?;
        Ok(self)
    }

    /// A root-owned regular file.
    pub fn file(self, path: &str, data: &[u8], mode: u32) -> anyhow::Result<Self> {
        self.file_owned(path, data, mode, 0, 0)
    }

    /// A symlink `path -> target`.
    pub fn symlink(mut self, path: &str, target: &str) -> anyhow::Result<Self> {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.tar.append_link(&mut h, path, target)?;
        Ok(self)
    }

    /// A hard link `path` to the earlier entry `target` (a layer path).
    pub fn hardlink(mut self, path: &str, target: &str) -> anyhow::Result<Self> {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        self.tar.append_link(&mut h, path, target)?;
        Ok(self)
    }

    /// An OCI whiteout hiding `path` of lower layers.
    pub fn whiteout(self, path: &str) -> anyhow::Result<Self> {
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n),
            None => (String::new(), path),
        };
        self.file(&format!("{dir}.wh.{name}"), b"", 0o644)
    }

    /// An OCI opaque marker: `dir` hides everything lower layers put in it.
    pub fn opaque(self, dir: &str) -> anyhow::Result<Self> {
        self.file(
            &format!("{}/.wh..wh..opq", dir.trim_end_matches('/')),
            b"",
            0o644,
        )
    }

    /// Finish: the gzip bytes and the diff_id.
    pub fn finish(self) -> anyhow::Result<Layer> {
        let tar_bytes = self.tar.into_inner()?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar_bytes)?;
        Ok(Layer {
            gzip: gz.finish()?,
            diff_id: sha256(&tar_bytes),
        })
    }
}

/// The busybox layer: `bin/busybox`, applet links, `etc/passwd` and
/// `etc/group` with root and nobody (65534), `tmp/` (1777).
pub fn busybox_layer() -> anyhow::Result<Layer> {
    let busybox = fs::read(BUSYBOX).with_context(|| format!("reading {BUSYBOX}"))?;
    let mut b = LayerBuilder::new()
        .dir("bin", 0o755)?
        .file("bin/busybox", &busybox, 0o755)?;
    for applet in APPLETS {
        b = b.symlink(&format!("bin/{applet}"), "busybox")?;
    }
    b.dir("etc", 0o755)?
        .file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
        )?
        .file("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)?
        .dir("root", 0o700)?
        .dir("tmp", 0o1777)?
        .finish()
}

fn write_blob(dir: &Path, bytes: &[u8]) -> anyhow::Result<String> {
    let digest = sha256(bytes);
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes)?;
    Ok(digest)
}

/// The node's architecture as Go spells it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Write an OCI layout at `dir` with `layers` (bottom first) and `spec`.
pub fn write_layout(dir: &Path, layers: &[Layer], spec: &ImageSpec) -> anyhow::Result<BuiltImage> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut container = serde_json::Map::new();
    if !spec.entrypoint.is_empty() {
        container.insert("Entrypoint".into(), serde_json::json!(spec.entrypoint));
    }
    if !spec.cmd.is_empty() {
        container.insert("Cmd".into(), serde_json::json!(spec.cmd));
    }
    if !spec.env.is_empty() {
        container.insert("Env".into(), serde_json::json!(spec.env));
    }
    let config = serde_json::json!({
        "architecture": go_arch(),
        "os": "linux",
        "config": container,
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
        },
    });
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = write_blob(dir, &config_bytes)?;
    let mut layer_descs = Vec::new();
    let mut layer_digests = Vec::new();
    for l in layers {
        let d = write_blob(dir, &l.gzip)?;
        layer_descs.push(serde_json::json!({
            "mediaType": OCI_LAYER_GZIP, "digest": d, "size": l.gzip.len(),
        }));
        layer_digests.push(d);
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_bytes.len()},
        "layers": layer_descs,
    });
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let manifest_digest = write_blob(dir, &manifest_bytes)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": manifest_digest,
            "size": manifest_bytes.len(),
            "platform": {"architecture": go_arch(), "os": "linux"},
        }],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(BuiltImage {
        dir: dir.to_path_buf(),
        manifest_digest,
        config_digest,
        layer_digests,
    })
}

/// The one-layer busybox image at `dir`.
pub fn build_busybox_image(dir: &Path, spec: ImageSpec) -> anyhow::Result<BuiltImage> {
    write_layout(dir, &[busybox_layer()?], &spec)
}

/// Wrap the layout's image in an image index listing it for this node's
/// platform beside an entry for another one, and point `index.json` at
/// that index; returns the index digest (what a push by tag then yields).
pub fn wrap_in_image_index(dir: &Path) -> anyhow::Result<String> {
    let top: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("index.json"))?)?;
    let own = top["manifests"][0].clone();
    let mut other = own.clone();
    other["platform"] = serde_json::json!({"architecture": "s390x", "os": "linux"});
    // The other platform's manifest: the same content, so the registry
    // holds it, but never the one a node of ours picks.
    let image_index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [other, own],
    });
    let bytes = serde_json::to_vec(&image_index)?;
    let digest = write_blob(dir, &bytes)?;
    let outer = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_INDEX, "digest": digest, "size": bytes.len()}],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&outer)?)?;
    Ok(digest)
}

/// Name the layout's images `reference` (`org.opencontainers.image.ref.name`
/// on every entry of `index.json`).
pub fn name_layout(dir: &Path, reference: &str) -> anyhow::Result<()> {
    let path = dir.join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&fs::read(&path)?)?;
    for m in index["manifests"]
        .as_array_mut()
        .context("index.json without manifests")?
    {
        m["annotations"] = serde_json::json!({ REF_NAME: reference });
    }
    fs::write(&path, serde_json::to_vec_pretty(&index)?)?;
    Ok(())
}

/// Tar the layout at `layout_dir` into `tar_path` (an OCI archive).
pub fn write_oci_archive(layout_dir: &Path, tar_path: &Path) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(fs::File::create(tar_path)?);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_path_with_name(layout_dir.join("oci-layout"), "oci-layout")?;
    tar.append_path_with_name(layout_dir.join("index.json"), "index.json")?;
    tar.append_dir_all("blobs", layout_dir.join("blobs"))?;
    tar.into_inner()?.sync_all()?;
    Ok(())
}

/// The references [`demo_archive`] holds: what `manifests/` runs.
pub const DEMO_IMAGES: &[&str] = &[
    "docker.io/library/busybox:1.36",
    "docker.io/library/busybox:1.37",
];

/// Name the layout's (first) image by every one of `references`: one
/// `index.json` entry each, all pointing at the same manifest, as
/// `docker save busybox:1.36 busybox:1.37` of one image would.
pub fn tag_layout(dir: &Path, references: &[&str]) -> anyhow::Result<()> {
    let path = dir.join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&fs::read(&path)?)?;
    let first = index["manifests"]
        .get(0)
        .cloned()
        .context("index.json without manifests")?;
    let entries: Vec<serde_json::Value> = references
        .iter()
        .map(|r| {
            let mut e = first.clone();
            e["annotations"] = serde_json::json!({ REF_NAME: r });
            e
        })
        .collect();
    index["manifests"] = serde_json::Value::Array(entries);
    fs::write(&path, serde_json::to_vec_pretty(&index)?)?;
    Ok(())
}

/// Write `demo-images.tar` in `dir`: an OCI archive of the machine's
/// busybox tagged as [`DEMO_IMAGES`] (Docker Hub's `busybox:1.36` and
/// `:1.37`, the same content under two tags), with busybox's own config
/// (`Cmd ["sh"]`, the usual `PATH`). Imported into a node's image store
/// (`ClusterSpec.image_archives`, `tug-kubelet image import`), it lets
/// `manifests/` apply unchanged on a machine without internet.
///
/// Panics when busybox-static is missing or `dir` is not writable: check
/// [`busybox_available`] first.
pub fn demo_archive(dir: &Path) -> PathBuf {
    let build = || -> anyhow::Result<PathBuf> {
        let layout = dir.join("demo-images");
        build_busybox_image(
            &layout,
            ImageSpec {
                cmd: vec!["sh".into()],
                env: vec![
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                ],
                ..Default::default()
            },
        )?;
        tag_layout(&layout, DEMO_IMAGES)?;
        let archive = dir.join("demo-images.tar");
        write_oci_archive(&layout, &archive)?;
        fs::remove_dir_all(&layout)?;
        Ok(archive)
    };
    build().unwrap_or_else(|e| {
        panic!(
            "building the demo image archive in {}: {e:#}",
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busybox_layout_is_a_valid_oci_layout() {
        if !busybox_available() {
            eprintln!("SKIP: {BUSYBOX} not installed (apt-get install busybox-static)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let spec = ImageSpec {
            cmd: vec!["sh".into()],
            ..Default::default()
        };
        let a = build_busybox_image(&dir.path().join("a"), spec.clone()).unwrap();
        let b = build_busybox_image(&dir.path().join("b"), spec).unwrap();
        assert_eq!(
            a.manifest_digest, b.manifest_digest,
            "builds are reproducible"
        );
        let blob = |d: &str| {
            a.dir
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:"))
        };
        assert_eq!(
            sha256(&fs::read(blob(&a.manifest_digest)).unwrap()),
            a.manifest_digest
        );
        let layer = fs::read(blob(&a.layer_digests[0])).unwrap();
        let mut names = Vec::new();
        let mut t = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
        for e in t.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
        }
        for want in ["bin/busybox", "bin/sh", "bin/httpd", "etc/passwd", "tmp"] {
            assert!(
                names.iter().any(|n| n.trim_end_matches('/') == want),
                "{want} in {names:?}"
            );
        }
        let archive = dir.path().join("a.tar");
        write_oci_archive(&a.dir, &archive).unwrap();
        assert!(fs::metadata(&archive).unwrap().len() > layer.len() as u64);
    }

    #[test]
    fn the_demo_archive_names_both_busybox_tags() {
        if !busybox_available() {
            eprintln!("SKIP: {BUSYBOX} not installed (apt-get install busybox-static)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let archive = demo_archive(dir.path());
        let mut tar = tar::Archive::new(fs::File::open(&archive).unwrap());
        let mut index = None;
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_str() == Some("index.json") {
                index = Some(serde_json::from_reader::<_, serde_json::Value>(&mut e).unwrap());
            }
        }
        let index = index.expect("index.json in the archive");
        let entries = index["manifests"].as_array().unwrap();
        let names: Vec<&str> = entries
            .iter()
            .map(|m| m["annotations"][REF_NAME].as_str().unwrap())
            .collect();
        assert_eq!(names, DEMO_IMAGES);
        assert_eq!(
            entries[0]["digest"], entries[1]["digest"],
            "one image under two tags"
        );
    }
}

//! A real, throwaway OCI registry for tests: Debian's `docker-registry`
//! (the CNCF distribution registry) on a free loopback port with storage
//! in a temporary directory and no auth, plus a client that pushes an OCI
//! layout to it with the distribution API (blob uploads, manifest PUT).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::net::{free_port, http_status, wait_until};

/// How long a fresh registry may take to answer `/v2/`.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// Port collisions (the port is free when picked, not when bound) are retried.
const START_ATTEMPTS: usize = 3;

/// The registry binary: `$TUG_REGISTRY_BIN`, else `/usr/bin/docker-registry`.
pub fn registry_binary() -> Option<PathBuf> {
    std::env::var_os("TUG_REGISTRY_BIN")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/docker-registry")))
        .filter(|p| p.is_file())
}

/// Whether a registry binary is installed.
pub fn registry_available() -> bool {
    registry_binary().is_some()
}

/// A running registry; killed and its storage removed on drop.
pub struct LocalRegistry {
    /// `127.0.0.1:<port>`: the registry part of image references, and what
    /// the kubelet's `--insecure-registry` must list.
    pub host: String,
    child: Child,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl LocalRegistry {
    /// Start a registry and wait until `/v2/` answers.
    pub fn start() -> anyhow::Result<LocalRegistry> {
        let bin = registry_binary()
            .context("docker-registry not installed (apt-get install docker-registry)")?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match start_once(&bin) {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("docker-registry did not start")))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// The registry's log (stdout and stderr), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Push the image of the OCI layout at `layout_dir` as `name:tag`
    /// (`name` a repository path on this registry); returns the digest the
    /// tag now points at (the layout's top manifest or index).
    pub async fn push(&self, layout_dir: &Path, name_tag: &str) -> anyhow::Result<String> {
        let (name, tag) = split_name_tag(name_tag)?;
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(layout_dir.join("index.json"))?)?;
        let top = &index["manifests"][0];
        let digest = top["digest"].as_str().context("index.json: no manifest")?;
        let media = top["mediaType"]
            .as_str()
            .unwrap_or(crate::images::OCI_MANIFEST);
        self.push_manifest(layout_dir, name, digest, media, tag)
            .await
    }

    /// Push the manifest (or index) `digest` and everything it refers to,
    /// under `reference` (a tag or its digest).
    fn push_manifest<'a>(
        &'a self,
        layout: &'a Path,
        name: &'a str,
        digest: &'a str,
        media: &'a str,
        reference: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<String>> + Send + 'a>>
    {
        Box::pin(async move {
            let bytes = read_blob(layout, digest)?;
            let doc: serde_json::Value = serde_json::from_slice(&bytes)?;
            if let Some(children) = doc["manifests"].as_array() {
                for child in children {
                    let d = child["digest"]
                        .as_str()
                        .context("index entry without digest")?;
                    let m = child["mediaType"]
                        .as_str()
                        .unwrap_or(crate::images::OCI_MANIFEST);
                    self.push_manifest(layout, name, d, m, d).await?;
                }
            } else {
                let mut blobs = vec![doc["config"]["digest"].as_str().context("no config")?];
                for l in doc["layers"].as_array().into_iter().flatten() {
                    blobs.push(l["digest"].as_str().context("layer without digest")?);
                }
                for b in blobs {
                    self.push_blob(layout, name, b).await?;
                }
            }
            let url = format!("{}/v2/{name}/manifests/{reference}", self.url());
            let resp = self
                .http
                .put(&url)
                .header("Content-Type", media)
                .body(bytes)
                .send()
                .await?;
            if resp.status().as_u16() != 201 {
                bail!(
                    "PUT {url}: {} {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                );
            }
            let pushed = resp
                .headers()
                .get("Docker-Content-Digest")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(digest)
                .to_string();
            Ok(pushed)
        })
    }

    /// Upload one blob unless the registry has it: POST an upload, PUT the
    /// bytes with their digest.
    async fn push_blob(&self, layout: &Path, name: &str, digest: &str) -> anyhow::Result<()> {
        let head = format!("{}/v2/{name}/blobs/{digest}", self.url());
        if self.http.head(&head).send().await?.status().is_success() {
            return Ok(());
        }
        let start = format!("{}/v2/{name}/blobs/uploads/", self.url());
        let resp = self.http.post(&start).send().await?;
        if resp.status().as_u16() != 202 {
            bail!("POST {start}: {}", resp.status());
        }
        let location = resp
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .context("upload without Location")?;
        let mut url = if location.starts_with('/') {
            format!("{}{location}", self.url())
        } else {
            location.to_string()
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={digest}"));
        let resp = self
            .http
            .put(&url)
            .header("Content-Type", "application/octet-stream")
            .body(read_blob(layout, digest)?)
            .send()
            .await?;
        if resp.status().as_u16() != 201 {
            bail!(
                "PUT blob {digest}: {} {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_once(bin: &Path) -> anyhow::Result<LocalRegistry> {
    let dir = tempfile::Builder::new().prefix("tug-registry-").tempdir()?;
    let port = free_port();
    let config = dir.path().join("config.yml");
    fs::write(
        &config,
        format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        ),
    )?;
    let log = fs::File::create(dir.path().join("registry.log"))?;
    let mut child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("running {}", bin.display()))?;
    let up = wait_until(START_DEADLINE, || {
        matches!(child.try_wait(), Ok(Some(_))) || http_status(port, "/v2/") == Some(200)
    });
    if !up || child.try_wait()?.is_some() {
        let _ = child.kill();
        let _ = child.wait();
        let log = fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        bail!("docker-registry did not come up on port {port}: {log}");
    }
    Ok(LocalRegistry {
        host: format!("127.0.0.1:{port}"),
        child,
        dir,
        http: reqwest::Client::new(),
    })
}

fn read_blob(layout: &Path, digest: &str) -> anyhow::Result<Vec<u8>> {
    let hex = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("unsupported digest {digest}"))?;
    fs::read(layout.join("blobs/sha256").join(hex))
        .with_context(|| format!("blob {digest} of {}", layout.display()))
}

/// `"team/app:v1"` → `("team/app", "v1")`; no tag means `latest`.
fn split_name_tag(s: &str) -> anyhow::Result<(&str, &str)> {
    let slash = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match s[slash..].rfind(':') {
        Some(i) => (&s[..slash + i], &s[slash + i + 1..]),
        None => (s, "latest"),
    };
    if name.is_empty() || tag.is_empty() {
        bail!("bad name:tag {s:?}");
    }
    Ok((name, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags_split_at_the_last_colon() {
        assert_eq!(split_name_tag("a/b:v1").unwrap(), ("a/b", "v1"));
        assert_eq!(split_name_tag("busybox").unwrap(), ("busybox", "latest"));
        assert!(split_name_tag("x:").is_err());
    }

    #[tokio::test]
    async fn a_pushed_layout_is_served() {
        if !registry_available() || !crate::images::busybox_available() {
            eprintln!("SKIP: docker-registry or /bin/busybox not installed");
            return;
        }
        let reg = LocalRegistry::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let img = crate::images::build_busybox_image(dir.path(), Default::default()).unwrap();
        let pushed = reg.push(dir.path(), "test/busybox:v1").await.unwrap();
        assert_eq!(pushed, img.manifest_digest, "{}", reg.log());
        let url = format!("{}/v2/test/busybox/manifests/v1", reg.url());
        let resp = reqwest::Client::new()
            .get(&url)
            .header("Accept", crate::images::OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
}

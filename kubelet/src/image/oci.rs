//! The OCI / Docker v2 JSON documents the store reads: image indexes
//! (manifest lists), manifests and image configs; and the choice of the
//! node's platform out of an index.

use std::collections::BTreeMap;

use serde::Deserialize;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker v2 schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker v2 manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The `Accept` header for manifest requests: every kind the store reads.
pub fn manifest_accept() -> String {
    [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ")
}

/// A content descriptor.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: i64,
    /// For index entries: the platform the manifest is for.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Annotations (`org.opencontainers.image.ref.name`, ...).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An index entry's platform.
#[derive(Clone, Debug, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, ... (Go's GOARCH).
    #[serde(default)]
    pub architecture: String,
    /// `linux`, `windows`, ...
    #[serde(default)]
    pub os: String,
    /// `v8`, `v7`, ...
    #[serde(default)]
    pub variant: Option<String>,
}

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    /// The config blob.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// An image index or manifest list.
#[derive(Clone, Debug, Deserialize)]
pub struct Index {
    /// Its manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An image config blob: the parts the store keeps.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigFile {
    /// The container defaults.
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    /// The uncompressed layer digests.
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

/// `config` of an image config.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `Entrypoint`.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `Env`.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// `WorkingDir`.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `User`.
    #[serde(default)]
    pub user: Option<String>,
}

/// `rootfs` of an image config.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RootFs {
    /// sha256 of each uncompressed layer tar, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// A manifest document as fetched: an index to choose from, or an image.
#[derive(Clone, Debug)]
pub enum Fetched {
    /// An image index / manifest list.
    Index(Index),
    /// An image manifest.
    Manifest(Manifest),
}

/// Parse a manifest document; `content_type` is the registry's header
/// (or the descriptor's media type), the document's own `mediaType` and
/// shape decide when it is missing or generic.
pub fn parse_manifest(content_type: &str, body: &[u8]) -> anyhow::Result<Fetched> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        schema_version: Option<u32>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("manifest is not valid JSON: {e}"))?;
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let media = probe.media_type.as_deref().unwrap_or(ct);
    if probe.schema_version == Some(1) || media.contains("distribution.manifest.v1") {
        anyhow::bail!("Docker schema 1 manifests are not supported");
    }
    let is_index = media == OCI_INDEX || media == DOCKER_LIST || probe.manifests.is_some();
    Ok(if is_index {
        Fetched::Index(serde_json::from_slice(body)?)
    } else {
        Fetched::Manifest(serde_json::from_slice(body)?)
    })
}

/// The entry of `index` for linux on `arch`; on arm64 one with variant
/// `v8` (or none) is preferred, as containerd does. Entries without a
/// platform don't match.
pub fn select_platform<'a>(index: &'a Index, arch: &str) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch)
        })
        .collect();
    let plain_variant = |d: &&Descriptor| {
        let variant = d.platform.as_ref().and_then(|p| p.variant.as_deref());
        matches!(variant, None | Some("v8"))
    };
    candidates
        .iter()
        .find(|d| arch != "arm64" || plain_variant(d))
        .or(candidates.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(entries: &[(&str, &str, Option<&str>)]) -> Index {
        let manifests = entries
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant))| Descriptor {
                media_type: OCI_MANIFEST.into(),
                digest: format!("sha256:{i:064x}"),
                size: 1,
                platform: Some(Platform {
                    architecture: arch.to_string(),
                    os: os.to_string(),
                    variant: variant.map(str::to_string),
                }),
                annotations: Default::default(),
            })
            .collect();
        Index { manifests }
    }

    #[test]
    fn the_nodes_platform_is_chosen_from_an_index() {
        let idx = index(&[
            ("windows", "amd64", None),
            ("linux", "arm", Some("v7")),
            ("linux", "amd64", None),
            ("linux", "arm64", Some("v8")),
        ]);
        assert_eq!(
            select_platform(&idx, "amd64").unwrap().digest,
            idx.manifests[2].digest
        );
        assert_eq!(
            select_platform(&idx, "arm64").unwrap().digest,
            idx.manifests[3].digest
        );
        assert!(select_platform(&idx, "s390x").is_none());
    }

    #[test]
    fn documents_are_told_apart_by_type_and_shape() {
        let list = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_manifest("", list).unwrap(),
            Fetched::Index(_)
        ));
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"x","digest":"sha256:00","size":1},"layers":[]}"#;
        assert!(matches!(
            parse_manifest("application/json", m).unwrap(),
            Fetched::Manifest(_)
        ));
        let v1 = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(parse_manifest("", v1).is_err());
    }

    #[test]
    fn image_config_fields_are_read() {
        let cfg: ConfigFile = serde_json::from_str(
            r#"{"architecture":"amd64","config":{"Entrypoint":["/bin/sh"],"Cmd":["-c","x"],
                "Env":["PATH=/bin"],"WorkingDir":"/w","User":"65534"},
                "rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#,
        )
        .unwrap();
        let c = cfg.config.unwrap();
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh"]);
        assert_eq!(c.user.as_deref(), Some("65534"));
        assert_eq!(cfg.rootfs.unwrap().diff_ids, ["sha256:aa"]);
    }
}

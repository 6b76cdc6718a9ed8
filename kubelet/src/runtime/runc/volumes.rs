//! A pod's volumes on the node and their mounts into a container:
//! emptyDir (a directory in the pod dir, shared by its containers, gone
//! with the pod), hostPath (with its `type` checked or created), and
//! configMap/secret projected as files. Also fetching the ConfigMaps and
//! Secrets a container refers to (env or volumes) from the API.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tug_api::core::{ConfigMap, Container, HostPathVolumeSource, KeyToPath, Pod, Secret, Volume};
use tug_client::{Api, Client};

use super::env::Sources;
use super::spec::BindMount;

/// The default file mode of projected keys (0644).
const DEFAULT_MODE: u32 = 0o644;

/// The names of the ConfigMaps and Secrets `container` of `pod` needs,
/// for its env and for the pod's volumes.
pub fn referenced(pod: &Pod, container: &Container) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut cms = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    for f in &container.env_from {
        if let Some(r) = &f.config_map_ref {
            cms.insert(r.name.clone());
        }
        if let Some(r) = &f.secret_ref {
            secrets.insert(r.name.clone());
        }
    }
    for v in container.env.iter().filter_map(|e| e.value_from.as_ref()) {
        if let Some(s) = &v.config_map_key_ref {
            cms.insert(s.name.clone());
        }
        if let Some(s) = &v.secret_key_ref {
            secrets.insert(s.name.clone());
        }
    }
    for v in &pod.spec.volumes {
        if let Some(c) = &v.config_map {
            cms.insert(c.name.clone());
        }
        if let Some(s) = &v.secret {
            secrets.insert(s.secret_name.clone());
        }
    }
    (cms, secrets)
}

/// Read the named ConfigMaps and Secrets of `namespace`; without a
/// client every one counts as missing.
pub async fn fetch(
    client: Option<&Client>,
    namespace: &str,
    config_maps: &BTreeSet<String>,
    secrets: &BTreeSet<String>,
) -> Result<Sources, String> {
    let mut out = Sources::default();
    for name in config_maps {
        let data = match client {
            None => None,
            Some(c) => Api::<ConfigMap>::namespaced(c.clone(), namespace)
                .get_opt(name)
                .await
                .map_err(|e| format!("reading configmap {namespace}/{name}: {e}"))?
                .map(config_map_data),
        };
        out.config_maps.insert(name.clone(), data);
    }
    for name in secrets {
        let data = match client {
            None => None,
            Some(c) => Api::<Secret>::namespaced(c.clone(), namespace)
                .get_opt(name)
                .await
                .map_err(|e| format!("reading secret {namespace}/{name}: {e}"))?
                .map(|s| secret_data(&s)),
        };
        out.secrets.insert(name.clone(), data);
    }
    Ok(out)
}

fn config_map_data(cm: ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = cm
        .data
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    for (k, v) in cm.binary_data {
        if let Ok(raw) = tug_api::core::base64::decode(&v) {
            data.insert(k, raw);
        }
    }
    data
}

fn secret_data(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = s
        .data
        .keys()
        .filter_map(|k| s.decoded(k).map(|v| (k.clone(), v)))
        .collect();
    for (k, v) in &s.string_data {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

/// The directory of volume `name` of the pod whose dir is `pod_dir`.
pub fn volume_dir(pod_dir: &Path, name: &str) -> PathBuf {
    pod_dir.join("volumes").join(name)
}

/// Set up every volume of `pod` (idempotent: an emptyDir keeps its
/// content; configMaps and secrets are projected afresh); the host path
/// of each by name. Volume kinds this node cannot provide are errors.
pub fn prepare(
    pod_dir: &Path,
    pod: &Pod,
    sources: &Sources,
) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut out = BTreeMap::new();
    for v in &pod.spec.volumes {
        let path =
            prepare_one(pod_dir, v, sources).map_err(|e| format!("volume {}: {e}", v.name))?;
        out.insert(v.name.clone(), path);
    }
    Ok(out)
}

fn prepare_one(pod_dir: &Path, v: &Volume, sources: &Sources) -> Result<PathBuf, String> {
    let dir = volume_dir(pod_dir, &v.name);
    let io = |e: std::io::Error| e.to_string();
    if v.empty_dir.is_some() {
        std::fs::create_dir_all(&dir).map_err(io)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).map_err(io)?;
        return Ok(dir);
    }
    if let Some(h) = &v.host_path {
        return host_path(h);
    }
    if let Some(c) = &v.config_map {
        let data = lookup(&sources.config_maps, &c.name, c.optional, "configmap")?;
        project(
            &dir,
            &data,
            &c.items,
            c.default_mode,
            c.optional.unwrap_or(false),
        )?;
        return Ok(dir);
    }
    if let Some(s) = &v.secret {
        let data = lookup(&sources.secrets, &s.secret_name, s.optional, "secret")?;
        project(
            &dir,
            &data,
            &s.items,
            s.default_mode,
            s.optional.unwrap_or(false),
        )?;
        return Ok(dir);
    }
    Err("unsupported volume type on this node (emptyDir, hostPath, configMap, secret are)".into())
}

fn lookup(
    map: &BTreeMap<String, Option<BTreeMap<String, Vec<u8>>>>,
    name: &str,
    optional: Option<bool>,
    kind: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    match map.get(name).and_then(Option::as_ref) {
        Some(d) => Ok(d.clone()),
        None if optional.unwrap_or(false) => Ok(BTreeMap::new()),
        None => Err(format!("{kind} \"{name}\" not found")),
    }
}

/// Check (or create) a hostPath per its `type`; its path.
pub fn host_path(h: &HostPathVolumeSource) -> Result<PathBuf, String> {
    let path = PathBuf::from(&h.path);
    let meta = std::fs::metadata(&path).ok();
    let kind = h.type_.as_deref().unwrap_or("");
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let want = |ok: bool, what: &str| {
        if ok {
            Ok(path.clone())
        } else {
            Err(format!(
                "hostPath type check failed: {} is not a {what}",
                path.display()
            ))
        }
    };
    match kind {
        "" => Ok(path.clone()),
        "DirectoryOrCreate" => {
            if meta.is_none() {
                std::fs::create_dir_all(&path).map_err(io)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(io)?;
            }
            want(
                std::fs::metadata(&path).is_ok_and(|m| m.is_dir()),
                "directory",
            )
        }
        "FileOrCreate" => {
            if meta.is_none() {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                std::fs::File::create(&path).map_err(io)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                    .map_err(io)?;
            }
            want(std::fs::metadata(&path).is_ok_and(|m| m.is_file()), "file")
        }
        "Directory" => want(meta.is_some_and(|m| m.is_dir()), "directory"),
        "File" => want(meta.is_some_and(|m| m.is_file()), "file"),
        "Socket" => want(meta.is_some_and(|m| m.file_type().is_socket()), "socket"),
        "CharDevice" => want(
            meta.is_some_and(|m| m.file_type().is_char_device()),
            "character device",
        ),
        "BlockDevice" => want(
            meta.is_some_and(|m| m.file_type().is_block_device()),
            "block device",
        ),
        other => Err(format!("unknown hostPath type {other:?}")),
    }
}

/// Write `data` into `dir` as files: every key, or only `items` (each at
/// its `path`, with its `mode`); files of keys no longer projected go.
pub fn project(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: &[KeyToPath],
    default_mode: Option<i32>,
    optional: bool,
) -> Result<(), String> {
    let default_mode = default_mode.map_or(DEFAULT_MODE, |m| m as u32 & 0o7777);
    let mut files: Vec<(PathBuf, &[u8], u32)> = Vec::new();
    if items.is_empty() {
        for (k, v) in data {
            files.push((PathBuf::from(k), v, default_mode));
        }
    } else {
        for it in items {
            match data.get(&it.key) {
                Some(v) => files.push((
                    PathBuf::from(&it.path),
                    v,
                    it.mode.map_or(default_mode, |m| m as u32 & 0o7777),
                )),
                None if optional => {}
                None => {
                    return Err(format!(
                        "configured to use key {} but it does not exist",
                        it.key
                    ))
                }
            }
        }
    }
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(dir).map_err(io)?;
    for (rel, _, _) in &files {
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!("invalid path {}", rel.display()));
        }
    }
    let wanted: BTreeSet<PathBuf> = files.iter().map(|(p, _, _)| dir.join(p)).collect();
    remove_unwanted(dir, &wanted);
    for (rel, bytes, mode) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        super::state::write_atomic(&path, bytes).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    Ok(())
}

fn remove_unwanted(dir: &Path, wanted: &BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_unwanted(&p, wanted);
        } else if !wanted.contains(&p) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// The bind mounts of `container`'s volumeMounts, given each volume's
/// host path (`subPath` appended; made as a directory if absent).
pub fn mounts_for(
    container: &Container,
    volumes: &BTreeMap<String, PathBuf>,
) -> Result<Vec<BindMount>, String> {
    container
        .volume_mounts
        .iter()
        .map(|m| {
            let base = volumes
                .get(&m.name)
                .ok_or_else(|| format!("volumeMount {}: no volume of that name", m.name))?;
            let mut source = base.clone();
            if !m.sub_path.is_empty() {
                let sub = Path::new(&m.sub_path);
                if sub.is_absolute()
                    || sub
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(format!(
                        "volumeMount {}: invalid subPath {}",
                        m.name, m.sub_path
                    ));
                }
                source = base.join(sub);
                if !source.exists() {
                    std::fs::create_dir_all(&source).map_err(|e| e.to_string())?;
                }
            }
            Ok(BindMount {
                destination: m.mount_path.clone(),
                source,
                read_only: m.read_only,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn data() -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([
            ("a.conf".to_string(), b"alpha".to_vec()),
            ("b.conf".to_string(), b"beta".to_vec()),
        ])
    }

    #[test]
    fn every_key_becomes_a_file_with_the_default_mode() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path(), &data(), &[], Some(0o400), false).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.conf")).unwrap(), b"alpha");
        let mode = std::fs::metadata(dir.path().join("b.conf")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o400);
    }

    #[test]
    fn items_pick_keys_paths_and_modes_and_stale_files_go() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path(), &data(), &[], None, false).unwrap();
        let items = vec![KeyToPath {
            key: "b.conf".into(),
            path: "sub/renamed".into(),
            mode: Some(0o600),
        }];
        project(dir.path(), &data(), &items, None, false).unwrap();
        assert!(!dir.path().join("a.conf").exists());
        let f = dir.path().join("sub/renamed");
        assert_eq!(std::fs::read(&f).unwrap(), b"beta");
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        let missing = vec![KeyToPath {
            key: "zzz".into(),
            path: "z".into(),
            mode: None,
        }];
        assert!(project(dir.path(), &data(), &missing, None, false).is_err());
        assert!(project(dir.path(), &data(), &missing, None, true).is_ok());
    }

    #[test]
    fn host_path_types_are_checked_or_created() {
        let dir = tempfile::tempdir().unwrap();
        let hp = |p: &Path, t: &str| HostPathVolumeSource {
            path: p.display().to_string(),
            type_: Some(t.to_string()),
        };
        let d = dir.path().join("made/here");
        assert!(host_path(&hp(&d, "Directory")).is_err());
        host_path(&hp(&d, "DirectoryOrCreate")).unwrap();
        assert!(d.is_dir());
        assert!(host_path(&hp(&d, "File")).is_err());
        let f = dir.path().join("new/file");
        host_path(&hp(&f, "FileOrCreate")).unwrap();
        assert!(f.is_file());
        assert!(host_path(&hp(&f, "Directory")).is_err());
        assert!(host_path(&hp(&f, "Bogus")).is_err());
    }
}

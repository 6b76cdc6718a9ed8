//! The cluster's kubeconfig: one cluster, user and context, all named
//! `tugboat-<name>`, the context current. The same file works for tugctl
//! and kubectl.
//!
//! The state directory gets its own file. With `--kubeconfig PATH` the
//! entries are also merged into that file (as kind does with
//! `~/.kube/config`): other entries there are kept, ours replace any of
//! the same name, and `down` takes ours out again.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use tug_client::config::{
    Cluster as KubeCluster, Context, Kubeconfig, NamedCluster, NamedContext, NamedUser, User,
};

use crate::error::{io, Error, Result};

/// The name of the cluster, user and context entries of cluster `name`.
pub fn entry_name(name: &str) -> String {
    format!("tugboat-{name}")
}

/// A kubeconfig holding only cluster `name` at `server`, trusted as
/// `trust` says (its CA; its server is replaced) and reached as `user`.
pub fn for_cluster(name: &str, server: &str, trust: KubeCluster, user: User) -> Kubeconfig {
    let entry = entry_name(name);
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: entry.clone(),
            cluster: KubeCluster {
                server: server.to_string(),
                ..trust
            },
            origin: None,
        }],
        users: vec![NamedUser {
            name: entry.clone(),
            user,
            origin: None,
        }],
        contexts: vec![NamedContext {
            name: entry.clone(),
            context: Context {
                cluster: entry.clone(),
                user: entry.clone(),
                ..Default::default()
            },
        }],
        current_context: Some(entry),
        other: BTreeMap::from([
            ("apiVersion".into(), "v1".into()),
            ("kind".into(), "Config".into()),
        ]),
    }
}

/// `base` with `ours`'s entries put in (replacing those of the same
/// name) and `ours`'s context made current.
pub fn merge_into(mut base: Kubeconfig, ours: &Kubeconfig) -> Kubeconfig {
    for cluster in &ours.clusters {
        base.clusters.retain(|c| c.name != cluster.name);
        base.clusters.push(cluster.clone());
    }
    for user in &ours.users {
        base.users.retain(|u| u.name != user.name);
        base.users.push(user.clone());
    }
    for context in &ours.contexts {
        base.contexts.retain(|c| c.name != context.name);
        base.contexts.push(context.clone());
    }
    base.current_context = ours.current_context.clone();
    for (key, value) in &ours.other {
        base.other
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    base
}

/// `config` without the entries of cluster `name`; `None` when nothing
/// else is left in it.
pub fn remove_from(mut config: Kubeconfig, name: &str) -> Option<Kubeconfig> {
    let entry = entry_name(name);
    config.clusters.retain(|c| c.name != entry);
    config.users.retain(|u| u.name != entry);
    config.contexts.retain(|c| c.name != entry);
    if config.current_context.as_deref() == Some(entry.as_str()) {
        config.current_context = None;
    }
    let empty = config.clusters.is_empty() && config.users.is_empty() && config.contexts.is_empty();
    (!empty).then_some(config)
}

/// Write `config` to `path` (mode 0600: later kubeconfigs hold credentials).
pub fn write(path: &Path, config: &Kubeconfig) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let text = serde_yaml::to_string(config).map_err(|e| Error::State {
        context: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(io(format!("writing {}", path.display())))
}

/// Merge cluster `ours` into the kubeconfig at `path` (created if missing).
pub fn merge_file(path: &Path, ours: &Kubeconfig) -> Result<()> {
    let base = if path.exists() {
        Kubeconfig::read(path)?
    } else {
        Kubeconfig::default()
    };
    write(path, &merge_into(base, ours))
}

/// Take cluster `name`'s entries out of the kubeconfig at `path`,
/// removing the file when nothing else is left in it.
pub fn remove_from_file(path: &Path, name: &str) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    match remove_from(Kubeconfig::read(path)?, name) {
        Some(rest) => write(path, &rest),
        None => std::fs::remove_file(path).map_err(io(format!("removing {}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn for_cluster(name: &str, server: &str) -> Kubeconfig {
        let trust = KubeCluster {
            server: "https://elsewhere:1".into(),
            certificate_authority_data: Some("Q0E=".into()),
            ..Default::default()
        };
        let user = User {
            token: Some("t".into()),
            ..Default::default()
        };
        super::for_cluster(name, server, trust, user)
    }

    #[test]
    fn the_cluster_context_is_current_and_points_at_the_server() {
        let config = for_cluster("dev", "http://127.0.0.1:4321");
        let text = serde_yaml::to_string(&config).unwrap();
        let back = Kubeconfig::parse(&text).unwrap();
        assert_eq!(back.current_context.as_deref(), Some("tugboat-dev"));
        let context = back.context("tugboat-dev").unwrap();
        assert_eq!(
            back.cluster(&context.context.cluster)
                .unwrap()
                .cluster
                .server,
            "http://127.0.0.1:4321"
        );
        let cluster = &back.cluster("tugboat-dev").unwrap().cluster;
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        let user = &back.user(&context.context.user).unwrap().user;
        assert_eq!(user.token.as_deref(), Some("t"));
        assert!(text.contains("kind: Config"), "{text}");
    }

    #[test]
    fn merging_keeps_other_entries_and_down_takes_ours_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let theirs = for_cluster("other", "https://10.0.0.1:6443");
        write(&path, &theirs).unwrap();

        merge_file(&path, &for_cluster("dev", "http://127.0.0.1:1")).unwrap();
        // Up again on another port replaces, never duplicates.
        merge_file(&path, &for_cluster("dev", "http://127.0.0.1:2")).unwrap();
        let merged = Kubeconfig::read(&path).unwrap();
        assert_eq!(merged.clusters.len(), 2);
        assert_eq!(merged.current_context.as_deref(), Some("tugboat-dev"));
        assert_eq!(
            merged.cluster("tugboat-dev").unwrap().cluster.server,
            "http://127.0.0.1:2"
        );

        remove_from_file(&path, "dev").unwrap();
        let left = Kubeconfig::read(&path).unwrap();
        assert_eq!(left.clusters.len(), 1);
        assert!(left.cluster("tugboat-other").is_some());
        assert_eq!(left.current_context, None);

        remove_from_file(&path, "other").unwrap();
        assert!(!path.exists(), "an emptied kubeconfig is removed");
        remove_from_file(&path, "other").unwrap();
    }
}

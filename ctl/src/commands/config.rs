//! `config view|use-context|current-context|get-contexts`: read and edit
//! the kubeconfig files kubectl reads, with secrets redacted on view as
//! kubectl redacts them.

use std::path::PathBuf;

use serde_json::{json, Value};
use tug_client::config::{default_kubeconfig_path, load_kubeconfig};
use tug_client::Kubeconfig;

use super::context::kubeconfig_options;
use super::emit;
use super::error::{usage, Result};
use crate::cli::{ConfigCommand, ConfigViewArgs, GlobalFlags};
use crate::printers::{self, OutputFormat, PrintOptions, Shape, TabWriter};

/// What kubectl shows instead of certificate and key data.
const DATA_OMITTED: &str = "DATA+OMITTED";
/// What kubectl shows instead of tokens and passwords.
const REDACTED: &str = "REDACTED";

/// Run a `config` subcommand.
pub fn run(global: &GlobalFlags, command: &ConfigCommand) -> Result<()> {
    let (kubeconfig, _) = load_kubeconfig(&kubeconfig_options(global))?;
    match command {
        ConfigCommand::View(args) => view(global, kubeconfig, args),
        ConfigCommand::UseContext(args) => use_context(global, kubeconfig, &args.name),
        ConfigCommand::CurrentContext => {
            let current = kubeconfig
                .and_then(|k| k.current_context)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| usage("current-context is not set"))?;
            emit(&format!("{current}\n"));
            Ok(())
        }
        ConfigCommand::GetContexts => {
            let kc = kubeconfig.unwrap_or_default();
            let current = kc.current_context.clone().unwrap_or_default();
            let mut lines = vec![["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
                .map(str::to_string)
                .to_vec()];
            for c in &kc.contexts {
                lines.push(vec![
                    if c.name == current {
                        "*".into()
                    } else {
                        String::new()
                    },
                    c.name.clone(),
                    c.context.cluster.clone(),
                    c.context.user.clone(),
                    c.context.namespace.clone().unwrap_or_default(),
                ]);
            }
            emit(&TabWriter::new().write(&lines));
            Ok(())
        }
    }
}

/// `config view [--minify] [--raw] [-o yaml|json]`.
fn view(global: &GlobalFlags, kubeconfig: Option<Kubeconfig>, args: &ConfigViewArgs) -> Result<()> {
    let format: OutputFormat = args.output.parse().map_err(usage)?;
    let mut kc = kubeconfig.unwrap_or_default();
    if args.minify {
        kc = minify(kc, global.context.as_deref())?;
    }
    let mut doc = serde_json::to_value(&kc).map_err(usage)?;
    normalize(&mut doc);
    if !args.raw {
        redact(&mut doc);
    }
    let text = printers::print(
        &[doc],
        Shape::Single,
        &format,
        &PrintOptions::default(),
        chrono::Utc::now(),
    )
    .map_err(usage)?;
    emit(&text);
    Ok(())
}

/// Only the current (or `--context`) context, its cluster and its user.
fn minify(kc: Kubeconfig, context: Option<&str>) -> Result<Kubeconfig> {
    let name = context
        .map(str::to_string)
        .or(kc.current_context.clone())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| usage("current-context must exist in order to minify"))?;
    let ctx = kc
        .context(&name)
        .cloned()
        .ok_or_else(|| usage(format!("cannot locate context {name}")))?;
    Ok(Kubeconfig {
        clusters: kc
            .clusters
            .iter()
            .filter(|c| c.name == ctx.context.cluster)
            .cloned()
            .collect(),
        users: kc
            .users
            .iter()
            .filter(|u| u.name == ctx.context.user)
            .cloned()
            .collect(),
        contexts: vec![ctx],
        current_context: Some(name),
        other: kc.other,
    })
}

/// The fields kubectl always prints, with its empty values.
fn normalize(doc: &mut Value) {
    let Some(map) = doc.as_object_mut() else {
        return;
    };
    map.entry("apiVersion").or_insert(json!("v1"));
    map.entry("kind").or_insert(json!("Config"));
    map.entry("preferences").or_insert(json!({}));
    map.entry("current-context").or_insert(json!(""));
    for list in ["clusters", "contexts", "users"] {
        map.entry(list).or_insert(Value::Null);
    }
}

/// Replace secrets as kubectl does: certificate and key data with
/// `DATA+OMITTED`, tokens and passwords with `REDACTED`.
fn redact(doc: &mut Value) {
    for (list, entry, fields, with) in [
        (
            "clusters",
            "cluster",
            &["certificate-authority-data"][..],
            DATA_OMITTED,
        ),
        (
            "users",
            "user",
            &["client-certificate-data", "client-key-data"][..],
            DATA_OMITTED,
        ),
        ("users", "user", &["token", "password"][..], REDACTED),
    ] {
        if let Some(items) = doc[list].as_array_mut() {
            for item in items {
                if let Some(m) = item[entry].as_object_mut() {
                    for f in fields {
                        if m.get(*f)
                            .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                        {
                            m.insert(f.to_string(), json!(with));
                        }
                    }
                }
            }
        }
    }
}

/// `config use-context NAME`: set `current-context` in the file kubectl
/// would write it to, keeping everything else in that file as it is.
fn use_context(global: &GlobalFlags, merged: Option<Kubeconfig>, name: &str) -> Result<()> {
    if merged.as_ref().and_then(|k| k.context(name)).is_none() {
        return Err(usage(format!(
            "no context exists with the name: \"{name}\""
        )));
    }
    let path = file_to_write(global)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| usage(format!("cannot parse {}: {e}", path.display())))?;
    let serde_yaml::Value::Mapping(map) = &mut doc else {
        return Err(usage(format!("{} is not a kubeconfig", path.display())));
    };
    map.insert("current-context".into(), name.into());
    let text = serde_yaml::to_string(&doc).map_err(usage)?;
    std::fs::write(&path, text)
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
    emit(&format!("Switched to context \"{name}\".\n"));
    Ok(())
}

/// `--kubeconfig`; else, of the `$KUBECONFIG` files that exist, the first
/// that sets a current-context, else the first; else `~/.kube/config`.
fn file_to_write(global: &GlobalFlags) -> Result<PathBuf> {
    if let Some(path) = &global.kubeconfig {
        return Ok(path.clone());
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let existing: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|p| p.exists())
            .collect();
        let sets_current = existing.iter().find(|p| {
            Kubeconfig::read(p).is_ok_and(|k| k.current_context.is_some_and(|c| !c.is_empty()))
        });
        if let Some(p) = sets_current.or(existing.first()) {
            return Ok(p.clone());
        }
    }
    default_kubeconfig_path().ok_or_else(|| usage("no kubeconfig file to write to"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_as_kubectl_does() {
        let mut doc = json!({
            "clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority-data": "Q0E="}}],
            "users": [{"name": "u", "user": {"token": "secret", "client-key-data": "S0VZ", "client-certificate-data": "Q0VSVA=="}}]});
        redact(&mut doc);
        assert_eq!(
            doc["clusters"][0]["cluster"]["certificate-authority-data"],
            DATA_OMITTED
        );
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://x");
        assert_eq!(doc["users"][0]["user"]["token"], REDACTED);
        assert_eq!(doc["users"][0]["user"]["client-key-data"], DATA_OMITTED);
        assert_eq!(
            doc["users"][0]["user"]["client-certificate-data"],
            DATA_OMITTED
        );
    }
}

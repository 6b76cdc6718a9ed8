//! A container's process as Kubernetes defines it over its image:
//! `command`/`args` over `Entrypoint`/`Cmd`, `$(VAR)` expansion, and the
//! environment (`env` with `value`/`valueFrom`, `envFrom`) on top of the
//! image's `Env`. Pure: ConfigMaps and Secrets come in as [`Sources`].

use std::collections::BTreeMap;

use tug_api::core::{Container, EnvVar, Pod};

use crate::image::ImageConfig;

/// The data of the ConfigMaps and Secrets a container refers to, by name;
/// a name mapped to `None` does not exist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sources {
    /// ConfigMaps: `data` and `binaryData` merged.
    pub config_maps: BTreeMap<String, Option<BTreeMap<String, Vec<u8>>>>,
    /// Secrets: decoded `data`.
    pub secrets: BTreeMap<String, Option<BTreeMap<String, Vec<u8>>>>,
}

/// What `fieldRef`s of the pod resolve to that is not in its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodFacts {
    /// The pod's IPs, primary first.
    pub pod_ips: Vec<String>,
    /// The node's IP.
    pub host_ip: String,
}

/// Expand `$(VAR)` references from `vars`, as Kubernetes does: an
/// unknown variable is left as written, `$$` is an escaped `$`.
pub fn expand(input: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'$' => {
                    out.push_str(&input[copied..i]);
                    out.push('$');
                    i += 2;
                    copied = i;
                    continue;
                }
                b'(' => {
                    if let Some(end) = input[i + 2..].find(')') {
                        let name = &input[i + 2..i + 2 + end];
                        out.push_str(&input[copied..i]);
                        match vars(name) {
                            Some(v) => out.push_str(&v),
                            None => out.push_str(&input[i..i + 3 + end]),
                        }
                        i += 3 + end;
                        copied = i;
                        continue;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    out.push_str(&input[copied..]);
    out
}

/// The argv of the container's process: `command` replaces the image's
/// Entrypoint and drops its Cmd; `args` alone replace the Cmd; then
/// `$(VAR)` expansion against the container's `env`.
pub fn process_args(
    container: &Container,
    image: &ImageConfig,
    env: &[(String, String)],
) -> Vec<String> {
    let (entrypoint, cmd): (&[String], &[String]) = if !container.command.is_empty() {
        (&container.command, &container.args)
    } else if !container.args.is_empty() {
        (&image.entrypoint, &container.args)
    } else {
        (&image.entrypoint, &image.cmd)
    };
    let lookup = lookup_in(env);
    let expand_all = !container.command.is_empty() || !container.args.is_empty();
    entrypoint
        .iter()
        .chain(cmd)
        .enumerate()
        .map(|(i, a)| {
            // Only what the pod spec wrote is expanded, not the image's.
            let from_spec = (i < entrypoint.len() && !container.command.is_empty())
                || (i >= entrypoint.len() && expand_all);
            if from_spec {
                expand(a, &lookup)
            } else {
                a.clone()
            }
        })
        .collect()
}

fn lookup_in(env: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// The environment the pod spec gives the container (`envFrom`, then
/// `env`, later names overriding earlier ones), in order; an error names
/// a missing non-optional ConfigMap, Secret or key
/// (`CreateContainerConfigError`).
pub fn container_env(
    pod: &Pod,
    container: &Container,
    sources: &Sources,
    facts: &PodFacts,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, k: String, v: String| match env
        .iter_mut()
        .find(|(n, _)| *n == k)
    {
        Some(slot) => slot.1 = v,
        None => env.push((k, v)),
    };
    for from in &container.env_from {
        let (kind, map, r) = if let Some(r) = &from.config_map_ref {
            ("configmap", &sources.config_maps, r)
        } else if let Some(r) = &from.secret_ref {
            ("secret", &sources.secrets, r)
        } else {
            continue;
        };
        match map.get(&r.name).and_then(Option::as_ref) {
            Some(data) => {
                for (k, v) in data {
                    set(
                        &mut env,
                        format!("{}{k}", from.prefix),
                        String::from_utf8_lossy(v).into_owned(),
                    );
                }
            }
            None if r.optional.unwrap_or(false) => {}
            None => return Err(format!("{kind} \"{}\" not found", r.name)),
        }
    }
    for var in &container.env {
        let value = match env_value(pod, var, sources, facts)? {
            Some(v) => v,
            None => continue,
        };
        let value = if var.value_from.is_none() {
            expand(&value, &lookup_in(&env))
        } else {
            value
        };
        set(&mut env, var.name.clone(), value);
    }
    Ok(env)
}

fn env_value(
    pod: &Pod,
    var: &EnvVar,
    sources: &Sources,
    facts: &PodFacts,
) -> Result<Option<String>, String> {
    let Some(from) = &var.value_from else {
        return Ok(Some(var.value.clone()));
    };
    if let Some(f) = &from.field_ref {
        return field_value(pod, &f.field_path, facts).map(Some);
    }
    let (kind, map, sel) = if let Some(sel) = &from.config_map_key_ref {
        ("configmap", &sources.config_maps, sel)
    } else if let Some(sel) = &from.secret_key_ref {
        ("secret", &sources.secrets, sel)
    } else {
        return Err(format!(
            "env {}: unsupported valueFrom (resourceFieldRef is not supported by this runtime)",
            var.name
        ));
    };
    let optional = sel.optional.unwrap_or(false);
    match map.get(&sel.name).and_then(Option::as_ref) {
        None if optional => Ok(None),
        None => Err(format!("{kind} \"{}\" not found", sel.name)),
        Some(data) => match data.get(&sel.key) {
            Some(v) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
            None if optional => Ok(None),
            None => Err(format!(
                "couldn't find key {} in {kind} {}/{}",
                sel.key, pod.metadata.namespace, sel.name
            )),
        },
    }
}

/// A `fieldRef` of the downward API.
fn field_value(pod: &Pod, path: &str, facts: &PodFacts) -> Result<String, String> {
    let m = &pod.metadata;
    let keyed = |prefix: &str, map: &BTreeMap<String, String>| {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix("']"))
            .map(|k| map.get(k).cloned().unwrap_or_default())
    };
    Ok(match path {
        "metadata.name" => m.name.clone(),
        "metadata.namespace" => m.namespace.clone(),
        "metadata.uid" => m.uid.clone(),
        "spec.nodeName" => pod.spec.node_name.clone(),
        "spec.serviceAccountName" => pod.spec.service_account_name.clone(),
        "status.podIP" => facts.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => facts.pod_ips.join(","),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.clone(),
        _ => {
            if let Some(v) = keyed("metadata.labels['", &m.labels) {
                v
            } else if let Some(v) = keyed("metadata.annotations['", &m.annotations) {
                v
            } else {
                return Err(format!("unsupported fieldRef {path}"));
            }
        }
    })
}

/// The process environment: the image's `Env` overridden by the pod
/// spec's, as `NAME=value`.
pub fn merged_env(image_env: &[String], spec_env: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for kv in image_env {
        let name = kv.split('=').next().unwrap_or_default();
        if !spec_env.iter().any(|(k, _)| k == name) {
            out.push(kv.clone());
        }
    }
    out.extend(spec_env.iter().map(|(k, v)| format!("{k}={v}")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::{
        EnvFromRef, EnvFromSource, EnvVarSource, KeySelector, ObjectFieldSelector,
    };

    fn pod() -> Pod {
        let mut p = Pod::default();
        p.metadata.name = "web".into();
        p.metadata.namespace = "prod".into();
        p.metadata.uid = "u-1".into();
        p.metadata.labels.insert("app".into(), "shop".into());
        p.spec.node_name = "node-a".into();
        p
    }

    fn facts() -> PodFacts {
        PodFacts {
            pod_ips: vec!["10.1.0.5".into()],
            host_ip: "192.168.1.2".into(),
        }
    }

    fn image() -> ImageConfig {
        ImageConfig {
            entrypoint: vec!["/bin/ep".into()],
            cmd: vec!["--from-image".into()],
            env: vec!["PATH=/bin".into(), "MODE=image".into()],
            ..ImageConfig::default()
        }
    }

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.into(),
            value_from: None,
        }
    }

    fn field(name: &str, path: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: String::new(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: path.into(),
                }),
                ..EnvVarSource::default()
            }),
        }
    }

    fn container(command: &[&str], args: &[&str]) -> Container {
        Container {
            name: "c".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Container::default()
        }
    }

    #[test]
    fn expansion_follows_kubernetes() {
        let vars = |n: &str| (n == "A").then(|| "x".to_string());
        assert_eq!(expand("$(A)-$(B)-$$(A)-$A-$", &vars), "x-$(B)-$(A)-$A-$");
        assert_eq!(expand("$(A", &vars), "$(A");
        assert_eq!(expand("héllo $(A)", &vars), "héllo x");
    }

    #[test]
    fn no_command_no_args_runs_the_image_defaults() {
        let c = container(&[], &[]);
        assert_eq!(process_args(&c, &image(), &[]), ["/bin/ep", "--from-image"]);
    }

    #[test]
    fn args_alone_replace_the_image_cmd() {
        let c = container(&[], &["--mine"]);
        assert_eq!(process_args(&c, &image(), &[]), ["/bin/ep", "--mine"]);
    }

    #[test]
    fn command_replaces_the_entrypoint_and_drops_the_cmd() {
        let c = container(&["/bin/sh", "-c"], &[]);
        assert_eq!(process_args(&c, &image(), &[]), ["/bin/sh", "-c"]);
        let c = container(&["/bin/sh"], &["-c", "echo $(GREETING) $(NOPE)"]);
        let env = vec![("GREETING".to_string(), "hi".to_string())];
        assert_eq!(
            process_args(&c, &image(), &env),
            ["/bin/sh", "-c", "echo hi $(NOPE)"]
        );
    }

    #[test]
    fn env_resolves_fields_refs_and_earlier_variables() {
        let mut c = container(&[], &[]);
        c.env = vec![
            field("POD", "metadata.name"),
            field("NS", "metadata.namespace"),
            field("UID", "metadata.uid"),
            field("NODE", "spec.nodeName"),
            field("IP", "status.podIP"),
            field("HOST", "status.hostIP"),
            field("APP", "metadata.labels['app']"),
            var("URL", "http://$(IP):80/$(POD)/$(LATER)"),
            var("LATER", "x"),
        ];
        let env = container_env(&pod(), &c, &Sources::default(), &facts()).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("POD"), "web");
        assert_eq!(get("NS"), "prod");
        assert_eq!(get("UID"), "u-1");
        assert_eq!(get("NODE"), "node-a");
        assert_eq!(get("IP"), "10.1.0.5");
        assert_eq!(get("HOST"), "192.168.1.2");
        assert_eq!(get("APP"), "shop");
        assert_eq!(get("URL"), "http://10.1.0.5:80/web/$(LATER)");
    }

    #[test]
    fn config_maps_and_secrets_feed_env_and_env_from() {
        let mut sources = Sources::default();
        let cm = BTreeMap::from([
            ("color".to_string(), b"blue".to_vec()),
            ("size".to_string(), b"L".to_vec()),
        ]);
        sources.config_maps.insert("cfg".into(), Some(cm));
        let s = BTreeMap::from([("password".to_string(), b"hunter2".to_vec())]);
        sources.secrets.insert("creds".into(), Some(s));
        sources.config_maps.insert("gone".into(), None);
        let mut c = container(&[], &[]);
        c.env_from = vec![EnvFromSource {
            prefix: "CFG_".into(),
            config_map_ref: Some(EnvFromRef {
                name: "cfg".into(),
                optional: None,
            }),
            secret_ref: None,
        }];
        let key_ref = |name: &str, key: &str, optional| KeySelector {
            name: name.into(),
            key: key.into(),
            optional,
        };
        c.env = vec![
            EnvVar {
                name: "PW".into(),
                value: String::new(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(key_ref("creds", "password", None)),
                    ..EnvVarSource::default()
                }),
            },
            EnvVar {
                name: "MAYBE".into(),
                value: String::new(),
                value_from: Some(EnvVarSource {
                    config_map_key_ref: Some(key_ref("gone", "k", Some(true))),
                    ..EnvVarSource::default()
                }),
            },
            var("CFG_size", "XL"),
        ];
        let env = container_env(&pod(), &c, &sources, &facts()).unwrap();
        assert_eq!(
            env,
            [
                ("CFG_color".to_string(), "blue".to_string()),
                ("CFG_size".to_string(), "XL".to_string()),
                ("PW".to_string(), "hunter2".to_string()),
            ]
        );
        c.env.push(EnvVar {
            name: "MISSING".into(),
            value: String::new(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(key_ref("cfg", "nope", None)),
                ..EnvVarSource::default()
            }),
        });
        let err = container_env(&pod(), &c, &sources, &facts()).unwrap_err();
        assert!(err.contains("couldn't find key nope"), "{err}");
    }

    #[test]
    fn the_spec_env_overrides_the_image_env() {
        let spec = vec![("MODE".to_string(), "pod".to_string())];
        assert_eq!(merged_env(&image().env, &spec), ["PATH=/bin", "MODE=pod"]);
    }
}

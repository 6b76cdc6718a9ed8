//! `logs POD`: a container's log through the apiserver's `pods/{name}/log`
//! subresource (which proxies to the kubelet), streamed to stdout as it
//! arrives — with `-f`, for as long as the container writes.

use std::io::Write;

use futures::StreamExt;
use serde_json::Value;
use tug_api::core::Pod;
use tug_client::{Api, ApiResource, LogParams};

use super::context::Ctx;
use super::error::{usage, Result};
use crate::cli::LogsArgs;
use crate::printers::fields::{list_at, str_at};

/// The annotation naming the container `logs` and `exec` pick by default.
const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";

/// Run `logs`.
pub async fn run(ctx: &Ctx, args: &LogsArgs) -> Result<()> {
    let name = match args.pod.split_once('/') {
        None => args.pod.as_str(),
        Some(("pod" | "pods" | "po", name)) => name,
        Some((kind, _)) => {
            return Err(usage(format!(
                "logs of {kind} are not supported: name a pod (tugctl get pods -l ... lists them)"
            )))
        }
    };
    let pod: Value = ctx.api_here(&ApiResource::of::<Pod>()).get(name).await?;
    let container = match &args.container {
        Some(c) => {
            let known = containers(&pod);
            if !known.iter().any(|k| k == c) {
                return Err(usage(format!("container {c} is not valid for pod {name}")));
            }
            Some(c.clone())
        }
        None => default_container(&pod),
    };
    let params = LogParams {
        container,
        follow: args.follow,
        previous: args.previous,
        tail_lines: (args.tail >= 0).then_some(args.tail),
        timestamps: args.timestamps,
        since_seconds: None,
    };
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut body = api.log_stream(name, &params).await?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        let mut out = std::io::stdout().lock();
        if out.write_all(&chunk).and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The names of a pod's containers, init containers first.
fn containers(pod: &Value) -> Vec<String> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|f| list_at(pod, &["spec", f]))
        .map(|c| str_at(c, &["name"]).to_string())
        .collect()
}

/// With several containers and no `-c`: the annotated default, else the
/// first, saying so on stderr as kubectl does.
fn default_container(pod: &Value) -> Option<String> {
    let names: Vec<String> = list_at(pod, &["spec", "containers"])
        .iter()
        .map(|c| str_at(c, &["name"]).to_string())
        .collect();
    if names.len() < 2 {
        return None;
    }
    let chosen = pod["metadata"]["annotations"][DEFAULT_CONTAINER]
        .as_str()
        .filter(|d| names.iter().any(|n| n == d))
        .map(str::to_string)
        .unwrap_or_else(|| names[0].clone());
    eprintln!(
        "Defaulted container \"{chosen}\" out of: {}",
        names.join(", ")
    );
    Some(chosen)
}

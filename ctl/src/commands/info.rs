//! `version` and `api-resources`: what this client is and what the
//! server serves.

use serde_json::{json, Value};

use super::context::Ctx;
use super::emit;
use super::error::{usage, Result};
use crate::cli::{ApiResourcesArgs, VersionArgs};
use crate::printers::{self, OutputFormat, PrintOptions, Shape, TabWriter};

/// The client's version, as `git describe`-style text.
fn client_version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// Run `version`: `Client Version: ...` then `Server Version: ...`.
pub async fn version(ctx: Result<Ctx>, args: &VersionArgs) -> Result<()> {
    let client = json!({
        "gitVersion": client_version(),
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    });
    let server: Option<Result<Value>> = if args.client {
        None
    } else {
        Some(match ctx {
            Ok(ctx) => ctx
                .client
                .get_path::<Value>("/version")
                .await
                .map_err(Into::into),
            Err(e) => Err(e),
        })
    };
    let server_value = server.as_ref().and_then(|s| s.as_ref().ok()).cloned();
    match args.output.as_str() {
        "" => {
            let mut text = format!(
                "Client Version: {}\n",
                client["gitVersion"].as_str().unwrap_or_default()
            );
            if let Some(s) = &server_value {
                text.push_str(&format!(
                    "Server Version: {}\n",
                    s["gitVersion"].as_str().unwrap_or_default()
                ));
            }
            emit(&text);
        }
        "json" | "yaml" => {
            let mut doc = json!({"clientVersion": client});
            if let Some(s) = &server_value {
                doc["serverVersion"] = s.clone();
            }
            let format: OutputFormat = args.output.parse().map_err(usage)?;
            emit(
                &printers::print(
                    &[doc],
                    Shape::Single,
                    &format,
                    &PrintOptions::default(),
                    chrono::Utc::now(),
                )
                .map_err(usage)?,
            );
        }
        other => {
            return Err(usage(format!(
                "--output must be 'yaml' or 'json', not {other:?}"
            )))
        }
    }
    match server {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Go's name for this machine's architecture (`amd64`, `arm64`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Run `api-resources`: NAME SHORTNAMES APIVERSION NAMESPACED KIND.
pub async fn api_resources(ctx: &Ctx, args: &ApiResourcesArgs) -> Result<()> {
    let wide = match args.output.as_str() {
        "" => false,
        "wide" => true,
        "name" => false,
        other => {
            return Err(usage(format!(
                "--output must be 'wide' or 'name', not {other:?}"
            )))
        }
    };
    let mut resources: Vec<_> = ctx
        .discovery()
        .await?
        .resources()
        .iter()
        .filter(|r| r.preferred)
        .filter(|r| args.namespaced.is_none_or(|n| r.resource.namespaced == n))
        .filter(|r| {
            args.api_group
                .as_ref()
                .is_none_or(|g| &r.resource.group == g)
        })
        .collect();
    resources.sort_by(|a, b| {
        (&a.resource.group, &a.resource.plural).cmp(&(&b.resource.group, &b.resource.plural))
    });
    if args.output == "name" {
        let names: String = resources
            .iter()
            .map(|r| format!("{}\n", r.resource.plural_group()))
            .collect();
        emit(&names);
        return Ok(());
    }
    let mut lines = Vec::new();
    if !args.no_headers {
        let mut header = vec!["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"];
        if wide {
            header.extend(["VERBS", "CATEGORIES"]);
        }
        lines.push(header.into_iter().map(str::to_string).collect());
    }
    for r in resources {
        let mut row = vec![
            r.resource.plural.clone(),
            r.short_names.join(","),
            r.resource.api_version(),
            r.resource.namespaced.to_string(),
            r.resource.kind.clone(),
        ];
        if wide {
            row.push(format!("[{}]", r.verbs.join(" ")));
            row.push(r.categories.join(","));
        }
        lines.push(row);
    }
    emit(&TabWriter::new().write(&lines));
    Ok(())
}

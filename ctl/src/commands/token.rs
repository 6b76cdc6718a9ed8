//! `tugctl token create|list|delete`: bootstrap tokens for joining nodes
//! (kubeadm's `token` commands), over `tug_client::bootstrap`.

use std::time::Duration;

use chrono::Utc;
use clap::{Args, Subcommand};
use tug_api::duration::parse_duration;
use tug_api::pki;
use tug_client::bootstrap::{self, BootstrapError, TokenInfo, TokenOptions};
use tug_client::Config;

use super::context::{kubeconfig_options, Ctx};
use super::emit;
use super::error::{CtlError, Result};
use crate::cli::GlobalFlags;

/// `tugctl token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bootstrap token a node can join with.
    Create(CreateArgs),
    /// List the bootstrap tokens.
    List,
    /// Delete bootstrap tokens by id (or whole token).
    Delete {
        /// Token ids (`abcdef`) or tokens (`abcdef.0123456789abcdef`).
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// `tugctl token create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// How long the token is valid (`0`: forever).
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// A human-readable note kept with the token.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Extra groups the token authenticates as (`system:bootstrappers:...`).
    #[arg(long, value_delimiter = ',', default_value = bootstrap::DEFAULT_TOKEN_GROUP)]
    pub groups: Vec<String>,
    /// Print the whole `tug-kubelet` command that joins a node, not just the token.
    #[arg(long)]
    pub print_join_command: bool,
}

/// Run `tugctl token ...`.
pub async fn run(g: &GlobalFlags, command: &TokenCommand) -> Result<()> {
    let ctx = Ctx::new(g)?;
    match command {
        TokenCommand::Create(args) => {
            let opts = TokenOptions {
                ttl: (!args.ttl.is_zero()).then_some(args.ttl),
                description: args.description.clone(),
                groups: args.groups.clone(),
            };
            let token = bootstrap::create_token(&ctx.client, &opts)
                .await
                .map_err(bootstrap_error)?;
            if args.print_join_command {
                emit(&format!("{}\n", join_command(g, &token.to_string())?));
            } else {
                emit(&format!("{token}\n"));
            }
            Ok(())
        }
        TokenCommand::List => {
            let tokens = bootstrap::list_tokens(&ctx.client)
                .await
                .map_err(bootstrap_error)?;
            emit(&token_table(&tokens, Utc::now()));
            Ok(())
        }
        TokenCommand::Delete { ids } => {
            for id in ids {
                bootstrap::delete_token(&ctx.client, id)
                    .await
                    .map_err(bootstrap_error)?;
                let id = id.split_once('.').map_or(id.as_str(), |(id, _)| id);
                emit(&format!("bootstrap token \"{id}\" deleted\n"));
            }
            Ok(())
        }
    }
}

fn bootstrap_error(e: BootstrapError) -> CtlError {
    match e {
        BootstrapError::Client(c) => CtlError::Client(c),
        other => CtlError::Usage(other.to_string()),
    }
}

/// The `tug-kubelet` line that joins a node to the cluster of the
/// current kubeconfig: its server and the hash of its CA.
fn join_command(g: &GlobalFlags, token: &str) -> Result<String> {
    let config = Config::from_kubeconfig(&kubeconfig_options(g))?;
    let ca = config.root_cert_pem.as_deref().ok_or_else(|| {
        CtlError::Usage(
            "the current kubeconfig names no certificate authority, so there is no CA hash to pin; \
             use a kubeconfig with certificate-authority-data"
                .into(),
        )
    })?;
    let ca = String::from_utf8_lossy(ca);
    let hash = pki::ca_cert_hash(&ca)
        .map_err(|e| CtlError::Usage(format!("the kubeconfig's certificate authority: {e}")))?;
    let server = config.cluster_url.as_str().trim_end_matches('/');
    Ok(format!(
        "tug-kubelet --runtime runc --master {server} --token {token} --discovery-token-ca-cert-hash {hash}"
    ))
}

/// `TOKEN TTL EXPIRES USAGES DESCRIPTION EXTRA GROUPS`, as kubeadm prints
/// it (the token's secret is not shown: only its id).
fn token_table(tokens: &[TokenInfo], now: chrono::DateTime<Utc>) -> String {
    let mut rows = vec![[
        "TOKEN".to_string(),
        "TTL".into(),
        "EXPIRES".into(),
        "USAGES".into(),
        "DESCRIPTION".into(),
        "EXTRA GROUPS".into(),
    ]];
    for t in tokens {
        let (ttl, expires) = match t.expiration {
            Some(e) if t.is_expired(now) => ("<expired>".to_string(), e.to_rfc3339()),
            Some(e) => (
                tug_api::table::duration::human_duration(e - now),
                e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            None => ("<forever>".to_string(), "<never>".to_string()),
        };
        rows.push([
            format!("{}.<secret>", t.id),
            ttl,
            expires,
            t.usages.join(","),
            if t.description.is_empty() {
                "<none>".into()
            } else {
                t.description.clone()
            },
            t.groups.join(","),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_shows_ids_never_secrets() {
        let now = Utc::now();
        let tokens = vec![
            TokenInfo {
                id: "abcdef".into(),
                expiration: Some(now + chrono::TimeDelta::hours(23)),
                usages: vec!["authentication".into(), "signing".into()],
                groups: vec![bootstrap::DEFAULT_TOKEN_GROUP.into()],
                description: String::new(),
            },
            TokenInfo {
                id: "zzzzzz".into(),
                expiration: Some(now - chrono::TimeDelta::hours(1)),
                usages: vec![],
                groups: vec![],
                description: "old".into(),
            },
        ];
        let text = token_table(&tokens, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("TOKEN"));
        assert!(
            lines[1].starts_with("abcdef.<secret>   23h"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("authentication,signing"));
        assert!(lines[2].contains("<expired>"));
    }
}

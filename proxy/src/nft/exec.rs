//! Running the `nft` and `conntrack` commands: the only place the proxy
//! touches the kernel's netfilter state.

use std::net::Ipv4Addr;
use std::process::Stdio;

use anyhow::{bail, Context};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Apply `script` as one atomic transaction (`nft -f -`): either all of
/// it takes effect or none does.
pub async fn apply(script: &str) -> anyhow::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running nft")?;
    let mut stdin = child.stdin.take().context("nft stdin")?;
    // Write while nft reads: a large script does not fit the pipe.
    let write = async move {
        let r = stdin.write_all(script.as_bytes()).await;
        drop(stdin);
        r
    };
    let (written, output) = tokio::join!(write, child.wait_with_output());
    let output = output.context("waiting for nft")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "nft -f failed ({}): {}",
            output.status,
            first_lines(&stderr, 8)
        );
    }
    written.context("writing the nft script")?;
    Ok(())
}

/// The text of `nft list table ip <table>`, `None` if there is no such table.
pub async fn list_table(table: &str) -> anyhow::Result<Option<String>> {
    let output = Command::new("nft")
        .args(["list", "table", "ip", table])
        .stdin(Stdio::null())
        .output()
        .await
        .context("running nft list table")?;
    if output.status.success() {
        return Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No such file or directory") {
        return Ok(None);
    }
    bail!("nft list table ip {table}: {}", first_lines(&stderr, 4))
}

/// Delete table `ip <table>`; `Ok(false)` if it did not exist.
pub async fn delete_table(table: &str) -> anyhow::Result<bool> {
    if list_table(table).await?.is_none() {
        return Ok(false);
    }
    apply(&format!("delete table ip {table}\n")).await?;
    Ok(true)
}

/// Forget the UDP flows to `endpoint` through the service, as kube-proxy
/// does when a UDP endpoint goes away: conntrack would otherwise keep
/// sending a client's "connection" (same source port) to the dead pod.
/// TCP is left alone on purpose, so a terminating pod can finish its
/// in-flight requests (graceful termination), as upstream does.
pub async fn clear_udp_flows(cluster_ip: Ipv4Addr, node_port: Option<u16>, endpoint: Ipv4Addr) {
    let ep = endpoint.to_string();
    let mut runs = vec![vec![
        "-D".to_string(),
        "-p".into(),
        "udp".into(),
        "--orig-dst".into(),
        cluster_ip.to_string(),
        "--dst-nat".into(),
        ep.clone(),
    ]];
    if let Some(np) = node_port {
        runs.push(vec![
            "-D".into(),
            "-p".into(),
            "udp".into(),
            "--orig-port-dst".into(),
            np.to_string(),
            "--dst-nat".into(),
            ep.clone(),
        ]);
    }
    for args in runs {
        // Exit status 1 means "nothing matched": fine.
        match Command::new("conntrack")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
        {
            Ok(_) => tracing::debug!(?args, "cleared UDP conntrack entries"),
            Err(e) => tracing::warn!(error = %e, "conntrack not runnable; stale UDP flows stay"),
        }
    }
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join(" | ")
}

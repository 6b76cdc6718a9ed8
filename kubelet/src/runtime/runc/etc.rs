//! The files a pod's containers see at `/etc/hosts`, `/etc/hostname` and
//! `/etc/resolv.conf`, kept in the pod dir's `etc/` and bind-mounted.

use std::net::IpAddr;
use std::path::Path;

use tug_api::core::HostAlias;

/// `/etc/hosts` of a pod with its own network: localhost, the pod's IPs
/// under its hostname, then its `hostAliases`.
pub fn hosts_file(ips: &[IpAddr], hostname: &str, aliases: &[HostAlias]) -> String {
    let mut s = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    for ip in ips {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    if !aliases.is_empty() {
        s.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            s.push_str(&format!("{}\t{}\n", a.ip, a.hostnames.join("\t")));
        }
    }
    s
}

/// The hostname of a pod: `spec.hostname`, else its name.
pub fn pod_hostname(pod: &tug_api::core::Pod) -> String {
    if pod.spec.hostname.is_empty() {
        pod.metadata.name.clone()
    } else {
        pod.spec.hostname.clone()
    }
}

/// Write the pod's `etc/` files into `dir`. `host_network` pods get the
/// node's hosts file and hostname.
pub fn write(
    dir: &Path,
    pod: &tug_api::core::Pod,
    ips: &[IpAddr],
    host_network: bool,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (hosts, hostname) = if host_network {
        (
            std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_string(),
        )
    } else {
        let h = pod_hostname(pod);
        (hosts_file(ips, &h, &pod.spec.host_aliases), h)
    };
    std::fs::write(dir.join("hosts"), hosts)?;
    std::fs::write(dir.join("hostname"), format!("{hostname}\n"))?;
    let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(dir.join("resolv.conf"), resolv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_file_names_the_pod_and_its_aliases() {
        let ips = vec!["10.1.0.7".parse().unwrap()];
        let aliases = vec![HostAlias {
            ip: "1.2.3.4".into(),
            hostnames: vec!["a.example".into(), "b.example".into()],
        }];
        let h = hosts_file(&ips, "web-0", &aliases);
        assert!(h.contains("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.1.0.7\tweb-0\n"));
        assert!(h.ends_with("1.2.3.4\ta.example\tb.example\n"));
    }
}

//! `tug-apiserver` flags: ports, addresses and certificates.
//!
//! HTTPS only by default (`--secure-port 6443` on `--bind-address`); a
//! plain-HTTP port exists only when asked for (`--insecure-port`), and
//! only on a loopback address, because everything arriving on it is
//! trusted as an admin (upstream's old insecure port).

use std::net::IpAddr;
use std::path::PathBuf;

/// Flags of this concern, flattened into [`super::Flags`].
#[derive(clap::Args, Debug, Clone)]
pub struct TlsFlags {
    /// HTTPS port (0 = off).
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
    /// Address the secure port listens on (0.0.0.0 = every IPv4 address).
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Address clients are told to reach the apiserver at (kubeconfigs,
    /// `cluster-info`); default: --bind-address unless it is unspecified,
    /// then the host's primary IPv4 address.
    #[arg(long)]
    pub advertise_address: Option<IpAddr>,
    /// Plain-HTTP port (0 = off). Requests on it are trusted as
    /// `system:masters`: loopback only.
    #[arg(long, default_value_t = 0)]
    pub insecure_port: u16,
    /// Address of the plain-HTTP port; must be a loopback address.
    #[arg(long, default_value = "127.0.0.1")]
    pub insecure_bind_address: IpAddr,
    /// Serving certificate (PEM, chain allowed); default: generated under
    /// --data-dir/pki, signed by the cluster CA.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// Private key of --tls-cert-file.
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// CA bundle client certificates are verified against; default: the
    /// generated cluster CA (--data-dir/pki/ca.crt).
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// Extra subject alternative name (DNS name or IP address) of the
    /// generated serving certificate; repeatable.
    #[arg(long = "tls-san")]
    pub tls_sans: Vec<String>,
    /// Client certificate the apiserver presents to kubelets; default:
    /// generated (CN kube-apiserver-kubelet-client, O system:masters).
    #[arg(long)]
    pub kubelet_client_certificate: Option<PathBuf>,
    /// Private key of --kubelet-client-certificate.
    #[arg(long)]
    pub kubelet_client_key: Option<PathBuf>,
}

impl TlsFlags {
    /// Refuse combinations that cannot work, with a message naming the
    /// flags: a non-loopback insecure address, a certificate without its
    /// key (or the other way round), nothing to serve on.
    pub fn validate(&self) -> Result<(), String> {
        if self.insecure_port != 0 && !self.insecure_bind_address.is_loopback() {
            return Err(format!(
                "--insecure-bind-address {} is not a loopback address: the insecure port \
                 serves every request as an administrator, so it may only listen on \
                 127.0.0.1 or ::1",
                self.insecure_bind_address
            ));
        }
        pair(
            &self.tls_cert_file,
            "--tls-cert-file",
            &self.tls_private_key_file,
            "--tls-private-key-file",
        )?;
        pair(
            &self.kubelet_client_certificate,
            "--kubelet-client-certificate",
            &self.kubelet_client_key,
            "--kubelet-client-key",
        )?;
        if self.secure_port == 0 && self.insecure_port == 0 {
            return Err("--secure-port 0 and --insecure-port 0: nothing to serve on".into());
        }
        Ok(())
    }
}

fn pair<T>(a: &Option<T>, a_name: &str, b: &Option<T>, b_name: &str) -> Result<(), String> {
    match (a.is_some(), b.is_some()) {
        (true, false) => Err(format!("{a_name} needs {b_name}")),
        (false, true) => Err(format!("{b_name} needs {a_name}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::flags::Flags;

    fn parse(args: &[&str]) -> Flags {
        Flags::try_parse_from(std::iter::once("tug-apiserver").chain(args.iter().copied()))
            .expect("flags parse")
    }

    #[test]
    fn https_only_by_default() {
        let f = parse(&[]);
        assert_eq!(f.tls.secure_port, 6443);
        assert_eq!(f.tls.bind_address.to_string(), "0.0.0.0");
        assert_eq!(f.tls.insecure_port, 0);
        f.tls.validate().unwrap();
    }

    #[test]
    fn the_insecure_port_is_loopback_only() {
        let f = parse(&[
            "--insecure-port",
            "8080",
            "--insecure-bind-address",
            "10.1.2.3",
        ]);
        let err = f.tls.validate().unwrap_err();
        assert!(
            err.contains("--insecure-bind-address 10.1.2.3 is not a loopback"),
            "{err}"
        );
        parse(&["--insecure-port", "8080", "--insecure-bind-address", "::1"])
            .tls
            .validate()
            .unwrap();
    }

    #[test]
    fn a_certificate_needs_its_key() {
        let err = parse(&["--tls-cert-file", "a.crt"])
            .tls
            .validate()
            .unwrap_err();
        assert_eq!(err, "--tls-cert-file needs --tls-private-key-file");
        let err = parse(&["--kubelet-client-key", "k"])
            .tls
            .validate()
            .unwrap_err();
        assert_eq!(
            err,
            "--kubelet-client-key needs --kubelet-client-certificate"
        );
    }

    #[test]
    fn sans_repeat_and_a_later_flag_wins() {
        let f = parse(&[
            "--tls-san",
            "api.example.com",
            "--tls-san",
            "192.0.2.10",
            "--bind-address",
            "0.0.0.0",
            "--bind-address",
            "127.0.0.1",
        ]);
        assert_eq!(f.tls.tls_sans, ["api.example.com", "192.0.2.10"]);
        assert_eq!(f.tls.bind_address.to_string(), "127.0.0.1");
    }
}

//! Ports, protocols, IP addresses and CIDRs
//! (`IsValidPortNum`, `IsValidPortName`, `IsValidIP`, `IsValidCIDR` upstream).

use std::net::IpAddr;

use crate::intstr::IntOrString;
use crate::status::{FieldError, FieldErrors};

use super::numbers::range_message;

/// The protocols a port may name, in the order Kubernetes lists them.
pub const SUPPORTED_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// A port number in 1..=65535.
pub fn port_number(field: &str, port: i32) -> FieldErrors {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![FieldError::invalid(field, port, &range_message(1, 65535))]
    }
}

/// The problems with a port name under the IANA_SVC_NAME rules (RFC 6335):
/// at most 15 characters, lower-case alphanumerics and `-`, at least one
/// letter, no `--`, no leading or trailing `-`. Empty when valid.
pub fn port_name_problems(name: &str) -> Vec<&'static str> {
    let mut msgs = Vec::new();
    if name.len() > 15 {
        msgs.push("must be no more than 15 characters");
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        msgs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        msgs.push("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        msgs.push("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        msgs.push("must not begin or end with a hyphen");
    }
    msgs
}

/// A named port (container port names, `targetPort: http`).
pub fn port_name(field: &str, name: &str) -> FieldErrors {
    port_name_problems(name)
        .into_iter()
        .map(|m| FieldError::invalid(field, name, m))
        .collect()
}

/// A port given as a number or as a name (`targetPort`, probe ports).
pub fn port_num_or_name(field: &str, port: &IntOrString) -> FieldErrors {
    match port {
        IntOrString::Int(i) => port_number(field, *i),
        IntOrString::String(s) => port_name(field, s),
    }
}

/// A port protocol: required, one of SCTP, TCP, UDP.
pub fn protocol(field: &str, value: &str) -> FieldErrors {
    if value.is_empty() {
        vec![FieldError::required(field, "")]
    } else if !SUPPORTED_PROTOCOLS.contains(&value) {
        vec![FieldError::not_supported(field, value, SUPPORTED_PROTOCOLS)]
    } else {
        Vec::new()
    }
}

/// Parse an IPv4 or IPv6 address.
pub fn parse_ip(value: &str) -> Option<IpAddr> {
    value.parse().ok()
}

/// A valid IPv4 or IPv6 address.
pub fn ip_address(field: &str, value: &str) -> FieldErrors {
    if parse_ip(value).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            field,
            value,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        )]
    }
}

/// An address an endpoint may point at: not unspecified, loopback,
/// link-local or link-local multicast (`ValidateNonSpecialIP`). Assumes the
/// address parsed; reports nothing otherwise.
pub fn non_special_ip(field: &str, value: &str) -> FieldErrors {
    let Some(ip) = parse_ip(value) else {
        return Vec::new();
    };
    let msg = match ip {
        _ if ip.is_unspecified() => Some("may not be unspecified (0.0.0.0)"),
        _ if ip.is_loopback() => Some("may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        IpAddr::V4(v4) if v4.is_link_local() => {
            Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => {
            Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        }
        IpAddr::V4(v4) if v4.octets()[..3] == [224, 0, 0] => {
            Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xff00 && v6.segments()[0] & 0x0f == 2 => {
            Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        }
        _ => None,
    };
    msg.map(|m| vec![FieldError::invalid(field, value, m)])
        .unwrap_or_default()
}

/// Parse `addr/prefix` into the address and prefix length. Host bits may
/// be set, as Kubernetes' legacy CIDR parsing allows.
pub fn parse_cidr(value: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = value.split_once('/')?;
    let ip = parse_ip(addr)?;
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let len: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// A valid CIDR (`10.244.1.0/24`).
pub fn cidr(field: &str, value: &str) -> FieldErrors {
    if parse_cidr(value).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            field,
            value,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_follow_iana_rules() {
        assert!(port_name("f", "http").is_empty());
        assert!(port_name("f", "http-alt2").is_empty());
        let errs = port_name("f", "HTTP");
        assert_eq!(
            errs[0].message(),
            "Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
        );
        assert!(port_name("f", "8080")
            .iter()
            .any(|e| e.detail == "must contain at least one letter (a-z)"));
        assert!(port_name("f", "a-very-long-port-name")
            .iter()
            .any(|e| e.detail == "must be no more than 15 characters"));
        assert!(port_name("f", "a--b")
            .iter()
            .any(|e| e.detail == "must not contain consecutive hyphens"));
        assert!(port_name("f", "-ab")
            .iter()
            .any(|e| e.detail == "must not begin or end with a hyphen"));
    }

    #[test]
    fn ports_protocols_ips_cidrs() {
        assert!(port_number("f", 65535).is_empty());
        assert!(!port_number("f", 65536).is_empty());
        assert_eq!(
            protocol("f", "HTTP")[0].message(),
            "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
        );
        assert!(ip_address("f", "10.0.0.1").is_empty());
        assert!(ip_address("f", "2001:db8::1").is_empty());
        assert!(!ip_address("f", "10.0.0.256").is_empty());
        assert!(!non_special_ip("f", "127.0.0.1").is_empty());
        assert!(!non_special_ip("f", "169.254.1.1").is_empty());
        assert!(non_special_ip("f", "10.1.2.3").is_empty());
        assert!(cidr("f", "10.244.1.0/24").is_empty());
        assert!(cidr("f", "fd00::/64").is_empty());
        assert!(!cidr("f", "10.244.1.0/33").is_empty());
        assert!(!cidr("f", "10.244.1.0").is_empty());
    }
}

//! Image references as Docker and Kubernetes parse them: `[domain/]path[:tag][@digest]`,
//! normalised so that `busybox` means `docker.io/library/busybox:latest`.

use std::fmt;

/// The registry a reference without a domain lives on.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag a reference with neither tag nor digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository name (domain included) the distribution spec allows.
const MAX_NAME_LEN: usize = 255;

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The registry host (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// The repository path on that registry (`library/busybox`).
    pub repository: String,
    /// The tag, if one was given (or defaulted because no digest was).
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if one was given.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidReference(pub String);

impl fmt::Display for InvalidReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "couldn't parse image name {:?}: invalid reference format",
            self.0
        )
    }
}

impl Reference {
    /// Parse and normalise `s` (Docker's rules: the first path component is a
    /// registry if it holds a `.` or `:` or is `localhost`; Docker Hub names of
    /// one component live under `library/`; no tag and no digest means `latest`).
    pub fn parse(s: &str) -> Result<Reference, InvalidReference> {
        let bad = || InvalidReference(s.to_string());
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                if !valid_digest(digest) {
                    return Err(bad());
                }
                (rest, Some(digest.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/' (a ':'
        // before it belongs to a registry port).
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !valid_tag(tag) {
                    return Err(bad());
                }
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DEFAULT_REGISTRY.to_string()
        } else {
            registry
        };
        if !valid_domain(&registry) || path.is_empty() || !path.split('/').all(valid_component) {
            return Err(bad());
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(bad());
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            _ => tag,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, the name a repo digest is formed from.
    pub fn repo(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry's manifest endpoint for: the digest when
    /// given (it pins the content), else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// `repo:tag` when a tag is given, else `None` (a digest-only reference
    /// names no tag the store could record).
    pub fn tagged(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{t}", self.repo()))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repo())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, the distribution spec's path component.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: '.', '_', '__' or any number of '-'.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// A host name or IPv4 address, with an optional numeric port.
fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `sha256:` and 64 lowercase hex digits (the only algorithm the store
/// verifies, so the only one it accepts).
pub fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_names_get_library_and_latest() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("bitnami/redis"), "docker.io/bitnami/redis:latest");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/library/busybox:1"),
            "docker.io/library/busybox:1"
        );
    }

    #[test]
    fn registries_with_ports_and_localhost() {
        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "x");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(norm("localhost/a/b:v1"), "localhost/a/b:v1");
        assert_eq!(
            norm("127.0.0.1:5000/team/app:2"),
            "127.0.0.1:5000/team/app:2"
        );
        assert_eq!(norm("quay.io/coreos/etcd:v3.5"), "quay.io/coreos/etcd:v3.5");
    }

    #[test]
    fn digests_pin_and_suppress_the_default_tag() {
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        let both = Reference::parse(&format!("localhost:5000/x:v1@{D}")).unwrap();
        assert_eq!(both.tag.as_deref(), Some("v1"));
        assert_eq!(both.manifest_ref(), D, "the digest wins over the tag");
    }

    #[test]
    fn bad_names_are_rejected() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox@sha256:abc",
            "busybox@md5:0123",
            "a//b",
            "-a",
            "a:b:c",
            "localhost:99999/x",
            "busy box",
            ":tag",
            "x/",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be invalid");
        }
        let e = Reference::parse("UPPER").unwrap_err();
        assert!(e.to_string().contains("invalid reference format"));
    }

    #[test]
    fn path_component_separators() {
        assert!(valid_component("a.b_c__d--e"));
        assert!(!valid_component("a..b"));
        assert!(!valid_component("a___b"));
        assert!(!valid_component("a-"));
    }
}

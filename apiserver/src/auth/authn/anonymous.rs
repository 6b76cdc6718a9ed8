//! Requests without a credential: allowed (as `system:anonymous`) only
//! on the few public paths, as upstream's default public-info policy plus
//! the `cluster-info` ConfigMap kubeadm's discovery reads.

use http::Method;

/// Paths anyone may GET without credentials.
pub const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

/// The ConfigMap joining nodes read before they have a credential.
pub const CLUSTER_INFO_PATH: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";

/// Whether an unauthenticated request may proceed.
pub fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && (PUBLIC_PATHS.contains(&path) || path == CLUSTER_INFO_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_of_the_public_paths() {
        assert!(is_public(&Method::GET, "/healthz"));
        assert!(is_public(&Method::GET, "/version"));
        assert!(is_public(&Method::GET, CLUSTER_INFO_PATH));
        assert!(!is_public(&Method::PUT, CLUSTER_INFO_PATH));
        assert!(!is_public(
            &Method::GET,
            "/api/v1/namespaces/kube-public/configmaps"
        ));
        assert!(!is_public(&Method::GET, "/api/v1/pods"));
        assert!(!is_public(&Method::GET, "/openapi/v2"));
    }
}

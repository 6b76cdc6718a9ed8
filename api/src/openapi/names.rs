//! Upstream definition names: the Go package path of each type plus its
//! name (`io.k8s.api.core.v1.Pod`), from the Rust type's schema name.

/// `metav1` (`io.k8s.apimachinery.pkg.apis.meta.v1`) types.
const META: &[&str] = &[
    "ObjectMeta",
    "ListMeta",
    "OwnerReference",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ManagedFieldsEntry",
    "Time",
    "MicroTime",
    "Status",
    "StatusDetails",
    "StatusCause",
    "Patch",
    "WatchEvent",
    "DeleteOptions",
    // `metav1.Condition`, the shape of `Service.status.conditions`.
    "Condition",
];

/// `apps/v1` types.
const APPS: &[&str] = &[
    "Deployment",
    "DeploymentList",
    "DeploymentSpec",
    "DeploymentStrategy",
    "RollingUpdateDeployment",
    "DeploymentStatus",
    "DeploymentCondition",
    "ReplicaSet",
    "ReplicaSetList",
    "ReplicaSetSpec",
    "ReplicaSetStatus",
    "ReplicaSetCondition",
];

/// `autoscaling/v1` types.
const AUTOSCALING: &[&str] = &["Scale", "ScaleSpec", "ScaleStatus"];

/// `coordination.k8s.io/v1` types.
const COORDINATION: &[&str] = &["Lease", "LeaseList", "LeaseSpec"];

/// `certificates.k8s.io/v1` types.
const CERTIFICATES: &[&str] = &[
    "CertificateSigningRequest",
    "CertificateSigningRequestList",
    "CertificateSigningRequestSpec",
    "CertificateSigningRequestStatus",
    "CertificateSigningRequestCondition",
];

/// `rbac.authorization.k8s.io/v1` types.
const RBAC: &[&str] = &[
    "Role",
    "RoleList",
    "ClusterRole",
    "ClusterRoleList",
    "RoleBinding",
    "RoleBindingList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "PolicyRule",
    "Subject",
    "RoleRef",
    "AggregationRule",
];

/// Rust type names that spell an acronym differently from Go (or name a
/// type after a different upstream one), with the upstream name.
const GO_NAMES: &[(&str, &str)] = &[
    ("ClientIpConfig", "ClientIPConfig"),
    ("Condition", "Condition"),
    ("CsiVolumeSource", "CSIVolumeSource"),
    ("DownwardApiProjection", "DownwardAPIProjection"),
    ("DownwardApiVolumeFile", "DownwardAPIVolumeFile"),
    ("DownwardApiVolumeSource", "DownwardAPIVolumeSource"),
    ("GrpcAction", "GRPCAction"),
    ("HttpGetAction", "HTTPGetAction"),
    ("HttpHeader", "HTTPHeader"),
    ("IpEntry", "PodIP"),
    ("NfsVolumeSource", "NFSVolumeSource"),
    ("PodDnsConfig", "PodDNSConfig"),
    ("PodDnsConfigOption", "PodDNSConfigOption"),
    ("PodOs", "PodOS"),
    ("SeLinuxOptions", "SELinuxOptions"),
    ("TcpSocketAction", "TCPSocketAction"),
];

/// The upstream definition name of the type whose schema is named `rust`.
/// Everything not listed is a `core/v1` type.
pub(crate) fn upstream(rust: &str) -> String {
    let go = GO_NAMES
        .iter()
        .find(|(r, _)| *r == rust)
        .map_or(rust, |(_, go)| go);
    let package = match rust {
        "Quantity" => "io.k8s.apimachinery.pkg.api.resource",
        "IntOrString" => "io.k8s.apimachinery.pkg.util.intstr",
        n if META.contains(&n) => "io.k8s.apimachinery.pkg.apis.meta.v1",
        n if APPS.contains(&n) => "io.k8s.api.apps.v1",
        n if AUTOSCALING.contains(&n) => "io.k8s.api.autoscaling.v1",
        n if COORDINATION.contains(&n) => "io.k8s.api.coordination.v1",
        n if CERTIFICATES.contains(&n) => "io.k8s.api.certificates.v1",
        n if RBAC.contains(&n) => "io.k8s.api.rbac.v1",
        _ => "io.k8s.api.core.v1",
    };
    format!("{package}.{go}")
}

/// The upstream definition name of a kind of `group`/`version`
/// (`apps`, `v1`, `Deployment` → `io.k8s.api.apps.v1.Deployment`).
pub(crate) fn of_kind(group: &str, version: &str, kind: &str) -> String {
    let group = match group {
        "" => "core",
        // `coordination.k8s.io` → `coordination`, as the Go packages are
        // named; `rbac.authorization.k8s.io` → `rbac`.
        g => {
            let g = g.strip_suffix(".k8s.io").unwrap_or(g);
            g.strip_suffix(".authorization").unwrap_or(g)
        }
    };
    format!("io.k8s.api.{group}.{version}.{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_go_packages() {
        assert_eq!(upstream("Pod"), "io.k8s.api.core.v1.Pod");
        assert_eq!(
            upstream("DeploymentSpec"),
            "io.k8s.api.apps.v1.DeploymentSpec"
        );
        assert_eq!(
            upstream("ObjectMeta"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(
            upstream("IntOrString"),
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
        );
        assert_eq!(
            of_kind("coordination.k8s.io", "v1", "Lease"),
            upstream("Lease")
        );
        assert_eq!(of_kind("", "v1", "Pod"), upstream("Pod"));
        assert_eq!(
            of_kind("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
            "io.k8s.api.rbac.v1.ClusterRoleBinding"
        );
        assert_eq!(upstream("PolicyRule"), "io.k8s.api.rbac.v1.PolicyRule");
        assert_eq!(
            upstream("HttpGetAction"),
            "io.k8s.api.core.v1.HTTPGetAction"
        );
        assert_eq!(
            upstream("Condition"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.Condition"
        );
        assert_eq!(
            of_kind("apps", "v1", "ReplicaSetList"),
            upstream("ReplicaSetList")
        );
    }
}

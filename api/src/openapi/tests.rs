//! What kubectl and the apiserver read from the descriptions.

use serde_json::{json, Value};

use super::*;

fn served() -> Vec<ServedResource> {
    let r = |group, kind, plural, namespaced, subresources| ServedResource {
        group,
        version: "v1",
        kind,
        plural,
        namespaced,
        subresources,
    };
    vec![
        r(
            "",
            "Namespace",
            "namespaces",
            false,
            &["status", "finalize"],
        ),
        r("", "Pod", "pods", true, &["status", "binding", "log"]),
        r(
            "apps",
            "Deployment",
            "deployments",
            true,
            &["status", "scale"],
        ),
        r("coordination.k8s.io", "Lease", "leases", true, &[]),
    ]
}

fn gvk_of(def: &Value) -> Value {
    def["x-kubernetes-group-version-kind"].clone()
}

#[test]
fn every_kind_and_list_carries_its_group_version_kind() {
    let defs = definitions();
    for (group, kind) in [
        ("", "Namespace"),
        ("", "Pod"),
        ("", "Node"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "Event"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("coordination.k8s.io", "Lease"),
    ] {
        for k in [kind.to_string(), format!("{kind}List")] {
            let gvk = Gvk::new(group, "v1", &k);
            let def = defs
                .get(&gvk.definition())
                .unwrap_or_else(|| panic!("{} missing", gvk.definition()));
            assert_eq!(gvk_of(def), json!([gvk.to_json()]), "{k}");
        }
    }
    let scale = &defs["io.k8s.api.autoscaling.v1.Scale"];
    assert_eq!(
        gvk_of(scale),
        json!([{"group": "autoscaling", "kind": "Scale", "version": "v1"}])
    );
}

#[test]
fn fields_are_the_json_names_with_their_types() {
    let defs = definitions();
    let spec = &defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"];
    assert_eq!(spec["replicas"]["type"], "integer");
    assert_eq!(spec["replicas"]["format"], "int32");
    assert_eq!(spec["minReadySeconds"]["type"], "integer");
    assert!(spec.get("min_ready_seconds").is_none());
    assert_eq!(
        spec["template"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"
    );
    let rolling = &defs["io.k8s.api.apps.v1.RollingUpdateDeployment"]["properties"];
    assert_eq!(
        rolling["maxSurge"]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    );
    let spec_def = &defs["io.k8s.api.apps.v1.DeploymentSpec"];
    assert_eq!(spec_def["required"], json!(["selector", "template"]));
    let container = &defs["io.k8s.api.core.v1.Container"];
    assert_eq!(container["required"], json!(["name"]));
    let owner = &defs["io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"];
    assert_eq!(
        owner["required"],
        json!(["apiVersion", "kind", "name", "uid"])
    );
    let meta = &defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"];
    assert_eq!(meta["labels"]["additionalProperties"]["type"], "string");
    assert_eq!(
        meta["managedFields"]["items"]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"
    );
    // No JSON Schema residue kube-openapi would not parse.
    let text = serde_json::to_string(&defs).unwrap();
    assert!(!text.contains("\"null\""), "null types remain");
    assert!(!text.contains("$schema"));
}

#[test]
fn lists_carry_patch_and_apply_metadata() {
    let defs = definitions();
    let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    let ports = &defs["io.k8s.api.core.v1.Container"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    // Server-side apply keys ports by port and protocol, as upstream
    // publishes it, though strategic merge keys them by the port alone.
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    let volumes = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let finalizers =
        &defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-list-type"], "set");
    let service_ports = &defs["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
    assert_eq!(service_ports["x-kubernetes-patch-merge-key"], "port");
    assert_eq!(
        service_ports["x-kubernetes-list-map-keys"],
        json!(["port", "protocol"])
    );
    // Atomic lists carry nothing.
    let args = &defs["io.k8s.api.core.v1.Container"]["properties"]["args"];
    assert!(args.get("x-kubernetes-patch-strategy").is_none());
}

fn all_refs(v: &Value, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    super::clean::refs(v, prefix, &mut out);
    out
}

#[test]
fn v3_document_has_every_verb_with_validation_params_and_no_dangling_refs() {
    let defs = definitions();
    let doc = document("apps", "v1", &served(), &defs);
    let paths = doc["paths"].as_object().unwrap();
    let item = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    for verb in ["get", "put", "patch", "delete"] {
        assert_eq!(
            item[verb]["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "kind": "Deployment", "version": "v1"}),
            "{verb}"
        );
    }
    let names = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    for p in ["dryRun", "fieldManager", "fieldValidation", "force"] {
        assert!(names(&item["patch"]).contains(&p.to_string()), "{p}");
    }
    assert!(names(&item["put"]).contains(&"fieldValidation".to_string()));
    // Every PATCH of the kind (kubectl checks whichever it finds first)
    // offers fieldValidation.
    for (path, item) in paths {
        if let Some(op) = item.get("patch") {
            assert!(names(op).contains(&"fieldValidation".to_string()), "{path}");
        }
    }
    let scale = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["patch"]["x-kubernetes-group-version-kind"]["kind"],
        "Scale"
    );
    assert!(paths.contains_key("/apis/apps/v1/deployments"));
    assert!(
        !paths.keys().any(|p| p.contains("/pods")),
        "core paths leak in"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in all_refs(&doc, "#/components/schemas/") {
        assert!(schemas.contains_key(&r), "dangling {r}");
    }
    assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentList"));
    assert!(!schemas.contains_key("io.k8s.api.core.v1.Node"));

    let core = document("", "v1", &served(), &defs);
    let log = &core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"];
    assert!(names(log).contains(&"follow".to_string()));
    assert!(core["paths"]
        .get("/api/v1/namespaces/{name}/finalize")
        .is_some());
}

#[test]
fn swagger_uses_v2_forms() {
    let defs = definitions();
    let doc = swagger(&served(), &defs);
    assert_eq!(doc["swagger"], "2.0");
    assert!(all_refs(&doc, "#/components/").is_empty());
    let definitions = doc["definitions"].as_object().unwrap();
    for r in all_refs(&doc, "#/definitions/") {
        assert!(definitions.contains_key(&r), "dangling {r}");
    }
    let ios = &definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(ios["type"], "string");
    assert_eq!(ios["format"], "int-or-string");
    assert!(ios.get("oneOf").is_none());
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    let params = patch["parameters"].as_array().unwrap();
    assert_eq!(params[0]["in"], "body");
    let fv = params
        .iter()
        .find(|p| p["name"] == "fieldValidation")
        .unwrap();
    assert_eq!(fv["type"], "string");
    assert!(patch["consumes"]
        .as_array()
        .unwrap()
        .contains(&json!("application/strategic-merge-patch+json")));
    assert_eq!(
        patch["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.Deployment"
    );
}

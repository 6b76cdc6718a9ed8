//! Every example in `manifests/` is accepted by the apiserver as it is
//! (each YAML document POSTed to the path discovery gives for its kind).

mod common;

use common::*;
use serde_json::Value;

/// `(apiVersion, kind)` → collection path in namespace `default`, from discovery.
async fn collection_path(api: &Api, api_version: &str, kind: &str) -> String {
    let base = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    let list = api.get(&base).await.ok();
    let res = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && !r["name"].as_str().unwrap().contains('/'))
        .unwrap_or_else(|| panic!("discovery has no {kind} in {api_version}"))
        .clone();
    let plural = res["name"].as_str().unwrap();
    if res["namespaced"] == true {
        format!("{base}/namespaces/default/{plural}")
    } else {
        format!("{base}/{plural}")
    }
}

#[tokio::test]
async fn every_example_manifest_is_accepted() {
    let server = start();
    let api = Api::new(&server.url);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "manifests/ has examples");
    let mut applied = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, doc) in text.split("\n---").enumerate() {
            let value: Value = serde_yaml::from_str(doc).unwrap();
            if value.is_null() {
                continue;
            }
            let path = collection_path(
                &api,
                value["apiVersion"].as_str().unwrap(),
                value["kind"].as_str().unwrap(),
            )
            .await;
            let r = api
                .raw(
                    reqwest::Method::POST,
                    &path,
                    "application/yaml",
                    doc.as_bytes().to_vec(),
                )
                .await;
            assert_eq!(
                r.code,
                201,
                "{}: document {}: {}",
                file.display(),
                i + 1,
                r.body
            );
            applied += 1;
        }
    }
    assert!(applied >= 2);
}

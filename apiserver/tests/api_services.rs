//! Service ClusterIP and NodePort allocation: unique, persisted, released.

mod common;

use common::*;
use serde_json::json;

const SVC: &str = "/api/v1/namespaces/default/services";

fn ip_of(v: &serde_json::Value) -> String {
    v["spec"]["clusterIP"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn cluster_ips_are_allocated_from_the_range_and_unique() {
    let server = start_with(&["--service-cluster-ip-range", "10.100.0.0/24"]);
    let api = Api::new(&server.url);
    // A requested free IP is given exactly (asked first, so no random
    // allocation can have taken it).
    let mut fixed = service("fixed", "ClusterIP");
    fixed["spec"]["clusterIP"] = json!("10.100.0.200");
    assert_eq!(ip_of(&api.post(SVC, &fixed).await.ok()), "10.100.0.200");
    let mut ips = std::collections::BTreeSet::new();
    for i in 0..20 {
        let s = api
            .post(SVC, &service(&format!("s{i}"), "ClusterIP"))
            .await
            .ok();
        let ip = ip_of(&s);
        assert!(ip.starts_with("10.100.0."), "{ip}");
        assert_eq!(s["spec"]["clusterIPs"][0], ip.as_str());
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 8080);
        ips.insert(ip);
    }
    assert_eq!(ips.len(), 20);

    // A requested IP that is taken → 422 naming the field.
    let taken = ips.iter().next().unwrap().clone();
    let mut s = service("dup", "ClusterIP");
    s["spec"]["clusterIP"] = json!(taken);
    let r = api.post(SVC, &s).await;
    assert_eq!((r.code, r.reason()), (422, "Invalid"), "{}", r.body);
    assert_eq!(r.body["details"]["causes"][0]["field"], "spec.clusterIPs");
    assert!(r.message().contains("already allocated"), "{}", r.message());
    // Out of range → 422.
    s["spec"]["clusterIP"] = json!("192.168.1.1");
    assert_eq!(api.post(SVC, &s).await.code, 422);

    // Headless and ExternalName get none.
    let mut h = service("headless", "ClusterIP");
    h["spec"]["clusterIP"] = json!("None");
    assert_eq!(ip_of(&api.post(SVC, &h).await.ok()), "None");
    let mut e = service("ext", "ExternalName");
    e["spec"]["externalName"] = json!("example.com");
    assert_eq!(ip_of(&api.post(SVC, &e).await.ok()), "");

    // Deleting releases: the IP can be requested again.
    let s0_ip = ip_of(&api.get(&format!("{SVC}/s0")).await.ok());
    api.delete(&format!("{SVC}/s0")).await.ok();
    let mut again = service("again", "ClusterIP");
    again["spec"]["clusterIP"] = json!(s0_ip);
    assert_eq!(ip_of(&api.post(SVC, &again).await.ok()), s0_ip);
    let first = api.get(&format!("{SVC}/s1")).await.ok();

    // clusterIP is immutable.
    let mut upd = first.clone();
    upd["spec"]["clusterIP"] = json!("10.100.0.201");
    let r = api.put(&format!("{SVC}/s1"), &upd).await;
    assert_eq!(r.code, 422, "{}", r.body);
}

#[tokio::test]
async fn node_ports_are_allocated_reused_and_released() {
    let server = start_with(&["--service-node-port-range", "30000-30009"]);
    let api = Api::new(&server.url);
    let s = api.post(SVC, &service("np", "NodePort")).await.ok();
    let port = s["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=30009).contains(&port), "{port}");

    // An update that omits nodePort keeps it.
    let mut upd = s.clone();
    upd["spec"]["ports"][0]
        .as_object_mut()
        .unwrap()
        .remove("nodePort");
    let r = api.put(&format!("{SVC}/np"), &upd).await.ok();
    assert_eq!(r["spec"]["ports"][0]["nodePort"], port);

    // The same port requested elsewhere → 422.
    let mut other = service("other", "NodePort");
    other["spec"]["ports"][0]["nodePort"] = json!(port);
    let r = api.post(SVC, &other).await;
    assert_eq!(r.code, 422, "{}", r.body);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        "spec.ports[0].nodePort"
    );
    other["spec"]["ports"][0]["nodePort"] = json!(40000);
    assert_eq!(api.post(SVC, &other).await.code, 422);

    // Exhaust the range: 10 ports, one used.
    for i in 0..9 {
        api.post(SVC, &service(&format!("fill{i}"), "NodePort"))
            .await
            .ok();
    }
    assert!(api.post(SVC, &service("overflow", "NodePort")).await.code >= 400);
    // Switching a service to ClusterIP releases its port.
    let cur = api.get(&format!("{SVC}/np")).await.ok();
    let mut to_cip = cur.clone();
    to_cip["spec"]["type"] = json!("ClusterIP");
    let r = api.put(&format!("{SVC}/np"), &to_cip).await.ok();
    assert!(r["spec"]["ports"][0].get("nodePort").is_none());
    let r = api.post(SVC, &service("fits-now", "NodePort")).await.ok();
    assert_eq!(r["spec"]["ports"][0]["nodePort"], port);
}

#[tokio::test]
async fn allocations_survive_a_restart() {
    let mut server = start_with(&["--service-cluster-ip-range", "10.101.0.0/28"]);
    let api = Api::new(&server.url);
    let mut held = std::collections::BTreeSet::new();
    for i in 0..6 {
        held.insert(ip_of(
            &api.post(SVC, &service(&format!("a{i}"), "ClusterIP"))
                .await
                .ok(),
        ));
    }
    server.restart().expect("restart");
    let api = Api::new(&server.url);
    // /28 has 13 usable addresses after the reserved ones: the next 7 must
    // all differ from the 6 held before the restart.
    for i in 0..7 {
        let ip = ip_of(
            &api.post(SVC, &service(&format!("b{i}"), "ClusterIP"))
                .await
                .ok(),
        );
        assert!(!held.contains(&ip), "{ip} handed out twice");
        held.insert(ip);
    }
    assert_eq!(held.len(), 13);
    assert!(
        api.post(SVC, &service("full", "ClusterIP")).await.code >= 400,
        "range exhausted"
    );
}

//! Authentication and authorization over the secure port: 401 without
//! (valid) credentials, token-file / client-certificate / bootstrap-token
//! users, RBAC (with bindings created at runtime), the Node authorizer,
//! and `kubectl auth can-i`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Api, Resp};
use serde_json::{json, Value};
use tug_api::pki::Ca;
use tug_tests::apiserver::ApiServerProcess;
use tug_tests::net::{eventually, wait_for};

const TOKENS: &str = "jane-token,jane,1001,\"devs,qa\"\nbob-token,bob,1002\n";

/// How a test client proves who it is.
enum Cred {
    None,
    Token(String),
    Cert { user: String, groups: Vec<String> },
}

/// A client of the secure port.
struct Secure {
    base: String,
    http: reqwest::Client,
}

impl Secure {
    fn new(server: &ApiServerProcess, cred: Cred) -> Secure {
        let ca_pem = server.ca_pem().expect("the apiserver wrote its CA");
        let mut b = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(10));
        let mut token = None;
        match cred {
            Cred::None => {}
            Cred::Token(t) => token = Some(t),
            Cred::Cert { user, groups } => {
                let key = std::fs::read_to_string(server.data_dir().join("pki/ca.key")).unwrap();
                let ca = Ca::from_pem(&ca_pem, &key).unwrap();
                let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
                let issued = ca
                    .issue_client(&user, &groups, Duration::from_secs(3600))
                    .unwrap();
                let pem = format!("{}{}", issued.cert_pem, issued.key_pem);
                b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
            }
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(t) = token {
            headers.insert("Authorization", format!("Bearer {t}").parse().unwrap());
        }
        Secure {
            base: server.secure_url.clone(),
            http: b.default_headers(headers).build().unwrap(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, &Value)>,
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some((ct, body)) = body {
            req = req.header("Content-Type", ct).body(body.to_string());
        }
        let r = req.send().await.expect("request reaches the secure port");
        let code = r.status().as_u16();
        let bytes = r.bytes().await.unwrap_or_default();
        Resp {
            code,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(
            reqwest::Method::POST,
            path,
            Some(("application/json", body)),
        )
        .await
    }

    async fn merge(&self, path: &str, body: &Value) -> Resp {
        self.send(
            reqwest::Method::PATCH,
            path,
            Some(("application/merge-patch+json", body)),
        )
        .await
    }

    /// Who the server says we are.
    async fn whoami(&self) -> Resp {
        self.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await
    }
}

/// An apiserver with the test token file, once its secure port answers.
async fn start(dir: &Path) -> ApiServerProcess {
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, TOKENS).unwrap();
    let server = common::start_with(&["--token-auth-file", tokens.to_str().unwrap()]);
    let port = server.secure_port;
    let up = eventually(Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(up, "the secure port answers");
    server
}

fn pod(name: &str, node: &str, secret: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "s", "secret": {"secretName": secret}}]
        }
    })
}

#[tokio::test]
async fn no_or_unknown_credentials_get_401_except_on_public_paths() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let anon = Secure::new(&server, Cred::None);
    let r = anon.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(r.code, 401, "{}", r.body);
    assert_eq!(r.body["kind"], "Status");
    assert_eq!(r.reason(), "Unauthorized");
    assert_eq!(r.message(), "Unauthorized");
    for path in ["/healthz", "/readyz", "/livez", "/version"] {
        assert_eq!(anon.get(path).await.code, 200, "{path}");
    }
    let info = anon
        .get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
        .await;
    assert!(
        info.code == 200 || info.code == 404,
        "{}: {}",
        info.code,
        info.body
    );
    assert_eq!(anon.get("/openapi/v2").await.code, 401);
    let unknown = Secure::new(&server, Cred::Token("not-a-token".into()));
    assert_eq!(unknown.get("/healthz").await.code, 401);
    assert_eq!(unknown.get("/api/v1/pods").await.code, 401);
}

#[tokio::test]
async fn view_user_reads_but_cannot_create_and_bindings_apply_at_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let admin = Api::new(&server.url);
    let jane = Secure::new(&server, Cred::Token("jane-token".into()));
    let me = jane.whoami().await.ok();
    assert_eq!(me["status"]["userInfo"]["username"], "jane");
    assert_eq!(
        me["status"]["userInfo"]["groups"],
        json!(["devs", "qa", "system:authenticated"])
    );
    let denied = jane.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(denied.code, 403, "{}", denied.body);
    admin
        .post(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "jane-view"},
                "subjects": [{"kind": "User", "name": "jane"}],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
            }),
        )
        .await
        .ok();
    let j = &jane;
    wait_for(
        "jane's view binding",
        Duration::from_secs(5),
        || async move {
            let r = j.get("/api/v1/namespaces/default/pods").await;
            if r.code == 200 {
                Ok(())
            } else {
                Err(format!("{} {}", r.code, r.body))
            }
        },
    )
    .await;
    let created = jane
        .post("/api/v1/namespaces/default/pods", &pod("web-1", "", "s"))
        .await;
    assert_eq!(created.code, 403, "{}", created.body);
    assert_eq!(created.reason(), "Forbidden");
    assert_eq!(
        created.message(),
        "pods is forbidden: User \"jane\" cannot create resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    assert_eq!(created.body["details"]["kind"], "pods");
    // A RoleBinding for her group, in one namespace, lets her write there.
    admin
        .post(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "devs-edit"},
                "subjects": [{"kind": "Group", "name": "devs"}],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
            }),
        )
        .await
        .ok();
    wait_for(
        "the devs edit binding",
        Duration::from_secs(5),
        || async move {
            let r = j
                .post("/api/v1/namespaces/default/pods", &pod("web-1", "", "s"))
                .await;
            if r.code == 201 {
                Ok(())
            } else {
                Err(format!("{} {}", r.code, r.body))
            }
        },
    )
    .await;
    let elsewhere = jane
        .post(
            "/api/v1/namespaces/kube-system/pods",
            &pod("web-2", "", "s"),
        )
        .await;
    assert_eq!(elsewhere.code, 403);
    let bob = Secure::new(&server, Cred::Token("bob-token".into()));
    assert_eq!(bob.get("/api/v1/namespaces/default/pods").await.code, 403);
    // Discovery is open to every authenticated user.
    assert_eq!(bob.get("/apis").await.code, 200);
}

#[tokio::test]
async fn client_certificates_and_bootstrap_tokens_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let cert = Secure::new(
        &server,
        Cred::Cert {
            user: "jane".into(),
            groups: vec!["devs".into()],
        },
    );
    let me = cert.whoami().await.ok();
    assert_eq!(me["status"]["userInfo"]["username"], "jane");
    assert_eq!(
        me["status"]["userInfo"]["groups"],
        json!(["devs", "system:authenticated"])
    );

    let admin = Api::new(&server.url);
    let b64 = |s: &str| tug_api::core::base64::encode(s.as_bytes());
    let secret = |id: &str, expiration: &str| {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"},
            "type": "bootstrap.kubernetes.io/token",
            "data": {
                "token-id": b64(id), "token-secret": b64("0123456789abcdef"),
                "expiration": b64(expiration),
                "usage-bootstrap-authentication": b64("true"),
                "auth-extra-groups": b64("system:bootstrappers:tugboat:default-node-token")
            }
        })
    };
    admin
        .post(
            "/api/v1/namespaces/kube-system/secrets",
            &secret("abcdef", "2099-01-01T00:00:00Z"),
        )
        .await
        .ok();
    admin
        .post(
            "/api/v1/namespaces/kube-system/secrets",
            &secret("expird", "2020-01-01T00:00:00Z"),
        )
        .await
        .ok();
    let valid = Secure::new(&server, Cred::Token("abcdef.0123456789abcdef".into()));
    let me = valid.whoami().await.ok();
    assert_eq!(
        me["status"]["userInfo"]["username"],
        "system:bootstrap:abcdef"
    );
    assert_eq!(
        me["status"]["userInfo"]["groups"],
        json!([
            "system:bootstrappers",
            "system:bootstrappers:tugboat:default-node-token",
            "system:authenticated"
        ])
    );
    // Bootstrappers may create CSRs' parent collection reads, not pods.
    assert_eq!(valid.get("/api/v1/namespaces/default/pods").await.code, 403);
    let expired = Secure::new(&server, Cred::Token("expird.0123456789abcdef".into()));
    assert_eq!(expired.whoami().await.code, 401);
    let wrong = Secure::new(&server, Cred::Token("abcdef.0123456789abcdee".into()));
    assert_eq!(wrong.whoami().await.code, 401);
}

#[tokio::test]
async fn a_node_touches_only_its_own_node_pods_and_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let admin = Api::new(&server.url);
    for (pod_name, node, secret) in [("p-a", "a", "s-a"), ("p-b", "b", "s-b")] {
        admin
            .post(
                "/api/v1/namespaces/default/secrets",
                &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret}}),
            )
            .await
            .ok();
        admin
            .post(
                "/api/v1/namespaces/default/pods",
                &pod(pod_name, node, secret),
            )
            .await
            .ok();
    }
    admin
        .post(
            "/api/v1/nodes",
            &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "b"}}),
        )
        .await
        .ok();
    let a = Secure::new(
        &server,
        Cred::Cert {
            user: "system:node:a".into(),
            groups: vec!["system:nodes".into()],
        },
    );
    // Nodes: create only itself; modify only itself.
    let other = a
        .post(
            "/api/v1/nodes",
            &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "c"}}),
        )
        .await;
    assert_eq!(other.code, 403, "{}", other.body);
    assert_eq!(
        other.message(),
        "nodes \"c\" is forbidden: node \"a\" is not allowed to modify node \"c\""
    );
    a.post(
        "/api/v1/nodes",
        &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}}),
    )
    .await
    .ok();
    let labels = json!({"metadata": {"labels": {"x": "y"}}});
    a.merge("/api/v1/nodes/a", &labels).await.ok();
    a.merge("/api/v1/nodes/a/status", &json!({"status": {}}))
        .await
        .ok();
    let b_node = a.merge("/api/v1/nodes/b", &labels).await;
    assert_eq!(b_node.code, 403, "{}", b_node.body);
    assert_eq!(
        a.merge("/api/v1/nodes/b/status", &json!({"status": {}}))
            .await
            .code,
        403
    );
    assert_eq!(a.get("/api/v1/nodes/b").await.code, 200);
    // Pods: only those bound to it.
    assert_eq!(a.get("/api/v1/namespaces/default/pods/p-a").await.code, 200);
    let b_pod = a.get("/api/v1/namespaces/default/pods/p-b").await;
    assert_eq!(b_pod.code, 403, "{}", b_pod.body);
    assert_eq!(
        a.merge(
            "/api/v1/namespaces/default/pods/p-b/status",
            &json!({"status": {}})
        )
        .await
        .code,
        403
    );
    assert_eq!(a.get("/api/v1/pods").await.code, 403);
    let mine = a
        .get("/api/v1/pods?fieldSelector=spec.nodeName%3Da")
        .await
        .ok();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        a.get("/api/v1/pods?fieldSelector=spec.nodeName%3Db")
            .await
            .code,
        403
    );
    assert_eq!(
        a.post("/api/v1/namespaces/default/pods", &pod("p-c", "a", "s-a"))
            .await
            .code,
        403
    );
    // Secrets: only those its pods use.
    assert_eq!(
        a.get("/api/v1/namespaces/default/secrets/s-a").await.code,
        200
    );
    assert_eq!(
        a.get("/api/v1/namespaces/default/secrets/s-b").await.code,
        403
    );
    assert_eq!(a.get("/api/v1/namespaces/default/secrets").await.code, 403);
}

/// What `kubectl auth can-i` asks, over JSON (kubectl itself sends these
/// reviews as protobuf, which the server does not decode).
#[tokio::test]
async fn access_reviews_answer_can_i() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let jane = Secure::new(&server, Cred::Token("jane-token".into()));
    let can_i = |verb: &str, group: &str, resource: &str| {
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {
                "namespace": "default", "verb": verb, "group": group, "resource": resource
            }}
        })
    };
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let r = jane.post(path, &can_i("list", "", "pods")).await.ok();
    assert_eq!(r["status"]["allowed"], false, "{r}");
    let r = jane
        .post(
            path,
            &can_i("create", "authentication.k8s.io", "selfsubjectreviews"),
        )
        .await
        .ok();
    assert_eq!(r["status"]["allowed"], true, "{r}");
    // An admin asks about jane with a SubjectAccessReview.
    let admin = Secure::new(
        &server,
        Cred::Cert {
            user: "root".into(),
            groups: vec!["system:masters".into()],
        },
    );
    let review = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": "jane", "groups": ["system:authenticated"],
                 "resourceAttributes": {"namespace": "default", "verb": "delete", "resource": "pods"}}
    });
    let r = admin
        .post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            &review,
        )
        .await
        .ok();
    assert_eq!(r["status"]["allowed"], false, "{r}");
    // ... which jane herself may not do.
    let r = jane
        .post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            &review,
        )
        .await;
    assert_eq!(r.code, 403, "{:?}", r.body);
}

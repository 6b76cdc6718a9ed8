//! Which kubeconfig files are read: `$KUBECONFIG` (merged, first wins),
//! `~/.kube/config`, and the message when there is none. One test in its
//! own binary, because it changes the process environment.

mod common;

use tug_api::core::ConfigMap;
use tug_client::{Api, Client, Config, Error, KubeconfigOptions, ListParams};

#[tokio::test]
async fn kubeconfig_from_the_environment() {
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("HOME", home.path());
    std::env::remove_var("KUBECONFIG");

    // Nothing anywhere: a clear error naming ~/.kube/config.
    let e = Config::from_kubeconfig(&KubeconfigOptions::default()).unwrap_err();
    let expected = format!(
        "no kubeconfig found at {}; pass --server or --kubeconfig",
        home.path().join(".kube/config").display()
    );
    assert_eq!(e.to_string(), expected);
    assert!(matches!(e, Error::Config(_)));

    // --server alone is enough.
    let c = Config::from_kubeconfig(&KubeconfigOptions {
        server: Some("http://127.0.0.1:1".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.cluster_url.as_str(), "http://127.0.0.1:1/");

    // ~/.kube/config pointing at a real server.
    let server = common::start();
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    std::fs::write(
        home.path().join(".kube/config"),
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: local\n\
             clusters: [{{name: local, cluster: {{server: \"{}\"}}}}]\n\
             contexts: [{{name: local, context: {{cluster: local, namespace: kube-system}}}}]\n",
            server.url
        ),
    )
    .unwrap();
    let client = Client::from_kubeconfig(&KubeconfigOptions::default()).unwrap();
    assert_eq!(client.default_namespace(), "kube-system");
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    cms.list(&ListParams::default()).await.unwrap();

    // $KUBECONFIG: a missing file is skipped, the first file's entries
    // and current-context win over the second's.
    let first = home.path().join("first");
    let second = home.path().join("second");
    std::fs::write(
        &first,
        "current-context: a\n\
         clusters: [{name: shared, cluster: {server: \"http://first:1\"}}]\n\
         contexts: [{name: a, context: {cluster: shared, namespace: from-first}}]\n",
    )
    .unwrap();
    std::fs::write(
        &second,
        "current-context: b\n\
         clusters: [{name: shared, cluster: {server: \"http://second:1\"}}, {name: only2, cluster: {server: \"http://only2:1\"}}]\n\
         contexts: [{name: b, context: {cluster: only2}}]\n\
         users: [{name: u, user: {token: t2}}]\n",
    )
    .unwrap();
    let list = format!(
        "{}:{}:{}",
        home.path().join("missing").display(),
        first.display(),
        second.display()
    );
    std::env::set_var("KUBECONFIG", &list);
    let c = Config::from_kubeconfig(&KubeconfigOptions::default()).unwrap();
    assert_eq!(c.cluster_url.as_str(), "http://first:1/");
    assert_eq!(c.default_namespace, "from-first");
    let c = Config::from_kubeconfig(&KubeconfigOptions {
        context: Some("b".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.cluster_url.as_str(), "http://only2:1/");
    assert_eq!(c.default_namespace, "default");

    // --kubeconfig wins over $KUBECONFIG.
    let c = Config::from_kubeconfig(&KubeconfigOptions {
        kubeconfig: Some(second.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.cluster_url.as_str(), "http://only2:1/");

    // $KUBECONFIG naming only missing files.
    std::env::set_var("KUBECONFIG", home.path().join("nope"));
    let e = Config::from_kubeconfig(&KubeconfigOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("no kubeconfig found at $KUBECONFIG ("), "{e}");
}

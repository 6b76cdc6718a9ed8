//! `GET pods/{name}/log`: a container's log, fetched from the kubelet of
//! the pod's node (`GET https://<InternalIP>:<kubelet port>/containerLogs/
//! {ns}/{pod}/{container}`, presenting the apiserver's kubelet client
//! certificate) and streamed back as it comes — with `follow`, for as
//! long as the kubelet streams; a client hanging up closes the request to
//! the kubelet.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tug_api::status::Status;

use crate::error::{ApiError, ApiResult};
use crate::objects::meta_str;
use crate::server::KubeletClientConfig;

use super::Call;

/// The log options passed on to the kubelet as they came.
const FORWARDED: [&str; 7] = [
    "follow",
    "previous",
    "timestamps",
    "tailLines",
    "sinceSeconds",
    "sinceTime",
    "limitBytes",
];

/// One HTTP client per kubelet client credential (one per apiserver in
/// practice): connections are reused; no overall timeout, since a follow
/// lasts as long as the container runs.
fn kubelet_client(config: &KubeletClientConfig) -> ApiResult<reqwest::Client> {
    static CLIENTS: Mutex<Vec<(Option<Vec<u8>>, reqwest::Client)>> = Mutex::new(Vec::new());
    let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = clients.iter().find(|(id, _)| *id == config.identity_pem) {
        return Ok(c.clone());
    }
    let client = build_kubelet_client(config)?;
    clients.push((config.identity_pem.clone(), client.clone()));
    Ok(client)
}

/// HTTPS with the apiserver's client certificate; the kubelet's serving
/// certificate (self-signed by each kubelet) is not verified, as upstream
/// without `--kubelet-certificate-authority`.
fn build_kubelet_client(config: &KubeletClientConfig) -> ApiResult<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(true);
    if let Some(pem) = &config.identity_pem {
        let identity = reqwest::Identity::from_pem(pem).map_err(|e| {
            ApiError::internal(format!("the kubelet client certificate is not usable: {e}"))
        })?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| ApiError::internal(format!("cannot build the kubelet client: {e}")))
}

/// The container a log request means: the one named, else the pod's only
/// one.
pub fn pick_container(pod: &Value, pod_name: &str, asked: Option<&str>) -> ApiResult<String> {
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    match asked.filter(|c| !c.is_empty()) {
        Some(c) if containers.iter().chain(&init).any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

/// Where the kubelet of `node` serves: its InternalIP and
/// `daemonEndpoints.kubeletEndpoint.Port`.
pub fn kubelet_address(node: &Value, node_name: &str) -> ApiResult<(String, u16)> {
    let ip = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|addrs| {
            addrs
                .iter()
                .find(|a| a["type"] == "InternalIP")
                .and_then(|a| a["address"].as_str())
        })
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("node {node_name} has no InternalIP address"))
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "the kubelet of node {node_name} serves no logs (no kubelet endpoint port)"
            ))
        })?;
    let host = match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => ip.to_string(),
    };
    Ok((host, port))
}

/// An error answer of the kubelet as a `Status` carrying its message.
pub fn kubelet_error(code: u16, body: &[u8]) -> ApiError {
    let (reason, message) = match serde_json::from_slice::<Status>(body) {
        Ok(s) if s.kind == "Status" => (s.reason.clone(), s.message.clone()),
        _ => (
            String::new(),
            String::from_utf8_lossy(body).trim().to_string(),
        ),
    };
    let reason = if reason.is_empty() {
        match code {
            400 => "BadRequest".to_string(),
            404 => "NotFound".to_string(),
            _ => "InternalError".to_string(),
        }
    } else {
        reason
    };
    ApiError::from(Status::failure(code, &reason, message))
}

/// Serve `GET pods/{name}/log`.
pub async fn pod_log(call: &Call<'_>, name: &str) -> Response {
    match proxy(call, name).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn proxy(call: &Call<'_>, name: &str) -> ApiResult<Response> {
    let Call {
        server,
        handler,
        namespace,
        params,
        ..
    } = *call;
    let query = query_pairs(&params.raw_query)?;
    let pod = server
        .objects
        .get(handler.info(), namespace, name)
        .await?
        .object;
    let asked = query
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.as_str());
    let container = pick_container(&pod, name, asked)?;
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node_name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let nodes = server
        .registry
        .get("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not served"))?;
    let node = server
        .objects
        .get(nodes.info(), "", node_name)
        .await?
        .object;
    let (host, port) = kubelet_address(&node, node_name)?;
    let url = format!(
        "https://{host}:{port}/containerLogs/{}/{}/{}",
        namespace,
        meta_str(&pod, "name"),
        container
    );
    let forwarded: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| FORWARDED.contains(&k.as_str()))
        .collect();
    let response = kubelet_client(&server.config.kubelet_client)?
        .get(&url)
        .query(&forwarded)
        .send()
        .await
        .map_err(|e| ApiError::internal(format!("Get {url:?}: {e}")))?;
    let code = response.status().as_u16();
    if !response.status().is_success() {
        let body = response.bytes().await.unwrap_or_default();
        return Err(kubelet_error(code, &body));
    }
    Ok((
        [(http::header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(response.bytes_stream()),
    )
        .into_response())
}

/// The request's query as name/value pairs, decoded.
fn query_pairs(raw: &str) -> ApiResult<Vec<(String, String)>> {
    let uri: http::Uri = format!("/?{raw}")
        .parse()
        .map_err(|_| ApiError::bad_request("malformed query string"))?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("invalid query parameters: {}", e.body_text())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        json!({"spec": {"containers": list(containers), "initContainers": list(init)}})
    }

    #[test]
    fn the_only_container_is_the_default_else_one_must_be_named() {
        assert_eq!(
            pick_container(&pod(&["app"], &[]), "p", None).unwrap(),
            "app"
        );
        let two = pod(&["a", "b"], &["setup"]);
        let e = pick_container(&two, "p", None).unwrap_err();
        assert_eq!(e.code(), 400);
        assert_eq!(
            e.0.message,
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [setup]"
        );
        assert_eq!(pick_container(&two, "p", Some("setup")).unwrap(), "setup");
        let e = pick_container(&two, "p", Some("c")).unwrap_err();
        assert_eq!(e.0.message, "container c is not valid for pod p");
    }

    #[test]
    fn the_kubelet_is_found_by_internal_ip_and_endpoint_port() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }});
        assert_eq!(
            kubelet_address(&node, "n1").unwrap(),
            ("10.0.0.5".to_string(), 10250)
        );
        let hollow =
            json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}});
        assert_eq!(kubelet_address(&hollow, "n1").unwrap_err().code(), 400);
        let v6 = json!({"status": {
            "addresses": [{"type": "InternalIP", "address": "fd00::1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}
        }});
        assert_eq!(kubelet_address(&v6, "n").unwrap().0, "[fd00::1]");
    }

    #[test]
    fn kubelet_errors_keep_their_code_and_message() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"previous terminated container \"a\" in pod \"p\" not found","reason":"BadRequest","code":400}"#;
        let e = kubelet_error(400, body);
        assert_eq!(e.code(), 400);
        assert_eq!(
            e.0.message,
            "previous terminated container \"a\" in pod \"p\" not found"
        );
        let e = kubelet_error(404, b"no such thing\n");
        assert_eq!(
            (e.0.reason.as_str(), e.0.message.as_str()),
            ("NotFound", "no such thing")
        );
    }
}

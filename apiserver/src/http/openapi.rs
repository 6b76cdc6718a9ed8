//! `/openapi/v2` and `/openapi/v3[/<api/v1|apis/<group>/<version>>]`: the
//! OpenAPI descriptions of the served kinds (built by `tug_api::openapi`),
//! serialized once on first use and served with the caching headers
//! upstream uses: an `ETag` (SHA-512 of the document) honoured through
//! `If-None-Match`, and for v3 documents fetched with the `?hash=` the
//! index hands out, `Cache-Control: public, immutable` (a stale hash is
//! redirected to the current one).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::{json, Value};
use sha2::{Digest, Sha512};
use tug_api::openapi::{definitions, document, swagger, ServedResource};

use crate::error::ApiError;
use crate::registry::Registry;

/// One serialized document and its entity tag.
struct Doc {
    body: Bytes,
    etag: String,
}

impl Doc {
    fn new(value: &Value) -> Doc {
        let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        let etag = format!("{:X}", Sha512::digest(&body));
        Doc { body, etag }
    }
}

/// Every OpenAPI document this server publishes.
struct Documents {
    v2: Doc,
    v3_index: Doc,
    /// Per group-version, keyed `api/v1`, `apis/apps/v1`, ...
    v3: BTreeMap<String, Doc>,
}

/// The OpenAPI endpoints of one server: the served resources, and their
/// documents once a client first asks.
#[derive(Clone)]
pub struct OpenApi {
    resources: Arc<Vec<ServedResource>>,
    docs: Arc<OnceLock<Documents>>,
}

impl OpenApi {
    /// Describes the resources of `registry`.
    pub fn new(registry: &Registry) -> OpenApi {
        let resources = registry
            .all()
            .iter()
            .map(|h| {
                let i = h.info();
                ServedResource {
                    group: i.group,
                    version: i.version,
                    kind: i.kind,
                    plural: i.plural,
                    namespaced: i.namespaced,
                    subresources: i.subresources,
                }
            })
            .collect();
        OpenApi {
            resources: Arc::new(resources),
            docs: Arc::new(OnceLock::new()),
        }
    }

    fn docs(&self) -> &Documents {
        self.docs.get_or_init(|| build(&self.resources))
    }

    /// `GET /openapi/v2`.
    pub fn v2(&self, headers: &HeaderMap) -> Response {
        if !accepts_json(headers) {
            return not_acceptable();
        }
        let doc = &self.docs().v2;
        serve(doc, headers, false)
    }

    /// `GET /openapi/v3`: which group-version documents exist, and where.
    pub fn v3_index(&self, headers: &HeaderMap) -> Response {
        serve(&self.docs().v3_index, headers, false)
    }

    /// `GET /openapi/v3/<group-version path>[?hash=...]`.
    pub fn v3(&self, gv: &str, uri: &Uri, headers: &HeaderMap) -> Response {
        let gv = gv.trim_end_matches('/');
        let Some(doc) = self.docs().v3.get(gv) else {
            return ApiError::no_route(uri.path()).into_response();
        };
        if !accepts_json(headers) {
            return not_acceptable();
        }
        let hash = uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("hash="));
        match hash {
            Some(h) if !h.is_empty() && h != doc.etag => {
                let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
                if let Ok(location) = HeaderValue::from_str(&v3_url(gv, &doc.etag)) {
                    r.headers_mut().insert(header::LOCATION, location);
                }
                r
            }
            Some(h) if !h.is_empty() => serve(doc, headers, true),
            _ => serve(doc, headers, false),
        }
    }
}

fn v3_url(gv: &str, etag: &str) -> String {
    format!("/openapi/v3/{gv}?hash={etag}")
}

fn build(resources: &[ServedResource]) -> Documents {
    let defs = definitions();
    let mut v3 = BTreeMap::new();
    let mut index = serde_json::Map::new();
    for r in resources {
        let path = if r.group.is_empty() {
            format!("api/{}", r.version)
        } else {
            format!("apis/{}/{}", r.group, r.version)
        };
        if v3.contains_key(&path) {
            continue;
        }
        let doc = Doc::new(&document(r.group, r.version, resources, &defs));
        index.insert(
            path.clone(),
            json!({"serverRelativeURL": v3_url(&path, &doc.etag)}),
        );
        v3.insert(path, doc);
    }
    Documents {
        v2: Doc::new(&swagger(resources, &defs)),
        v3_index: Doc::new(&json!({"paths": index})),
        v3,
    }
}

/// Whether the client takes JSON (we have no protobuf encoding of the
/// documents): `application/json`, `application/*`, `*/*` or no Accept.
fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|clause| {
        let media = clause.split(';').next().unwrap_or("").trim();
        matches!(media, "" | "*/*" | "application/*" | "application/json")
    })
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, "text/plain")],
        "only application/json is served",
    )
        .into_response()
}

/// The document, or `304 Not Modified` when the client's copy is current.
/// `immutable`: the request named the document by its current hash, so
/// it may be cached for good.
fn serve(doc: &Doc, headers: &HeaderMap, immutable: bool) -> Response {
    let quoted = format!("\"{}\"", doc.etag);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == quoted || t.trim() == "*"));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = doc.body.clone().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    let h = r.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&quoted) {
        h.insert(header::ETAG, etag);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if immutable {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, immutable"),
        );
        let expires = (chrono::Utc::now() + chrono::Duration::days(365))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        if let Ok(v) = HeaderValue::from_str(&expires) {
            h.insert(header::EXPIRES, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn protobuf_only_clients_are_refused() {
        assert!(!accepts_json(&accept(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        )));
        assert!(accepts_json(&accept(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json"
        )));
        assert!(accepts_json(&accept("*/*")));
        assert!(accepts_json(&HeaderMap::new()));
    }
}

//! LIST: one consistent snapshot, filtered by label and field selectors,
//! paginated with `limit`/`continue`.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tug_api::selector::{FieldSelector, Selector};

use crate::error::{ApiError, ApiResult};
use crate::objects::decode_kv;
use crate::registry::{Handler, ObjectAttrs};
use crate::server::ApiServer;
use crate::storage::ListOptions;

use super::params::Params;

/// Which objects a list or watch wants: a namespace (empty = all), labels, fields.
pub struct Filter {
    pub namespace: String,
    pub labels: Selector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn from_params(namespace: &str, params: &Params) -> ApiResult<Filter> {
        let fields = params.fields()?;
        let mut namespace = namespace.to_string();
        if namespace.is_empty() {
            if let Some(ns) = fields.exact_value("metadata.namespace") {
                namespace = ns.to_string();
            }
        }
        Ok(Filter {
            namespace,
            labels: params.labels()?,
            fields,
        })
    }

    pub fn matches(&self, attrs: &ObjectAttrs) -> bool {
        if !self.namespace.is_empty()
            && attrs.fields.get("metadata.namespace").map(String::as_str) != Some(&self.namespace)
        {
            return false;
        }
        self.labels.matches(&attrs.labels) && self.fields.matches(|f| attrs.fields.get(f).cloned())
    }

    /// Whether anything beyond the namespace narrows the result (then
    /// every object must be decoded to evaluate it).
    fn selects(&self) -> bool {
        !self.labels.is_empty() || !self.fields.is_empty()
    }
}

/// Where the next page starts: the snapshot revision and the last key served.
#[derive(Serialize, Deserialize)]
struct ContinueToken {
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, start: &str) -> String {
    let json = serde_json::to_vec(&ContinueToken {
        rv,
        start: start.to_string(),
    })
    .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_continue(token: &str, prefix: &str) -> ApiResult<ContinueToken> {
    let invalid = || ApiError::bad_request("continue key is not valid: malformed token");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if !t.start.starts_with(prefix) || t.rv <= 0 {
        return Err(ApiError::bad_request(
            "continue key is not valid: it belongs to another list",
        ));
    }
    Ok(t)
}

/// The result of a list.
pub struct Listed {
    pub items: Vec<Value>,
    pub revision: i64,
    pub continue_token: Option<String>,
}

/// Read the collection of `handler` that `filter` selects.
pub async fn list(
    server: &ApiServer,
    handler: &Handler,
    filter: &Filter,
    params: &Params,
) -> ApiResult<Listed> {
    let info = handler.info();
    let prefix = info.prefix(&filter.namespace);
    let limit = params.limit.filter(|l| *l > 0).map(|l| l as usize);
    let (mut revision, mut start_after) = match params.continue_token.as_deref() {
        Some(t) if !t.is_empty() => {
            let t = decode_continue(t, &prefix)?;
            (Some(t.rv), Some(t.start))
        }
        _ => {
            let exact = params.resource_version_match.as_deref() == Some("Exact");
            (if exact { params.revision()? } else { None }, None)
        }
    };
    let mut items = Vec::new();
    let mut last_key: Option<String> = None;
    let mut more = false;
    loop {
        let page = server
            .objects
            .list_page(
                info,
                &prefix,
                ListOptions {
                    revision,
                    start_after: start_after.clone(),
                    limit: limit.map_or(0, |l| l + 1 - items.len().min(l)),
                },
            )
            .await?;
        // Later pages read the same snapshot.
        revision = Some(page.revision);
        let mut page_exhausted = true;
        for kv in &page.items {
            if limit.is_some_and(|l| items.len() >= l) {
                more = true;
                page_exhausted = false;
                break;
            }
            let stored = decode_kv(kv)?;
            if !filter.selects() || filter.matches(&handler.attrs(&stored.object)) {
                items.push(stored.object);
                last_key = Some(kv.key.clone());
            } else if limit.is_some() {
                // Not included, but the next page must still start after it.
                last_key = Some(kv.key.clone());
            }
            start_after = Some(kv.key.clone());
        }
        if !page_exhausted || !page.more {
            more = more || (page.more && limit.is_some_and(|l| items.len() >= l));
            break;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            more = true;
            break;
        }
    }
    let revision = revision.unwrap_or(0);
    let continue_token = if more {
        last_key.map(|k| encode_continue(revision, &k))
    } else {
        None
    };
    Ok(Listed {
        items,
        revision,
        continue_token,
    })
}

/// The JSON of a `{Kind}List`.
pub fn list_body(handler: &Handler, listed: Listed) -> Value {
    let info = handler.info();
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "resourceVersion".into(),
        Value::String(listed.revision.to_string()),
    );
    if let Some(c) = listed.continue_token {
        metadata.insert("continue".into(), Value::String(c));
    }
    serde_json::json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": metadata,
        "items": listed.items,
    })
}

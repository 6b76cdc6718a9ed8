//! Server-side printing: when a client's `Accept` header asks for
//! `application/json;as=Table;v=v1;g=meta.k8s.io` (kubectl does for
//! `get`), GET, LIST and WATCH answer with `meta.k8s.io` `Table`s whose
//! columns come from [`tug_api::table`], the same code tugctl prints with.

use chrono::Utc;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use tug_api::table::response::{self, IncludeObject, TableOptions};
use tug_api::Status;

use crate::error::{ApiError, ApiResult};
use crate::registry::Handler;

use super::params::Params;

/// The form a GET, LIST or WATCH answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The objects as they are.
    Objects,
    /// A `Table` of `meta.k8s.io/{version}`.
    Table {
        /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`.
        api_version: &'static str,
    },
}

/// One media range of an `Accept` header.
struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
    quality: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(text: &'a str) -> MediaRange<'a> {
        let mut parts = text.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default();
        let params: Vec<(&str, &str)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        let quality = params
            .iter()
            .find(|(k, _)| *k == "q")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1.0);
        MediaRange {
            essence,
            params,
            quality,
        }
    }

    fn param(&self, key: &str) -> Option<&'a str> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// What this range asks for: `Some(Objects)` for a plain type,
    /// `Some(Table)` for a Table we serve, `None` for a conversion
    /// (`as=...`) we do not serve.
    fn output(&self) -> Option<Output> {
        let Some(kind) = self.param("as") else {
            return Some(Output::Objects);
        };
        let json = matches!(self.essence, "application/json" | "application/*" | "*/*");
        let api_version = match (self.param("g"), self.param("v")) {
            (Some("meta.k8s.io"), Some("v1")) => "meta.k8s.io/v1",
            (Some("meta.k8s.io"), Some("v1beta1")) => "meta.k8s.io/v1beta1",
            _ => return None,
        };
        (json && kind == "Table").then_some(Output::Table { api_version })
    }
}

/// The output the `Accept` header asks for: its first acceptable media
/// range, by quality then order (kubectl lists the Table versions it
/// takes, then plain JSON as the fallback).
///
/// A range without `as=` is always acceptable, answered with JSON as this
/// server answers everything. Only when every range asks for a conversion
/// we do not serve (`as=PartialObjectMetadata`, a Table of an unknown
/// version) is the answer 406 NotAcceptable, as upstream's.
pub fn negotiate(headers: &HeaderMap) -> ApiResult<Output> {
    let accept: Vec<&str> = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if accept.is_empty() {
        return Ok(Output::Objects);
    }
    let mut ranges: Vec<MediaRange> = accept.into_iter().map(MediaRange::parse).collect();
    // Stable: equal qualities keep the client's order.
    ranges.sort_by(|a, b| b.quality.total_cmp(&a.quality));
    ranges
        .iter()
        .filter(|r| r.quality > 0.0)
        .find_map(MediaRange::output)
        .ok_or_else(|| {
            ApiError::from(Status::failure(
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io",
            ))
        })
}

/// The Table options when the request asks for a Table, else `None`.
pub fn requested(headers: &HeaderMap, params: &Params) -> ApiResult<Option<TableOptions>> {
    match negotiate(headers)? {
        Output::Objects => Ok(None),
        Output::Table { api_version } => options(api_version, params).map(Some),
    }
}

/// The Table query parameters (`includeObject`).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TableQuery {
    include_object: Option<String>,
}

/// How to build the Tables of one request.
fn options(api_version: &'static str, params: &Params) -> ApiResult<TableOptions> {
    let uri: http::Uri = format!("/?{}", params.raw_query)
        .parse()
        .map_err(|_| ApiError::bad_request("malformed query string"))?;
    let query = axum::extract::Query::<TableQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let include_object =
        IncludeObject::parse(query.include_object.as_deref()).map_err(ApiError::bad_request)?;
    Ok(TableOptions {
        include_object,
        no_headers: false,
        api_version,
    })
}

/// The Table of one object of `handler`'s kind.
pub fn of_object(handler: &Handler, object: &Value, options: &TableOptions) -> Value {
    response::table(
        handler.info().kind,
        std::slice::from_ref(object),
        response::object_metadata(object),
        options,
        Utc::now(),
    )
}

/// The Table of a `{Kind}List` body: its items, and its `resourceVersion`
/// and `continue`.
pub fn of_list(handler: &Handler, list: Value, options: &TableOptions) -> Value {
    let mut list = list;
    let items = match list["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    let metadata = match list["metadata"].take() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    response::table(handler.info().kind, &items, metadata, options, Utc::now())
}

/// A watch's BOOKMARK as a Table: no rows, the revision in its metadata.
pub fn bookmark(revision: i64, options: &TableOptions) -> Value {
    let mut metadata = Map::new();
    metadata.insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
    let options = TableOptions {
        no_headers: true,
        ..*options
    };
    response::table("", &[], metadata, &options, Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> ApiResult<Output> {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::ACCEPT, value.parse().unwrap());
        negotiate(&headers)
    }

    const V1: Output = Output::Table {
        api_version: "meta.k8s.io/v1",
    };

    #[test]
    fn kubectl_gets_the_first_table_it_lists() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(accept(kubectl).unwrap(), V1);
        assert_eq!(
            accept("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json").unwrap(),
            Output::Table {
                api_version: "meta.k8s.io/v1beta1"
            }
        );
    }

    #[test]
    fn plain_requests_get_objects() {
        assert_eq!(accept("application/json").unwrap(), Output::Objects);
        assert_eq!(accept("*/*").unwrap(), Output::Objects);
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), Output::Objects);
    }

    #[test]
    fn unserved_conversions_fall_back_or_are_not_acceptable() {
        assert_eq!(
            accept("application/json;as=Table;v=v2;g=meta.k8s.io, application/json").unwrap(),
            Output::Objects
        );
        let err =
            accept("application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io").unwrap_err();
        assert_eq!(err.code(), 406);
    }

    #[test]
    fn quality_outranks_order() {
        assert_eq!(
            accept("application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io").unwrap(),
            V1
        );
    }
}

//! Request bodies: size limit, content types, JSON or YAML into a JSON value.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::HeaderMap;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// Largest request body accepted (etcd's request limit is 1.5 MiB per
/// object; upstream's apiserver accepts 3 MiB bodies).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The media type of a request body, parameters stripped.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// A body over the limit is still read (and discarded) up to this size so
/// the client, still sending, gets to see the 413 instead of a reset.
const DRAIN_LIMIT: usize = 4 * MAX_BODY_BYTES;

fn too_large() -> ApiError {
    ApiError::too_large(format!(
        "the request body is too large: limit is {MAX_BODY_BYTES} bytes"
    ))
}

/// Read the whole body, at most [`MAX_BODY_BYTES`].
pub async fn read(headers: &HeaderMap, body: Body) -> ApiResult<Bytes> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        total += chunk.len();
        if total <= MAX_BODY_BYTES {
            buf.extend_from_slice(&chunk);
        } else if total > DRAIN_LIMIT {
            break;
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(buf.freeze())
}

/// Decode a JSON or YAML document (by content type; JSON when unset).
pub fn decode(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Value> {
    decode_checked(headers, bytes).map(|(v, _)| v)
}

/// A decoded body and the paths of the keys it repeats (field
/// validation reports them).
pub type Checked = (Value, Vec<String>);

/// [`decode`], also naming duplicate keys.
pub fn decode_checked(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Checked> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let ct = content_type(headers);
    match ct.as_str() {
        "" | "application/json" | "*/*" => checked_json(bytes),
        "application/yaml" | "application/x-yaml" | "text/yaml" => checked_yaml(bytes),
        "application/vnd.kubernetes.protobuf" => Err(ApiError::unsupported_media_type(
            "the protobuf encoding is not supported; send application/json or application/yaml",
        )),
        other => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other:?})"
        ))),
    }
}

/// A JSON body.
pub fn decode_json(bytes: &[u8]) -> ApiResult<Value> {
    checked_json(bytes).map(|(v, _)| v)
}

/// A JSON body and its duplicate keys.
pub fn checked_json(bytes: &[u8]) -> ApiResult<Checked> {
    tug_api::decode::parse_json(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
        .and_then(shallow_enough)
}

/// A YAML (or JSON, which is YAML) body and its duplicate keys.
pub fn checked_yaml(bytes: &[u8]) -> ApiResult<Checked> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the request body is not valid UTF-8"))?;
    tug_api::decode::parse_yaml(text)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))
        .and_then(shallow_enough)
}

/// A body nesting deeper than anything stored may (see
/// [`tug_api::decode::MAX_NESTING_DEPTH`]) is refused before it is used.
fn shallow_enough(checked: Checked) -> ApiResult<Checked> {
    tug_api::decode::check_nesting_depth(&checked.0).map_err(|e| {
        ApiError::bad_request(format!("the request body is too deeply nested: {e}"))
    })?;
    Ok(checked)
}

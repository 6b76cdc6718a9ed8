//! Subresources: `status` (every kind with one), `scale` (Deployments,
//! ReplicaSets), `binding` (Pods), `finalize` (Namespaces) and `approval`
//! (CertificateSigningRequests, whose create also records the requester).

use serde::Deserialize;
use serde_json::Value;
use tug_api::certificates::CertificateSigningRequest;
use tug_api::{Resource, Strategy, Time};

use crate::error::{ApiError, ApiResult};
use crate::objects::meta_str;
use crate::registry::Handler;

use super::crud::{pinned_revision, update, update_with};
use super::fieldmanager::{self, Tracker};
use super::patch::{self, PatchType};
use super::Call;

fn scale_handler(handler: &Handler) -> ApiResult<&dyn crate::registry::ScaleHandler> {
    handler
        .scale()
        .ok_or_else(|| ApiError::no_route(&format!("{}/scale", handler.info().plural)))
}

pub async fn get_scale(call: &Call<'_>, name: &str) -> ApiResult<Value> {
    let Call {
        server,
        handler,
        namespace,
        ..
    } = *call;
    let scale = scale_handler(handler)?;
    let current = server.objects.get(handler.info(), namespace, name).await?;
    scale.scale_of(&current.object)
}

/// PUT or PATCH `/scale`: the Scale's `spec.replicas` goes to the object.
/// `doc` is the Scale body (PUT) or the patch to apply to the current Scale.
pub async fn update_scale(
    call: &Call<'_>,
    name: &str,
    patch_type: Option<PatchType>,
) -> ApiResult<Value> {
    let handler = call.handler;
    let doc = match patch_type {
        Some(_) => call.patch()?.1,
        None => call.body()?,
    };
    let scale = scale_handler(handler)?;
    let tracker = Tracker::scale(handler, fieldmanager::manager(call)?);
    let updated = update(call, name, |current| {
        let current_scale = scale.scale_of(current)?;
        let new_scale = match patch_type {
            Some(pt) => patch::apply(handler.info(), pt, &current_scale, &doc)?,
            None => doc.clone(),
        };
        let scaled = scale.with_replicas(current, new_scale)?;
        let mut object = handler.prepare_update(scaled, current)?;
        tracker.record_update(Some(current), None, &mut object)?;
        Ok((object, None))
    })
    .await?;
    scale.scale_of(&updated)
}

/// POST `pods/{name}/binding`: assign the pod to a node, once.
pub async fn bind(call: &Call<'_>, name: &str) -> ApiResult<Value> {
    let handler = call.handler;
    let binding = call.body()?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            "Binding",
            "",
            name,
            &[tug_api::FieldError::required("target.name", "")],
        ));
    }
    let kind = binding
        .pointer("/target/kind")
        .and_then(Value::as_str)
        .unwrap_or("Node");
    if !kind.is_empty() && kind != "Node" {
        return Err(ApiError::invalid(
            "Binding",
            "",
            name,
            &[tug_api::FieldError::not_supported(
                "target.kind",
                kind,
                &["Node"],
            )],
        ));
    }
    let body_name = meta_str(&binding, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let expected_uid = meta_str(&binding, "uid").to_string();
    let info = handler.info();
    update(call, name, |current| {
        if !expected_uid.is_empty() && meta_str(current, "uid") != expected_uid {
            return Err(ApiError::conflict(
                info.plural,
                info.group,
                name,
                "the pod's UID does not match the binding's",
            ));
        }
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict(
                info.plural,
                info.group,
                name,
                "the pod is being deleted",
            ));
        }
        let bound = current
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !bound.is_empty() {
            return Err(ApiError::conflict(
                info.plural,
                info.group,
                name,
                &format!("pod {name} is already assigned to node \"{bound}\""),
            ));
        }
        let mut pod = current.clone();
        pod["spec"]["nodeName"] = Value::String(node.clone());
        set_pod_scheduled(&mut pod);
        Ok((pod, None))
    })
    .await?;
    Ok(serde_json::to_value(tug_api::Status::success()).unwrap_or(Value::Null))
}

/// Mark the `PodScheduled` condition True, as upstream's binding does.
fn set_pod_scheduled(pod: &mut Value) {
    let now = serde_json::to_value(Time::now()).unwrap_or(Value::Null);
    let condition = serde_json::json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    let status = pod.as_object_mut().map(|o| {
        o.entry("status")
            .or_insert_with(|| Value::Object(Default::default()))
    });
    let Some(status) = status.and_then(Value::as_object_mut) else {
        return;
    };
    let conditions = status
        .entry("conditions")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = conditions.as_array_mut() {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
        list.push(condition);
    }
}

/// PUT `namespaces/{name}/finalize`: replace `spec.finalizers` only.
pub async fn finalize_namespace(call: &Call<'_>, name: &str) -> ApiResult<Value> {
    let Call {
        server,
        handler,
        params,
        ..
    } = *call;
    let body_value = call.body()?;
    let finalizers = body_value
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if !finalizers.is_array() {
        return Err(ApiError::bad_request("spec.finalizers must be a list"));
    }
    let pinned = pinned_revision(&body_value)?;
    update_with(server, handler, "", name, params.dry_run()?, |current| {
        let mut ns = current.clone();
        ns["spec"]["finalizers"] = finalizers.clone();
        Ok((ns, pinned))
    })
    .await
}

/// Whether creating an object of this kind records who asked in its
/// spec (CertificateSigningRequests: `spec.username`, `uid`, `groups`).
pub fn records_requester(handler: &Handler) -> bool {
    let info = handler.info();
    info.group == CertificateSigningRequest::GROUP && info.kind == CertificateSigningRequest::KIND
}

/// POST a CertificateSigningRequest: whatever the body says,
/// `spec.username`, `spec.uid`, `spec.groups` and `spec.extra` are the
/// authenticated requester's (upstream's `PrepareForCreate`), so an
/// approver can trust them.
pub async fn create_as_requester(call: &Call<'_>) -> ApiResult<super::fieldmanager::Written> {
    let mut body_value = call.body()?;
    if let Some(obj) = body_value.as_object_mut() {
        let spec = obj
            .entry("spec")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(spec) = spec.as_object_mut() {
            let user = call.user;
            spec.insert("username".into(), Value::String(user.name.clone()));
            spec.insert("uid".into(), Value::String(user.uid.clone()));
            spec.insert("groups".into(), serde_json::json!(user.groups));
            spec.remove("extra");
        }
    }
    let raw = bytes::Bytes::from(
        serde_json::to_vec(&body_value).map_err(|e| ApiError::internal(format!("encode: {e}")))?,
    );
    let mut headers = call.headers.clone();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    super::crud::create(&Call {
        raw: &raw,
        headers: &headers,
        ..*call
    })
    .await
}

/// PUT or PATCH `certificatesigningrequests/{name}/approval`: only the
/// conditions change (Approved/Denied are written here, never through
/// `/status`); the spec and the certificate stay as stored.
pub async fn update_approval(call: &Call<'_>, name: &str, is_patch: bool) -> ApiResult<Value> {
    let info = call.handler.info();
    let (patch_type, doc) = if is_patch {
        let (pt, doc) = call.patch()?;
        (Some(pt), doc)
    } else {
        (None, call.body()?)
    };
    let pinned = match patch_type {
        Some(_) => None,
        None => pinned_revision(&doc)?,
    };
    update(call, name, |current| {
        let new = match patch_type {
            Some(pt) => patch::apply(info, pt, current, &doc)?,
            None => doc.clone(),
        };
        Ok((approval_update(new, current, name)?, pinned))
    })
    .await
}

/// The stored CSR `current` with the conditions of `new`, validated.
fn approval_update(new: Value, current: &Value, name: &str) -> ApiResult<Value> {
    use tug_api::decode::decode_strict;
    let kind = CertificateSigningRequest::KIND;
    let group = CertificateSigningRequest::GROUP;
    let new: CertificateSigningRequest = decode_strict(new).map_err(|e| {
        ApiError::bad_request(format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: {e}"
        ))
    })?;
    let old: CertificateSigningRequest = CertificateSigningRequest::deserialize(current)
        .map_err(|e| ApiError::internal(format!("stored {kind} could not be decoded: {e}")))?;
    if !new.metadata.name.is_empty() && new.metadata.name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            new.metadata.name
        )));
    }
    let mut updated = new.approval_update(&old);
    let errors = updated.validate_update(&old);
    if !errors.is_empty() {
        return Err(ApiError::invalid(kind, group, name, &errors));
    }
    updated.set_type_meta();
    serde_json::to_value(&updated).map_err(|e| ApiError::internal(format!("encode: {e}")))
}

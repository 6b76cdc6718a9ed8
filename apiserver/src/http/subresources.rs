//! Subresources: `status` (every kind with one), `scale` (Deployments,
//! ReplicaSets), `binding` (Pods) and `finalize` (Namespaces).

use serde_json::Value;
use tug_api::Time;

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

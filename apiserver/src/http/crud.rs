//! The verbs on a kind's main resource: get, create, update (PUT), patch,
//! delete and deletecollection. Subresources live in `subresources.rs`.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::namespaces::NamespaceState;
use crate::objects::{meta_str, name_of, Attempt, DeleteRequest, Deleted, MAX_UPDATE_RETRIES};
use crate::registry::{Handler, ResourceInfo};
use crate::server::ApiServer;

use super::body;
use super::list::{list, Filter};
use super::params::Params;
use super::patch;
use super::Call;

/// Attempts at a fresh generated name before giving up.
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// Kinds a PUT may create when the object does not exist yet (upstream's
/// `AllowCreateOnUpdate`).
fn allows_create_on_update(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.plural),
        ("", "endpoints") | ("coordination.k8s.io", "leases") | ("", "events")
    )
}

fn is_namespaces(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.plural == "namespaces"
}

/// The resourceVersion a body pins, as a revision.
pub fn pinned_revision(object: &Value) -> ApiResult<Option<i64>> {
    let rv = meta_str(object, "resourceVersion");
    if rv.is_empty() {
        return Ok(None);
    }
    rv.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "metadata.resourceVersion: Invalid value: {rv:?}: must be an integer"
        ))
    })
}

/// Creating in a namespace needs the namespace to exist and not be
/// terminating. Answered from the namespace view; storage is read only for
/// a namespace the view has not seen (yet).
pub async fn require_namespace(
    server: &ApiServer,
    info: &ResourceInfo,
    namespace: &str,
) -> ApiResult<()> {
    if !info.namespaced {
        return Ok(());
    }
    let state = match server.namespace_view.get(namespace) {
        Some(state) => state,
        None => {
            let ns = server
                .objects
                .get(server.namespaces().info(), "", namespace)
                .await?;
            if ns.object.pointer("/metadata/deletionTimestamp").is_some() {
                NamespaceState::Terminating
            } else {
                NamespaceState::Active
            }
        }
    };
    if state == NamespaceState::Terminating {
        return Err(ApiError::forbidden(format!(
            "{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
            info.plural
        )));
    }
    Ok(())
}

pub async fn get(
    server: &ApiServer,
    handler: &Handler,
    namespace: &str,
    name: &str,
) -> ApiResult<Value> {
    Ok(server
        .objects
        .get(handler.info(), namespace, name)
        .await?
        .object)
}

pub async fn list_objects(
    server: &ApiServer,
    handler: &Handler,
    namespace: &str,
    params: &Params,
) -> ApiResult<Value> {
    let filter = Filter::from_params(namespace, params)?;
    let listed = list(server, handler, &filter, params).await?;
    Ok(super::list::list_body(handler, listed))
}

pub async fn create(call: &Call<'_>) -> ApiResult<Value> {
    let Call {
        server,
        handler,
        namespace,
        params,
        ..
    } = *call;
    let info = handler.info();
    if info.namespaced && namespace.is_empty() {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: create {} needs a namespace in the path",
            info.plural
        )));
    }
    let body_value = call.body()?;
    let dry_run = params.dry_run()?;
    require_namespace(server, info, namespace).await?;
    let generated = meta_str(&body_value, "name").is_empty();
    let mut last_err = None;
    for _ in 0..GENERATE_NAME_ATTEMPTS {
        let mut object = handler.prepare_create(body_value.clone(), namespace)?;
        let allocation = server
            .services
            .admit(info, &mut object, None, dry_run)
            .await?;
        match server.objects.insert(info, object, dry_run).await {
            Ok(created) => {
                if is_namespaces(info) && !dry_run {
                    server.namespace_view.record(&created, false);
                }
                return Ok(created);
            }
            Err(e) => {
                server.services.release(allocation).await;
                if generated && e.0.reason == "AlreadyExists" {
                    last_err = Some(e);
                    continue;
                }
                return Err(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| ApiError::internal("could not generate a unique name")))
}

/// Which half of an object a write addresses: the main resource (status
/// ignored) or the `status` subresource (everything else ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    Main,
    Status,
}

impl Half {
    fn prepare(self, handler: &Handler, body: Value, current: &Value) -> ApiResult<Value> {
        match self {
            Half::Main => handler.prepare_update(body, current),
            Half::Status => handler.prepare_status_update(body, current),
        }
    }
}

/// PUT: replace the object (or its status) with the body; for the kinds
/// that allow it, a PUT of a missing object creates it.
pub async fn replace(call: &Call<'_>, name: &str, half: Half) -> ApiResult<Value> {
    let Call {
        server,
        handler,
        namespace,
        params,
        ..
    } = *call;
    let info = handler.info();
    let body_value = call.body()?;
    let pinned = pinned_revision(&body_value)?;
    if half == Half::Main
        && allows_create_on_update(info)
        && server.objects.get(info, namespace, name).await.is_err()
    {
        if name_of(&body_value) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&body_value)
            )));
        }
        return create(call).await;
    }
    update_with(
        server,
        handler,
        namespace,
        name,
        params.dry_run()?,
        |current| Ok((half.prepare(handler, body_value.clone(), current)?, pinned)),
    )
    .await
}

/// The shared update path: mutate, admit (Service allocations), store,
/// then release what the stored object no longer holds.
pub async fn update_with<F>(
    server: &ApiServer,
    handler: &Handler,
    namespace: &str,
    name: &str,
    dry_run: bool,
    mut mutate: F,
) -> ApiResult<Value>
where
    F: FnMut(&Value) -> ApiResult<(Value, Option<i64>)>,
{
    let info = handler.info();
    for _ in 0..MAX_UPDATE_RETRIES {
        let current = server.objects.get(info, namespace, name).await?;
        let (mut updated, pinned) = mutate(&current.object)?;
        let allocation = server
            .services
            .admit(info, &mut updated, Some(&current.object), dry_run)
            .await?;
        match server
            .objects
            .try_update(info, &current, updated, pinned, dry_run)
            .await
        {
            Ok(Attempt::Done(updated)) => {
                if !dry_run {
                    server
                        .services
                        .release_unused(info, &current.object, Some(&updated))
                        .await;
                }
                return Ok(updated);
            }
            Ok(Attempt::Retry) => server.services.release(allocation).await,
            Err(e) => {
                server.services.release(allocation).await;
                return Err(e);
            }
        }
    }
    Err(ApiError::stale(info.plural, info.group, name))
}

/// PATCH the object (or its status).
pub async fn patch(call: &Call<'_>, name: &str, half: Half) -> ApiResult<Value> {
    let Call {
        server,
        handler,
        namespace,
        params,
        ..
    } = *call;
    let (patch_type, patch_doc) = call.patch()?;
    update_with(
        server,
        handler,
        namespace,
        name,
        params.dry_run()?,
        |current| {
            let patched = patch::apply(handler.info(), patch_type, current, &patch_doc)?;
            let pinned = pin_if_changed(current, &patched)?;
            Ok((half.prepare(handler, patched, current)?, pinned))
        },
    )
    .await
}

/// A patch that changes `metadata.resourceVersion` pins it: the write must
/// then see exactly that version.
pub fn pin_if_changed(current: &Value, patched: &Value) -> ApiResult<Option<i64>> {
    if meta_str(current, "resourceVersion") == meta_str(patched, "resourceVersion") {
        Ok(None)
    } else {
        pinned_revision(patched).map(|p| p.or(Some(-1)))
    }
}

/// `DeleteOptions` from the body and/or query.
pub fn delete_request(
    headers: &HeaderMap,
    raw: &Bytes,
    params: &Params,
) -> ApiResult<DeleteRequest> {
    let mut req = DeleteRequest {
        grace_period_seconds: params.grace_period_seconds,
        propagation_policy: params.propagation_policy.clone(),
        dry_run: params.dry_run()?,
        ..Default::default()
    };
    if params.orphan_dependents.as_deref() == Some("true") && req.propagation_policy.is_none() {
        req.propagation_policy = Some("Orphan".into());
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(req);
    }
    let opts = body::decode(headers, raw)?;
    if let Some(g) = opts.get("gracePeriodSeconds") {
        req.grace_period_seconds = Some(g.as_i64().ok_or_else(|| {
            ApiError::bad_request("DeleteOptions.gracePeriodSeconds must be an integer")
        })?);
    }
    if let Some(p) = opts.get("propagationPolicy").and_then(Value::as_str) {
        req.propagation_policy = Some(p.to_string());
    }
    if opts.get("orphanDependents").and_then(Value::as_bool) == Some(true)
        && req.propagation_policy.is_none()
    {
        req.propagation_policy = Some("Orphan".into());
    }
    if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str) {
        req.precondition_uid = Some(uid.to_string());
    }
    if let Some(rv) = opts
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
    {
        req.precondition_resource_version = Some(rv.to_string());
    }
    if let Some(dry) = opts.get("dryRun").and_then(Value::as_array) {
        req.dry_run |= dry.iter().any(|v| v.as_str() == Some("All"));
    }
    if let Some(p) = &req.propagation_policy {
        if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "",
                "",
                &[tug_api::FieldError::not_supported(
                    "propagationPolicy",
                    p,
                    &["Foreground", "Background", "Orphan"],
                )],
            ));
        }
    }
    Ok(req)
}

pub async fn delete(
    server: &ApiServer,
    handler: &Handler,
    namespace: &str,
    name: &str,
    request: &DeleteRequest,
) -> ApiResult<Deleted> {
    let info = handler.info();
    let deleted = server
        .objects
        .delete(info, namespace, name, request)
        .await?;
    if is_namespaces(info) && !request.dry_run {
        server.namespace_view.record(&deleted.object, deleted.gone);
    }
    if deleted.gone && !request.dry_run {
        server
            .services
            .release_unused(info, &deleted.object, None)
            .await;
    }
    Ok(deleted)
}

/// DELETE on a collection: delete every selected object; returns them.
pub async fn delete_collection(
    server: &ApiServer,
    handler: &Handler,
    namespace: &str,
    request: &DeleteRequest,
    params: &Params,
) -> ApiResult<Value> {
    let filter = Filter::from_params(namespace, params)?;
    let listed = list(server, handler, &filter, &Params::default()).await?;
    let mut items = Vec::new();
    for obj in listed.items {
        let ns = meta_str(&obj, "namespace").to_string();
        let name = name_of(&obj).to_string();
        match delete(server, handler, &ns, &name, request).await {
            Ok(d) => items.push(d.object),
            Err(e) if e.code() == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let info = handler.info();
    Ok(serde_json::json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": { "resourceVersion": listed.revision.to_string() },
        "items": items,
    }))
}

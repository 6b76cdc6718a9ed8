//! The verbs on a kind's main resource: get, create, update (PUT), patch,
//! delete and deletecollection. Subresources live in `subresources.rs`.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;
use tug_api::FieldError;

use crate::error::{ApiError, ApiResult};
use crate::namespaces::NamespaceState;
use crate::objects::{meta_str, name_of, Attempt, DeleteRequest, Deleted, MAX_UPDATE_RETRIES};
use crate::registry::{Handler, ResourceInfo};
use crate::server::ApiServer;

use super::body;
use super::fieldmanager::{self, Tracker, Written};
use super::list::{list, Filter};
use super::params::{invalid_patch_options, Params};
use super::patch::{self, PatchType};
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

pub async fn create(call: &Call<'_>) -> ApiResult<Written> {
    let info = call.handler.info();
    if info.namespaced && call.namespace.is_empty() {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: create {} needs a namespace in the path",
            info.plural
        )));
    }
    let (body_value, warnings) = checked_body(call)?;
    create_checked(call, body_value, warnings).await
}

/// The body of a create or update, field-validated: unknown fields gone
/// (or the write refused under `fieldValidation=Strict`), and the
/// warnings to send.
fn checked_body(call: &Call<'_>) -> ApiResult<(Value, Vec<String>)> {
    let mode = call.params.field_validation()?;
    let (body_value, dups) = body::decode_checked(call.headers, call.raw)?;
    fieldmanager::check_fields(call.handler, mode, body_value, &dups)
}

/// Create from a checked body, recording the creator in managedFields.
async fn create_checked(
    call: &Call<'_>,
    body_value: Value,
    warnings: Vec<String>,
) -> ApiResult<Written> {
    let tracker = Tracker::new(call.handler, fieldmanager::manager(call)?, Half::Main);
    let requested = tracker.requested(&body_value);
    let object = insert_new(call, body_value, |object| {
        tracker.record_update(None, requested.as_ref(), object)
    })
    .await?;
    Ok(Written::created(object, warnings))
}

/// Store a new object made from `body`: prepared by the kind, finished by
/// `finish` (managed fields), admitted (Service allocations), inserted;
/// a name from `generateName` is retried on a clash.
async fn insert_new<F>(call: &Call<'_>, body_value: Value, finish: F) -> ApiResult<Value>
where
    F: Fn(&mut Value) -> ApiResult<()>,
{
    let Call {
        server,
        handler,
        namespace,
        params,
        ..
    } = *call;
    let info = handler.info();
    let dry_run = params.dry_run()?;
    require_namespace(server, info, namespace).await?;
    let generated = meta_str(&body_value, "name").is_empty();
    let mut last_err = None;
    for _ in 0..GENERATE_NAME_ATTEMPTS {
        let mut object = handler.prepare_create(body_value.clone(), namespace)?;
        crate::auth::admit_create(call.user, info, &object)?;
        finish(&mut object)?;
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

    /// `body` prepared as the new state of `current`, the write recorded
    /// in its managedFields (starting from the entries the body sent, if
    /// it sent any).
    fn prepare_recorded(
        self,
        handler: &Handler,
        tracker: &Tracker,
        body: Value,
        current: &Value,
    ) -> ApiResult<Value> {
        let requested = tracker.requested(&body);
        let mut object = self.prepare(handler, body, current)?;
        tracker.record_update(Some(current), requested.as_ref(), &mut object)?;
        Ok(object)
    }
}

/// PUT: replace the object (or its status) with the body; for the kinds
/// that allow it, a PUT of a missing object creates it.
pub async fn replace(call: &Call<'_>, name: &str, half: Half) -> ApiResult<Written> {
    let Call {
        server,
        handler,
        namespace,
        ..
    } = *call;
    let info = handler.info();
    let (body_value, warnings) = checked_body(call)?;
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
        return create_checked(call, body_value, warnings).await;
    }
    let tracker = Tracker::new(handler, fieldmanager::manager(call)?, half);
    let object = update(call, name, |current| {
        let object = half.prepare_recorded(handler, &tracker, body_value.clone(), current)?;
        Ok((object, pinned))
    })
    .await?;
    Ok(Written::updated(object, warnings))
}

/// [`update_with`] the object `name` of the call's kind and namespace.
pub async fn update<F>(call: &Call<'_>, name: &str, mutate: F) -> ApiResult<Value>
where
    F: FnMut(&Value) -> ApiResult<(Value, Option<i64>)>,
{
    let Call {
        server,
        handler,
        namespace,
        params,
        ..
    } = *call;
    update_with(server, handler, namespace, name, params.dry_run()?, mutate).await
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

/// PATCH the object (or its status); an apply patch is server-side apply.
pub async fn patch(call: &Call<'_>, name: &str, half: Half) -> ApiResult<Written> {
    let Call {
        handler, params, ..
    } = *call;
    let patch_type = PatchType::from_content_type(&body::content_type(call.headers))?;
    let mode = params.field_validation()?;
    let (patch_doc, dups) = patch::read(patch_type, call.raw)?;
    if patch_type == PatchType::Apply {
        return apply(call, name, half, patch_doc, &dups).await;
    }
    if params.force.is_some() {
        return Err(invalid_patch_options(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        )));
    }
    let tracker = Tracker::new(handler, fieldmanager::manager(call)?, half);
    let mut warnings = Vec::new();
    let object = update(call, name, |current| {
        let patched = patch::apply(handler.info(), patch_type, current, &patch_doc)?;
        let (patched, said) = fieldmanager::check_fields(handler, mode, patched, &dups)?;
        warnings = said;
        let pinned = pin_if_changed(current, &patched)?;
        let object = half.prepare_recorded(handler, &tracker, patched, current)?;
        Ok((object, pinned))
    })
    .await?;
    Ok(Written::updated(object, warnings))
}

/// Server-side apply of `config` by the request's `fieldManager`
/// (required): creates the object when it does not exist, else merges the
/// configuration into it, refusing (409) to change fields other managers
/// own unless `force=true`.
async fn apply(
    call: &Call<'_>,
    name: &str,
    half: Half,
    config: Value,
    dups: &[String],
) -> ApiResult<Written> {
    let Call {
        server,
        handler,
        namespace,
        params,
        ..
    } = *call;
    let info = handler.info();
    let manager = params.field_manager()?.ok_or_else(|| {
        invalid_patch_options(FieldError::required(
            "fieldManager",
            "is required for apply patch",
        ))
    })?;
    let (mut config, warnings) =
        fieldmanager::check_fields(handler, params.field_validation()?, config, dups)?;
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request(
            "metadata.managedFields must be nil in an apply configuration",
        ));
    }
    let config_name = name_of(&config);
    if !config_name.is_empty() && config_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({config_name}) does not match the name on the URL ({name})"
        )));
    }
    let tracker = Tracker::new(handler, manager.to_string(), half);
    let force = params.force();
    match server.objects.get(info, namespace, name).await {
        Err(e) if e.code() == 404 && half == Half::Main => {
            if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("name".into(), Value::String(name.to_string()));
            }
            let (merged, managed) = tracker.apply(None, &config, force)?;
            let object = insert_new(call, merged, |object| {
                managed.store(object);
                Ok(())
            })
            .await?;
            return Ok(Written::created(object, warnings));
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let object = update(call, name, |current| {
        let (merged, managed) = tracker.apply(Some(current), &config, force)?;
        let pinned = pin_if_changed(current, &merged)?;
        let mut object = half.prepare(handler, merged, current)?;
        managed.store(&mut object);
        Ok((object, pinned))
    })
    .await?;
    Ok(Written::updated(object, warnings))
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

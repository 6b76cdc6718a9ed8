//! The object store: Kubernetes object semantics over the byte-level
//! [`Storage`]. Owns the mapping between stored bytes and API objects
//! (resourceVersion = the storage mod revision, injected on read and never
//! stored), optimistic concurrency, generateName retries, and the deletion
//! protocol (grace periods, finalizers).

use std::sync::Arc;

use serde_json::Value;
use tug_api::Time;

use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceInfo;
use crate::storage::{KeyValue, ListOptions, Storage, StorageError};

/// How many times a write retries after losing a compare-and-swap race
/// when the client did not pin a resourceVersion.
pub const MAX_UPDATE_RETRIES: usize = 16;

/// A decoded object with its storage revision.
#[derive(Clone, Debug)]
pub struct Stored {
    pub object: Value,
    pub revision: i64,
}

/// Parse stored bytes and stamp the revision as `metadata.resourceVersion`.
pub fn decode_kv(kv: &KeyValue) -> ApiResult<Stored> {
    decode_bytes(&kv.value, kv.mod_revision)
}

pub fn decode_bytes(bytes: &[u8], revision: i64) -> ApiResult<Stored> {
    let mut object: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
    set_resource_version(&mut object, revision);
    Ok(Stored { object, revision })
}

pub fn set_resource_version(object: &mut Value, revision: i64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
}

/// Serialize for storage, without the resourceVersion (the revision is
/// the truth; a stored copy could only go stale). The field is taken out
/// for the serialization and put back, so no copy of the object is made.
fn encode(object: &mut Value) -> Vec<u8> {
    let meta = object.get_mut("metadata").and_then(Value::as_object_mut);
    let rv = meta.and_then(|m| m.remove("resourceVersion"));
    let bytes = serde_json::to_vec(object).unwrap_or_default();
    if let (Some(rv), Some(meta)) = (
        rv,
        object.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        meta.insert("resourceVersion".into(), rv);
    }
    bytes
}

pub fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn name_of(object: &Value) -> &str {
    meta_str(object, "name")
}

fn finalizers_of(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A namespace also waits for its `spec.finalizers` (the namespace
/// controller empties them through `/finalize`).
fn blocking_finalizers(info: &ResourceInfo, object: &Value) -> usize {
    let spec = if info.group.is_empty() && info.plural == "namespaces" {
        object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    } else {
        0
    };
    finalizers_of(object).len() + spec
}

/// The outcome of one [`Objects::try_update`] attempt.
pub enum Attempt {
    /// Stored (or nothing to store); the object as it now is.
    Done(Value),
    /// Lost a race with another writer: read again and retry.
    Retry,
}

/// What a delete request asks for (`DeleteOptions`).
#[derive(Clone, Debug, Default)]
pub struct DeleteRequest {
    pub grace_period_seconds: Option<i64>,
    /// `Orphan`, `Background` or `Foreground`.
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

/// The result of a delete: the object as last stored, and whether it is
/// gone (or only marked for deletion, waiting for finalizers or a kubelet).
#[derive(Debug)]
pub struct Deleted {
    pub object: Value,
    pub gone: bool,
}

/// Kubernetes object operations over a storage backend.
#[derive(Clone)]
pub struct Objects {
    storage: Arc<dyn Storage>,
}

impl Objects {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Objects { storage }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub async fn get(&self, info: &ResourceInfo, namespace: &str, name: &str) -> ApiResult<Stored> {
        let kv = self
            .storage
            .get(&info.key(namespace, name))
            .await
            .map_err(|e| ApiError::from_storage(e, info.plural, info.group, name))?;
        decode_kv(&kv)
    }

    /// Store a new object prepared by its kind's handler. Returns it with
    /// its resourceVersion.
    pub async fn insert(
        &self,
        info: &ResourceInfo,
        mut object: Value,
        dry_run: bool,
    ) -> ApiResult<Value> {
        let name = name_of(&object).to_string();
        let key = info.key(meta_str(&object, "namespace"), &name);
        if dry_run {
            return match self.storage.get(&key).await {
                Ok(_) => Err(ApiError::already_exists(info.plural, info.group, &name)),
                Err(_) => Ok(object),
            };
        }
        let revision = self
            .storage
            .create(&key, encode(&mut object))
            .await
            .map_err(|e| ApiError::from_storage(e, info.plural, info.group, &name))?;
        set_resource_version(&mut object, revision);
        Ok(object)
    }

    /// One attempt of a read-modify-write: store `updated` over `current`
    /// if nobody wrote in between. If the write pins a resourceVersion (a
    /// PUT body, a patch that set one), a lost race is a 409; otherwise the
    /// caller gets `Retry` and tries again on the fresh object.
    pub async fn try_update(
        &self,
        info: &ResourceInfo,
        current: &Stored,
        mut updated: Value,
        pinned: Option<i64>,
        dry_run: bool,
    ) -> ApiResult<Attempt> {
        let name = name_of(&current.object).to_string();
        let key = info.key(meta_str(&current.object, "namespace"), &name);
        if let Some(rv) = pinned {
            if rv != current.revision {
                return Err(ApiError::stale(info.plural, info.group, &name));
            }
        }
        set_resource_version(&mut updated, current.revision);
        if dry_run {
            return Ok(Attempt::Done(updated));
        }
        if updated == current.object {
            // Nothing changed: no write, no new resourceVersion (as upstream).
            return Ok(Attempt::Done(updated));
        }
        let written = if self.should_delete_after_update(info, &updated) {
            self.storage
                .delete(&key, Some(current.revision))
                .await
                .map(|(_, revision)| revision)
        } else {
            self.storage
                .update(&key, encode(&mut updated), current.revision)
                .await
        };
        match written {
            Ok(revision) => {
                set_resource_version(&mut updated, revision);
                Ok(Attempt::Done(updated))
            }
            Err(StorageError::Conflict { .. }) if pinned.is_none() => Ok(Attempt::Retry),
            Err(e) => Err(ApiError::from_storage(e, info.plural, info.group, &name)),
        }
    }

    /// An update that removed the last finalizer of an object whose deletion
    /// is due completes the deletion.
    fn should_delete_after_update(&self, info: &ResourceInfo, object: &Value) -> bool {
        let deleting = object.pointer("/metadata/deletionTimestamp").is_some();
        let grace = object
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        deleting && grace == 0 && blocking_finalizers(info, object) == 0
    }

    /// Delete following the Kubernetes protocol: an object with finalizers,
    /// a pod with a grace period or a namespace is only marked
    /// (`deletionTimestamp`); everything else is removed now.
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        request: &DeleteRequest,
    ) -> ApiResult<Deleted> {
        let key = info.key(namespace, name);
        for _ in 0..MAX_UPDATE_RETRIES {
            let current = self.get(info, namespace, name).await?;
            check_preconditions(info, name, &current, request)?;
            let mut object = current.object.clone();
            let grace = grace_period(info, &object, request)?;
            add_propagation_finalizer(&mut object, request.propagation_policy.as_deref());
            let is_namespace = info.group.is_empty() && info.plural == "namespaces";
            let already_deleting = object.pointer("/metadata/deletionTimestamp").is_some();
            let wait = grace > 0 || blocking_finalizers(info, &object) > 0 || is_namespace;
            if !wait {
                if request.dry_run {
                    return Ok(Deleted { object, gone: true });
                }
                return match self.storage.delete(&key, Some(current.revision)).await {
                    Ok((_, revision)) => {
                        set_resource_version(&mut object, revision);
                        Ok(Deleted { object, gone: true })
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => Err(ApiError::from_storage(e, info.plural, info.group, name)),
                };
            }
            let existing_grace = object
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if already_deleting
                && existing_grace.is_some_and(|g| g <= grace)
                && object == current.object
            {
                // Already being deleted at least this fast: nothing to do.
                return Ok(Deleted {
                    object,
                    gone: false,
                });
            }
            let meta = object
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| ApiError::internal("stored object has no metadata"))?;
            let deadline = chrono::Utc::now() + chrono::Duration::seconds(grace);
            meta.insert(
                "deletionTimestamp".into(),
                serde_json::to_value(Time(
                    chrono::DateTime::from_timestamp(deadline.timestamp(), 0).unwrap_or(deadline),
                ))
                .unwrap_or(Value::Null),
            );
            meta.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
            if is_namespace {
                if let Some(status) = object.as_object_mut().map(|o| {
                    o.entry("status")
                        .or_insert_with(|| Value::Object(Default::default()))
                }) {
                    status["phase"] = Value::String("Terminating".into());
                }
            }
            if request.dry_run {
                return Ok(Deleted {
                    object,
                    gone: false,
                });
            }
            if is_namespace && blocking_finalizers(info, &object) == 0 {
                // A namespace with nothing left to finalize goes at once.
                return match self.storage.delete(&key, Some(current.revision)).await {
                    Ok((_, revision)) => {
                        set_resource_version(&mut object, revision);
                        Ok(Deleted { object, gone: true })
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => Err(ApiError::from_storage(e, info.plural, info.group, name)),
                };
            }
            match self
                .storage
                .update(&key, encode(&mut object), current.revision)
                .await
            {
                Ok(revision) => {
                    set_resource_version(&mut object, revision);
                    return Ok(Deleted {
                        object,
                        gone: false,
                    });
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(ApiError::from_storage(e, info.plural, info.group, name)),
            }
        }
        Err(ApiError::stale(info.plural, info.group, name))
    }

    /// Raw list of one collection at a revision, one page.
    pub async fn list_page(
        &self,
        info: &ResourceInfo,
        prefix: &str,
        opts: ListOptions,
    ) -> ApiResult<crate::storage::ListResult> {
        self.storage
            .list(prefix, opts)
            .await
            .map_err(|e| match e {
                StorageError::Compacted { .. } => ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ),
                other => ApiError::from_storage(other, info.plural, info.group, ""),
            })
    }
}

fn check_preconditions(
    info: &ResourceInfo,
    name: &str,
    current: &Stored,
    request: &DeleteRequest,
) -> ApiResult<()> {
    if let Some(uid) = &request.precondition_uid {
        let actual = meta_str(&current.object, "uid");
        if uid != actual {
            return Err(ApiError::conflict(
                info.plural,
                info.group,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &request.precondition_resource_version {
        if *rv != current.revision.to_string() {
            return Err(ApiError::conflict(
                info.plural,
                info.group,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    current.revision
                ),
            ));
        }
    }
    Ok(())
}

/// The grace period a delete gets: pods wait for their kubelet (the
/// request's period, else the pod's `terminationGracePeriodSeconds`);
/// unscheduled or finished pods and every other kind go at once.
fn grace_period(info: &ResourceInfo, object: &Value, request: &DeleteRequest) -> ApiResult<i64> {
    if let Some(g) = request.grace_period_seconds {
        if g < 0 {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "",
                "",
                &[tug_api::FieldError::invalid(
                    "gracePeriodSeconds",
                    g,
                    "must be greater than or equal to 0",
                )],
            ));
        }
    }
    let is_pod = info.group.is_empty() && info.plural == "pods";
    if !is_pod {
        return Ok(0);
    }
    let node = object
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let phase = object
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
        return Ok(0);
    }
    let from_spec = object
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    let existing = object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    let requested = request.grace_period_seconds.unwrap_or(from_spec);
    // A second delete may shorten the period, never lengthen it.
    Ok(existing.map_or(requested, |e| e.min(requested)))
}

/// `propagationPolicy: Orphan|Foreground` is carried out by the garbage
/// collector, which sees it as a finalizer on the owner.
fn add_propagation_finalizer(object: &mut Value, policy: Option<&str>) {
    let finalizer = match policy {
        Some("Orphan") => "orphan",
        Some("Foreground") => "foregroundDeletion",
        _ => return,
    };
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list = meta
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(items) = list.as_array_mut() {
        if !items.iter().any(|v| v.as_str() == Some(finalizer)) {
            items.push(Value::String(finalizer.into()));
        }
    }
}

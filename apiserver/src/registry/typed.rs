//! [`KindHandler`] for any typed kind: the generic glue between JSON
//! bodies and a kind's `Strategy`.

use std::marker::PhantomData;

use rand::Rng;
use serde_json::Value;
use tug_api::autoscaling::Scale;
use tug_api::decode::{decode_strict, DecodeError};
use tug_api::{ObjectMeta, Scalable, Strategy, Time};

use super::{KindHandler, ObjectAttrs, ResourceInfo, ScaleHandler, SELECTABLE_FIELDS};
use crate::error::{ApiError, ApiResult};

/// The handler of kind `K`.
pub struct Typed<K> {
    info: ResourceInfo,
    scale: Option<Box<dyn ScaleHandler>>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Strategy> Typed<K> {
    pub fn new(subresources: &'static [&'static str]) -> Self {
        Typed {
            info: ResourceInfo {
                group: K::GROUP,
                version: K::VERSION,
                kind: K::KIND,
                plural: K::PLURAL,
                singular: K::SINGULAR,
                namespaced: K::NAMESPACED,
                short_names: K::SHORT_NAMES,
                subresources,
                has_generation: K::HAS_GENERATION,
            },
            scale: None,
            _kind: PhantomData,
        }
    }
}

impl<K: Strategy + Scalable> Typed<K> {
    /// A handler that also serves the `scale` subresource.
    pub fn scalable(subresources: &'static [&'static str]) -> Self {
        let mut t = Self::new(subresources);
        t.scale = Some(Box::new(TypedScale::<K>(PhantomData)));
        t
    }
}

/// Characters Kubernetes uses for generated name suffixes (no vowels, no
/// look-alikes, so no words and no ambiguity).
const NAME_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const MAX_GENERATE_NAME_PREFIX: usize = 58;

fn generated_name(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let prefix = &prefix[..prefix.len().min(MAX_GENERATE_NAME_PREFIX)];
    let suffix: String = (0..5)
        .map(|_| NAME_SUFFIX_ALPHABET[rng.gen_range(0..NAME_SUFFIX_ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// Decode a body as `K`, checking that it says it is a `K`.
fn decode<K: Strategy>(body: Value) -> ApiResult<K> {
    let what = format!("{} in version \"{}\"", K::KIND, K::VERSION);
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "{what} cannot be handled as a {}: the body must be a JSON object",
            K::KIND
        )));
    }
    let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    if !api_version.is_empty() && api_version != K::api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            K::api_version()
        )));
    }
    if !kind.is_empty() && kind != K::KIND {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            K::KIND
        )));
    }
    decode_strict::<K>(body).map_err(|e| match e {
        DecodeError::UnknownField(_) => {
            ApiError::bad_request(format!("{what} cannot be handled as a {}: {e}", K::KIND))
        }
        DecodeError::Invalid { .. } => {
            ApiError::bad_request(format!("{what} cannot be handled as a {}: {e}", K::KIND))
        }
    })
}

/// Decode an object we stored ourselves (never fails unless storage holds
/// something another program wrote).
fn decode_stored<K: Strategy>(object: &Value) -> ApiResult<K> {
    K::deserialize(object)
        .map_err(|e| ApiError::internal(format!("stored {} could not be decoded: {e}", K::KIND)))
}

fn encode<K: Strategy>(mut obj: K) -> ApiResult<Value> {
    obj.set_type_meta();
    serde_json::to_value(&obj).map_err(|e| ApiError::internal(format!("encode: {e}")))
}

fn validate_or_reject<K: Strategy>(obj: &K, errors: tug_api::FieldErrors) -> ApiResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        let name = if obj.meta().name.is_empty() {
            &obj.meta().generate_name
        } else {
            &obj.meta().name
        };
        Err(ApiError::invalid(K::KIND, K::GROUP, name, &errors))
    }
}

/// Server-owned metadata an update may not change.
fn keep_server_meta(new: &mut ObjectMeta, old: &ObjectMeta) {
    new.uid = old.uid.clone();
    new.creation_timestamp = old.creation_timestamp;
    new.deletion_timestamp = old.deletion_timestamp;
    new.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
    new.generation = old.generation;
    new.generate_name = if new.generate_name.is_empty() {
        old.generate_name.clone()
    } else {
        new.generate_name.clone()
    };
    new.self_link.clear();
}

impl<K: Strategy> KindHandler for Typed<K> {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    fn prepare_create(&self, body: Value, namespace: &str) -> ApiResult<Value> {
        let mut obj: K = decode(body)?;
        let meta = obj.meta_mut();
        if K::NAMESPACED {
            if meta.namespace.is_empty() {
                meta.namespace = namespace.to_string();
            } else if meta.namespace != namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        if meta.name.is_empty() && !meta.generate_name.is_empty() {
            meta.name = generated_name(&meta.generate_name);
        }
        meta.uid = uuid::Uuid::new_v4().to_string();
        meta.resource_version.clear();
        meta.creation_timestamp = Some(Time::now());
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        meta.generation = if K::HAS_GENERATION { 1 } else { 0 };
        meta.self_link.clear();
        // Defaults first, as upstream applies them while decoding.
        obj.apply_defaults();
        obj.prepare_for_create();
        validate_or_reject(&obj, obj.validate())?;
        encode(obj)
    }

    fn prepare_update(&self, body: Value, old: &Value) -> ApiResult<Value> {
        let mut obj: K = decode(body)?;
        let old: K = decode_stored(old)?;
        check_identity(&self.info, obj.meta(), old.meta())?;
        keep_server_meta(obj.meta_mut(), old.meta());
        obj.apply_defaults();
        obj.prepare_for_update(&old);
        validate_or_reject(&obj, obj.validate_update(&old))?;
        if K::HAS_GENERATION && obj.spec_changed(&old) {
            obj.meta_mut().generation = old.meta().generation + 1;
        }
        encode(obj)
    }

    fn prepare_status_update(&self, body: Value, old: &Value) -> ApiResult<Value> {
        let obj: K = decode(body)?;
        let old: K = decode_stored(old)?;
        check_identity(&self.info, obj.meta(), old.meta())?;
        let mut updated = obj.status_update(&old);
        // Status writes never change metadata (upstream ResetObjectMetaForStatus).
        *updated.meta_mut() = old.meta().clone();
        validate_or_reject(&updated, updated.validate_update(&old))?;
        encode(updated)
    }

    fn unknown_fields(&self, body: &Value) -> (Vec<String>, Value) {
        tug_api::decode::unknown_fields::<K>(body)
    }

    fn attrs(&self, object: &Value) -> ObjectAttrs {
        let Ok(obj) = K::deserialize(object) else {
            return ObjectAttrs::default();
        };
        let meta = obj.meta();
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("metadata.name".to_string(), meta.name.clone());
        fields.insert("metadata.namespace".to_string(), meta.namespace.clone());
        for path in SELECTABLE_FIELDS {
            if let Some(v) = obj.field_value(path) {
                fields.insert(path.to_string(), v);
            }
        }
        ObjectAttrs {
            labels: meta.labels.clone(),
            fields,
        }
    }

    fn scale(&self) -> Option<&dyn ScaleHandler> {
        self.scale.as_deref()
    }
}

/// Name and namespace in an update body must match the stored object.
fn check_identity(info: &ResourceInfo, new: &ObjectMeta, old: &ObjectMeta) -> ApiResult<()> {
    if !new.name.is_empty() && new.name != old.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            new.name, old.name
        )));
    }
    if info.namespaced && !new.namespace.is_empty() && new.namespace != old.namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if !new.uid.is_empty() && new.uid != old.uid {
        return Err(ApiError::conflict(
            info.plural,
            info.group,
            &old.name,
            &format!(
                "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                new.uid, old.uid
            ),
        ));
    }
    Ok(())
}

struct TypedScale<K>(PhantomData<fn() -> K>);

impl<K: Strategy + Scalable> ScaleHandler for TypedScale<K> {
    fn scale_of(&self, object: &Value) -> ApiResult<Value> {
        let obj: K = decode_stored(object)?;
        serde_json::to_value(Scale::of(&obj))
            .map_err(|e| ApiError::internal(format!("encode Scale: {e}")))
    }

    fn with_replicas(&self, object: &Value, scale: Value) -> ApiResult<Value> {
        let mut obj: K = decode_stored(object)?;
        let scale: Scale = decode(scale)?;
        validate_or_reject(&scale, scale.validate())?;
        let rv = &scale.metadata.resource_version;
        if !rv.is_empty() && *rv != obj.meta().resource_version {
            return Err(ApiError::stale(K::PLURAL, K::GROUP, &obj.meta().name));
        }
        scale.apply_to(&mut obj);
        encode(obj)
    }
}

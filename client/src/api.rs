//! [`Api<K>`]: the verbs of one kind in one namespace (or across all of
//! them) — get, list, create, replace, patch, delete, watch and the
//! `status`, `scale` and `binding` subresources.
//!
//! There is one implementation for every kind. A compiled-in kind
//! (`Api<Pod>`) takes its URL from its [`Resource`] consts; a kind known
//! only at run time uses [`DynamicApi`] (`Api<serde_json::Value>`) with an
//! [`ApiResource`] from [discovery](crate::discovery). Either way the
//! object type only decides how bodies are (de)serialized.

use std::marker::PhantomData;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tug_api::autoscaling::Scale;
use tug_api::core::Pod;
use tug_api::meta::List;
use tug_api::{Resource, Status};

use crate::client::{ByteStream, Client, Request};
use crate::error::{Error, Result};
use crate::params::{DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use crate::resource::ApiResource;
use crate::watch::{decode_events, WatchEvent};

/// What an [`Api`] can carry: any JSON-serializable object type, typed
/// ([`tug_api::core::Pod`]) or not ([`serde_json::Value`]).
pub trait ApiObject: Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> ApiObject for T {}

/// An `Api` over untyped JSON objects, for kinds found at run time.
pub type DynamicApi = Api<Value>;

/// The answer to a delete: the object (still present while a grace period
/// or finalizers run, or its last state), or a `Status`.
#[derive(Clone, Debug, PartialEq)]
pub enum Deleted<K> {
    /// The object: still present (grace period, finalizers) or its last state.
    Object(K),
    /// A `Status` saying the delete succeeded.
    Status(Box<Status>),
}

impl<K> Deleted<K> {
    /// The object, when the server answered with one.
    pub fn object(self) -> Option<K> {
        match self {
            Deleted::Object(o) => Some(o),
            Deleted::Status(_) => None,
        }
    }
}

/// The verbs of one kind, in one namespace or in all of them.
pub struct Api<K> {
    client: Client,
    resource: ApiResource,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            client: self.client.clone(),
            resource: self.resource.clone(),
            namespace: self.namespace.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("resource", &self.resource)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl<K: Resource> Api<K> {
    /// Objects of `K` in namespace `ns`. For a cluster-scoped kind the
    /// namespace is ignored, as kubectl ignores `-n` for nodes.
    pub fn namespaced(client: Client, ns: &str) -> Self {
        Api::namespaced_with(client, ns, &ApiResource::of::<K>())
    }

    /// Objects of `K` in the client's default namespace.
    pub fn default_namespaced(client: Client) -> Self {
        let ns = client.default_namespace().to_string();
        Api::namespaced(client, &ns)
    }

    /// A cluster-scoped kind, or a namespaced kind across all namespaces
    /// (list and watch only: get/create need a namespace).
    pub fn all(client: Client) -> Self {
        Api::all_with(client, &ApiResource::of::<K>())
    }
}

impl<K> Api<K> {
    /// The objects of `resource` in namespace `ns` (ignored when the
    /// resource is cluster-scoped).
    pub fn namespaced_with(client: Client, ns: &str, resource: &ApiResource) -> Self {
        Api {
            client,
            resource: resource.clone(),
            namespace: Some(ns.to_string()).filter(|_| resource.namespaced),
            _kind: PhantomData,
        }
    }

    /// The objects of `resource` in all namespaces (or cluster-scoped).
    pub fn all_with(client: Client, resource: &ApiResource) -> Self {
        Api {
            client,
            resource: resource.clone(),
            namespace: None,
            _kind: PhantomData,
        }
    }

    /// The resource this `Api` serves.
    pub fn resource(&self) -> &ApiResource {
        &self.resource
    }

    /// The namespace, if the kind is namespaced and one was given.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Path segments of the collection.
    fn collection(&self) -> Vec<String> {
        self.resource.collection_segments(self.namespace.as_deref())
    }

    /// Path segments of one object or one of its subresources.
    fn object(&self, name: &str, subresource: Option<&str>) -> Result<Vec<String>> {
        if name.is_empty() {
            return Err(Error::Config(format!(
                "a {} name is required",
                self.resource.kind
            )));
        }
        let mut segs = self.collection();
        segs.push(name.to_string());
        if let Some(sub) = subresource {
            segs.push(sub.to_string());
        }
        Ok(segs)
    }

    fn request(&self, method: Method, segs: &[String], query: &[(&str, String)]) -> Request {
        Request::new(method, self.client.url(segs, query))
    }
}

impl<K: ApiObject> Api<K> {
    /// GET one object.
    pub async fn get(&self, name: &str) -> Result<K> {
        let segs = self.object(name, None)?;
        self.client
            .request(self.request(Method::GET, &segs, &[]))
            .await
    }

    /// GET one object; `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// LIST the objects `params` select. The list's
    /// `metadata.resourceVersion` is where a watch continues from.
    pub async fn list(&self, params: &ListParams) -> Result<List<K>> {
        let segs = self.collection();
        self.client
            .request(self.request(Method::GET, &segs, &params.list_query()))
            .await
    }

    /// POST a new object; the server's version of it comes back.
    pub async fn create(&self, pp: &PostParams, object: &K) -> Result<K> {
        let segs = self.collection();
        let req = self
            .request(Method::POST, &segs, &pp.query())
            .json(object)?;
        self.client.request(req).await
    }

    /// PUT a whole object. Its `metadata.resourceVersion` must be the
    /// stored one, or the server answers 409 Conflict.
    pub async fn replace(&self, name: &str, pp: &PostParams, object: &K) -> Result<K> {
        self.replace_subresource(name, None, pp, object).await
    }

    /// PATCH an object.
    pub async fn patch(&self, name: &str, pp: &PatchParams, patch: &Patch) -> Result<K> {
        self.patch_subresource(name, None, pp, patch).await
    }

    /// DELETE an object.
    pub async fn delete(&self, name: &str, dp: &DeleteParams) -> Result<Deleted<K>> {
        let segs = self.object(name, None)?;
        let req = self.request(Method::DELETE, &segs, &[]).json(&dp.body())?;
        let v: Value = self.client.request(req).await?;
        object_or_status(v)
    }

    /// DELETE every object `lp` selects; the deleted objects come back.
    pub async fn delete_collection(
        &self,
        dp: &DeleteParams,
        lp: &ListParams,
    ) -> Result<Deleted<List<K>>> {
        let segs = self.collection();
        let req = self
            .request(Method::DELETE, &segs, &lp.list_query())
            .json(&dp.body())?;
        let v: Value = self.client.request(req).await?;
        object_or_status(v)
    }

    /// WATCH the objects `params` select, from `resource_version` (a list's
    /// resourceVersion; empty: the current state first, as ADDED events).
    ///
    /// The stream ends when the server closes it (its timeout) or the
    /// connection breaks (an `Err` item); resume by watching again from
    /// the last resourceVersion seen. `Err(Error::Gone)` means that
    /// version is no longer available: list again.
    pub async fn watch(
        &self,
        params: &ListParams,
        resource_version: &str,
    ) -> Result<futures::stream::BoxStream<'static, Result<WatchEvent<K>>>> {
        let segs = self.collection();
        let req = self.request(Method::GET, &segs, &params.watch_query(resource_version));
        let what = format!("the watch of {}", req.url);
        let chunks = match self.client.request_stream(req).await {
            Ok(c) => c,
            Err(Error::Api(s)) if s.code == 410 => return Err(Error::Gone(s)),
            Err(e) => return Err(e),
        };
        Ok(decode_events(chunks, what))
    }

    /// GET the `status` subresource (the whole object, as upstream).
    pub async fn get_status(&self, name: &str) -> Result<K> {
        self.get_subresource(name, "status").await
    }

    /// PUT the `status` subresource: only the status is written.
    pub async fn replace_status(&self, name: &str, pp: &PostParams, object: &K) -> Result<K> {
        self.replace_subresource(name, Some("status"), pp, object)
            .await
    }

    /// PATCH the `status` subresource.
    pub async fn patch_status(&self, name: &str, pp: &PatchParams, patch: &Patch) -> Result<K> {
        self.patch_subresource(name, Some("status"), pp, patch)
            .await
    }

    /// GET the `scale` subresource (Deployments, ReplicaSets).
    pub async fn get_scale(&self, name: &str) -> Result<Scale> {
        self.get_subresource(name, "scale").await
    }

    /// PUT the `scale` subresource.
    pub async fn replace_scale(&self, name: &str, pp: &PostParams, scale: &Scale) -> Result<Scale> {
        self.replace_subresource(name, Some("scale"), pp, scale)
            .await
    }

    /// PATCH the `scale` subresource (`{"spec": {"replicas": 3}}`).
    pub async fn patch_scale(&self, name: &str, pp: &PatchParams, patch: &Patch) -> Result<Scale> {
        self.patch_subresource(name, Some("scale"), pp, patch).await
    }

    /// GET any subresource.
    pub async fn get_subresource<T: DeserializeOwned>(&self, name: &str, sub: &str) -> Result<T> {
        let segs = self.object(name, Some(sub))?;
        self.client
            .request(self.request(Method::GET, &segs, &[]))
            .await
    }

    /// POST to a subresource (`binding`, `eviction`).
    pub async fn create_subresource<B: Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        sub: &str,
        pp: &PostParams,
        body: &B,
    ) -> Result<T> {
        let segs = self.object(name, Some(sub))?;
        let req = self.request(Method::POST, &segs, &pp.query()).json(body)?;
        self.client.request(req).await
    }

    /// PUT an object (`sub` None) or one of its subresources.
    pub async fn replace_subresource<B: Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        sub: Option<&str>,
        pp: &PostParams,
        body: &B,
    ) -> Result<T> {
        let segs = self.object(name, sub)?;
        let req = self.request(Method::PUT, &segs, &pp.query()).json(body)?;
        self.client.request(req).await
    }

    /// PATCH an object (`sub` None) or one of its subresources.
    pub async fn patch_subresource<T: DeserializeOwned>(
        &self,
        name: &str,
        sub: Option<&str>,
        pp: &PatchParams,
        patch: &Patch,
    ) -> Result<T> {
        let segs = self.object(name, sub)?;
        let bytes = serde_json::to_vec(patch.body()).map_err(|source| Error::Decode {
            what: "a patch".into(),
            path: String::new(),
            source,
        })?;
        let req = self
            .request(Method::PATCH, &segs, &pp.query())
            .body(patch.content_type(), bytes);
        self.client.request(req).await
    }
}

impl Api<Pod> {
    /// Bind a pod to a node (`POST pods/{name}/binding`), as the scheduler
    /// does. 409 Conflict when the pod is already bound.
    pub async fn create_binding(&self, pod_name: &str, node_name: &str) -> Result<Status> {
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod_name, "namespace": self.namespace.as_deref().unwrap_or_default()},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        });
        self.create_subresource(pod_name, "binding", &PostParams::default(), &body)
            .await
    }

    /// A container's log (`pods/{name}/log`), all at once.
    pub async fn logs(&self, pod_name: &str, lp: &LogParams) -> Result<String> {
        let segs = self.object(pod_name, Some("log"))?;
        let req = self.request(Method::GET, &segs, &lp.query());
        self.client.request_text(req).await
    }

    /// A container's log as a stream of chunks (for `follow`).
    pub async fn log_stream(&self, pod_name: &str, lp: &LogParams) -> Result<ByteStream> {
        let segs = self.object(pod_name, Some("log"))?;
        let req = self.request(Method::GET, &segs, &lp.query());
        self.client.request_stream(req).await
    }
}

/// A delete's answer is a `Status` or the object.
fn object_or_status<K: DeserializeOwned>(v: Value) -> Result<Deleted<K>> {
    if v.get("kind").and_then(Value::as_str) == Some("Status") {
        let status = serde_json::from_value(v).map_err(|source| Error::Decode {
            what: "the Status of a delete".into(),
            path: String::new(),
            source,
        })?;
        return Ok(Deleted::Status(Box::new(status)));
    }
    let obj = serde_path_to_error::deserialize(v).map_err(|e| Error::Decode {
        what: "the object a delete returned".into(),
        path: e.path().to_string(),
        source: e.into_inner(),
    })?;
    Ok(Deleted::Object(obj))
}

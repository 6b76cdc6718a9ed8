//! The HTTP face of the apiserver: routing, and the dispatch of each
//! request to its verb.

mod body;
mod crud;
mod discovery;
mod fieldmanager;
mod list;
mod logs;
mod openapi;
mod params;
mod patch;
mod path;
mod subresources;
mod table;
mod watch;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Extension;
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

use crate::auth::UserInfo;
use crate::error::{ApiError, ApiResult};
use crate::registry::Handler;
use crate::server::ApiServer;

use self::crud::Half;
use self::params::Params;
use self::patch::PatchType;
use self::path::{Route, Target};

pub use body::MAX_BODY_BYTES;

/// The router serving the whole API.
pub fn router(server: Arc<ApiServer>) -> Router {
    let oa = openapi::OpenApi::new(&server.registry);
    let (oa2, oa3, oa3gv) = (oa.clone(), oa.clone(), oa);
    Router::new()
        .route(
            "/openapi/v2",
            get(move |h: HeaderMap| async move { oa2.v2(&h) }),
        )
        .route(
            "/openapi/v3",
            get(move |h: HeaderMap| async move { oa3.v3_index(&h) }),
        )
        .route(
            "/openapi/v3/{*gv}",
            get(
                move |Path(gv): Path<String>, uri: Uri, h: HeaderMap| async move {
                    oa3gv.v3(&gv, &uri, &h)
                },
            ),
        )
        .route("/version", get(|| async { json(discovery::version()) }))
        .route("/version/", get(|| async { json(discovery::version()) }))
        .route("/healthz", get(health))
        .route("/readyz", get(health))
        .route("/livez", get(health))
        .route("/api", get(|| async { json(discovery::core_versions()) }))
        .route("/api/", get(|| async { json(discovery::core_versions()) }))
        .route("/apis", get(groups))
        .route("/apis/", get(groups))
        .route("/api/{*rest}", any(dispatch_core))
        .route("/apis/{*rest}", any(dispatch_groups))
        .fallback(|uri: Uri| async move { ApiError::no_route(uri.path()).into_response() })
        .layer(DefaultBodyLimit::disable())
        // Innermost last: a request meets authenticate, then the limits,
        // then authorize (upstream's handler-chain order).
        .layer(middleware::from_fn_with_state(
            server.clone(),
            crate::auth::authorize,
        ))
        .layer(middleware::from_fn_with_state(
            server.clone(),
            crate::limits::enforce,
        ))
        .layer(middleware::from_fn_with_state(
            server.clone(),
            crate::auth::authenticate,
        ))
        .with_state(server)
}

async fn health(State(server): State<Arc<ApiServer>>) -> Response {
    match server.objects.storage().current_revision().await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("storage: {e}")).into_response(),
    }
}

async fn groups(State(server): State<Arc<ApiServer>>) -> Response {
    json(discovery::groups(&server.registry))
}

fn json(value: Value) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&value).unwrap_or_default(),
    )
        .into_response()
}

fn respond(result: ApiResult<Value>, created: bool) -> Response {
    match result {
        Ok(v) => {
            let mut r = json(v);
            if created {
                *r.status_mut() = StatusCode::CREATED;
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

/// The response to a create, update or patch: the object with its
/// field-validation warnings.
fn written(result: ApiResult<fieldmanager::Written>) -> Response {
    match result {
        Ok(w) => w.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn dispatch_core(
    State(server): State<Arc<ApiServer>>,
    Extension(user): Extension<UserInfo>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    dispatch(server, user, true, method, uri, headers, body).await
}

async fn dispatch_groups(
    State(server): State<Arc<ApiServer>>,
    Extension(user): Extension<UserInfo>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    dispatch(server, user, false, method, uri, headers, body).await
}

async fn dispatch(
    server: Arc<ApiServer>,
    user: UserInfo,
    core: bool,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let full = uri.path().to_string();
    let rest = full
        .strip_prefix(if core { "/api/" } else { "/apis/" })
        .unwrap_or("");
    let route = match path::parse(&server.registry, core, rest, &full) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let target = match route {
        Route::Group { group } if method == Method::GET => {
            return respond(discovery::group(&server.registry, &group), false)
        }
        Route::GroupVersion { group, version } if method == Method::GET => {
            return respond(
                discovery::resources(&server.registry, &group, &version),
                false,
            )
        }
        Route::Resource(t) => t,
        _ => {
            return ApiError::method_not_allowed(format!("{method} is not allowed on {full}"))
                .into_response()
        }
    };
    let params = match Params::parse(uri.query()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let raw = match body::read(&headers, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let started = std::time::Instant::now();
    let response = serve(server, &user, &method, target, &headers, &raw, params).await;
    tracing::debug!(%method, path = %full, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

async fn serve(
    server: Arc<ApiServer>,
    user: &UserInfo,
    method: &Method,
    target: Target,
    headers: &HeaderMap,
    raw: &Bytes,
    params: Params,
) -> Response {
    let Target {
        handler,
        namespace,
        name,
        subresource,
    } = target;
    let s = server.as_ref();
    let ns = namespace.as_str();
    let call = Call {
        server: s,
        user,
        handler: &handler,
        namespace: ns,
        headers,
        raw,
        params: &params,
    };
    match (name.as_deref(), subresource.as_deref(), method) {
        (None, None, &Method::GET) if params.is_watch() => {
            let tables = match table::requested(headers, &params) {
                Ok(t) => t,
                Err(e) => return e.into_response(),
            };
            match watch::watch(server.clone(), handler.clone(), ns, &params, tables).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        }
        (None, None, &Method::GET) => {
            let result = match table::requested(headers, &params) {
                Ok(tables) => crud::list_objects(s, &handler, ns, &params)
                    .await
                    .map(|list| match tables {
                        Some(options) => table::of_list(&handler, list, &options),
                        None => list,
                    }),
                Err(e) => Err(e),
            };
            respond(result, false)
        }
        (None, None, &Method::POST) if subresources::records_requester(&handler) => {
            written(subresources::create_as_requester(&call).await)
        }
        (None, None, &Method::POST) => written(crud::create(&call).await),
        (None, None, &Method::DELETE) => {
            let result = match crud::delete_request(headers, raw, &params) {
                Ok(req) => crud::delete_collection(s, &handler, ns, &req, &params).await,
                Err(e) => Err(e),
            };
            respond(result, false)
        }
        (Some(name), None | Some("status") | Some("approval"), &Method::GET) => {
            let result = match table::requested(headers, &params) {
                Ok(tables) => crud::get(s, &handler, ns, name)
                    .await
                    .map(|object| match tables {
                        Some(options) => table::of_object(&handler, &object, &options),
                        None => object,
                    }),
                Err(e) => Err(e),
            };
            respond(result, false)
        }
        (Some(name), None, &Method::PUT) => written(crud::replace(&call, name, Half::Main).await),
        (Some(name), None, &Method::PATCH) => written(crud::patch(&call, name, Half::Main).await),
        (Some(name), None, &Method::DELETE) => {
            let result = match crud::delete_request(headers, raw, &params) {
                Ok(req) => crud::delete(s, &handler, ns, name, &req).await,
                Err(e) => Err(e),
            };
            // 200 with the object, whether it is gone or only marked for
            // deletion (graceful pods, finalizers), as upstream answers.
            respond(result.map(|d| d.object), false)
        }
        (Some(name), Some("status"), &Method::PUT) => {
            written(crud::replace(&call, name, Half::Status).await)
        }
        (Some(name), Some("status"), &Method::PATCH) => {
            written(crud::patch(&call, name, Half::Status).await)
        }
        (Some(name), Some("scale"), &Method::GET) => {
            respond(subresources::get_scale(&call, name).await, false)
        }
        (Some(name), Some("scale"), &Method::PUT) => {
            respond(subresources::update_scale(&call, name, None).await, false)
        }
        (Some(name), Some("scale"), &Method::PATCH) => {
            let result = match PatchType::from_content_type(&body::content_type(headers)) {
                Ok(pt) => subresources::update_scale(&call, name, Some(pt)).await,
                Err(e) => Err(e),
            };
            respond(result, false)
        }
        (Some(name), Some("approval"), &Method::PUT) => respond(
            subresources::update_approval(&call, name, false).await,
            false,
        ),
        (Some(name), Some("approval"), &Method::PATCH) => respond(
            subresources::update_approval(&call, name, true).await,
            false,
        ),
        (Some(name), Some("log"), &Method::GET) => logs::pod_log(&call, name).await,
        (Some(name), Some("binding"), &Method::POST) => {
            respond(subresources::bind(&call, name).await, true)
        }
        (Some(name), Some("finalize"), &Method::PUT) => {
            respond(subresources::finalize_namespace(&call, name).await, false)
        }
        (_, sub, _) => ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {}{})",
            handler.info().plural,
            sub.map(|s| format!("/{s}")).unwrap_or_default()
        ))
        .into_response(),
    }
}

/// One request on a resource, as the verb handlers see it.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub server: &'a ApiServer,
    /// Who asked (authenticated).
    pub user: &'a UserInfo,
    pub handler: &'a Handler,
    /// Namespace from the path (empty: cluster-scoped or all namespaces).
    pub namespace: &'a str,
    pub headers: &'a HeaderMap,
    pub raw: &'a Bytes,
    pub params: &'a Params,
}

impl Call<'_> {
    /// The body as a JSON or YAML document.
    pub fn body(&self) -> ApiResult<Value> {
        body::decode(self.headers, self.raw)
    }

    /// The body as a patch: its type (from the content type) and document.
    pub fn patch(&self) -> ApiResult<(PatchType, Value)> {
        let patch_type = PatchType::from_content_type(&body::content_type(self.headers))?;
        Ok((patch_type, body::decode_json(self.raw)?))
    }
}

//! From `-f` arguments to objects ready to send: load the manifests
//! (reporting every file or document that could not be read), then find
//! each object's resource and namespace.

use serde_json::Value;
use tug_client::{ApiResource, DynamicApi};

use super::context::Ctx;
use super::error::{object_problem, usage, CtlError, Problems, Result};
use crate::cli::FileArgs;
use crate::manifest::{self, Manifest};

/// Read what `-f` names. Problems reading it are reported (one line
/// each) and the objects that could be read are returned.
pub fn load(files: &FileArgs, problems: &mut Problems) -> Result<Vec<Manifest>> {
    if files.filenames.is_empty() {
        return Err(usage("must specify one of -f and -k"));
    }
    let loaded = manifest::load(&files.filenames, files.recursive, &mut std::io::stdin());
    for e in &loaded.errors {
        problems.report(e);
    }
    if loaded.manifests.is_empty() && loaded.errors.is_empty() {
        return Err(usage("no objects passed to the command"));
    }
    Ok(loaded.manifests)
}

/// One manifest object placed in the cluster: its resource, namespace
/// and name, and the object with its namespace filled in.
pub struct Placed<'m> {
    pub manifest: &'m Manifest,
    pub resource: ApiResource,
    /// `None` for a cluster-scoped kind.
    pub namespace: Option<String>,
    pub name: String,
    pub object: Value,
}

impl Placed<'_> {
    /// The API for this object's collection.
    pub fn api(&self, ctx: &Ctx) -> DynamicApi {
        ctx.api(&self.resource, self.namespace.as_deref())
    }

    /// `deployment.apps/web`, as result lines start.
    pub fn display_name(&self) -> String {
        format!("{}/{}", self.resource.kind_group(), self.name)
    }
}

/// Find `m`'s resource through discovery and its namespace: the
/// manifest's own, else `-n` or the context's. A manifest naming another
/// namespace than an explicit `-n` is an error, as in kubectl.
pub async fn place<'m>(ctx: &Ctx, m: &'m Manifest, need_name: bool) -> Result<Placed<'m>> {
    let resource = ctx
        .discovery()
        .await?
        .resolve_kind(m.api_version(), m.kind())?
        .resource
        .clone();
    let name = m.name().unwrap_or_default().to_string();
    if need_name && name.is_empty() {
        return Err(usage("resource name may not be empty"));
    }
    let mut object = m.object.clone();
    let namespace = if resource.namespaced {
        let ns = match m.namespace() {
            Some(ns) if ctx.explicit_namespace && ns != ctx.namespace => {
                return Err(usage(format!(
                    "the namespace from the provided object \"{ns}\" does not match the namespace \"{}\". \
                     You must pass '--namespace={ns}' to perform this operation.",
                    ctx.namespace
                )))
            }
            Some(ns) => ns.to_string(),
            None => ctx.namespace.clone(),
        };
        if let Some(meta) = object["metadata"].as_object_mut() {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
        Some(ns)
    } else {
        None
    };
    Ok(Placed {
        manifest: m,
        resource,
        namespace,
        name,
        object,
    })
}

/// Report that `m` failed with `e` (one line naming its origin) and
/// carry on — unless the server cannot be reached, which stops the lot.
pub fn failed(problems: &mut Problems, m: &Manifest, e: CtlError) -> Result<()> {
    if e.is_transport() {
        return Err(e);
    }
    problems.report(m.error_line(object_problem(&e)));
    Ok(())
}

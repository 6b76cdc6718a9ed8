//! `get`: list or fetch objects and print them as kubectl does — the
//! kind's table (`-o wide`, `--show-labels`, `-A`), or `-o
//! yaml|json|name|jsonpath=...`. `-w`/`--watch-only` hand over to
//! [`super::watch`].

use chrono::Utc;
use serde_json::Value;
use tug_client::{DiscoveredResource, ListParams};

use super::context::Ctx;
use super::error::{client_error_line, usage, Problems, Result};
use super::target::{self, Target};
use super::{emit, watch};
use crate::cli::GetArgs;
use crate::printers::{self, OutputFormat, PrintOptions, Shape};

/// Run `get`.
pub async fn run(ctx: &Ctx, args: &GetArgs) -> Result<()> {
    let format: OutputFormat = args.output.parse().map_err(usage)?;
    let targets = target::resolve(ctx, &args.args).await?;
    let list_params = list_params(args.selector.as_deref(), args.field_selector.as_deref());
    if args.watch || args.watch_only {
        return watch::run(ctx, args, &targets, format, list_params).await;
    }
    let mut problems = Problems::default();
    let mut found: Vec<(DiscoveredResource, Vec<Value>)> = Vec::new();
    for t in &targets {
        let objects = fetch(ctx, t, &list_params, args, &mut problems).await?;
        found.push((t.resource.clone(), objects));
    }
    let single = matches!(targets.as_slice(), [t] if t.names.len() == 1);
    let listing = targets.iter().any(|t| t.names.is_empty());
    let base = PrintOptions {
        with_namespace: false,
        show_labels: args.show_labels,
        with_kind: targets.len() > 1,
        no_headers: args.no_headers,
    };
    let now = Utc::now();
    let text = match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let tables: Vec<String> = found
                .iter()
                .filter(|(_, objects)| !objects.is_empty())
                .map(|(resource, objects)| {
                    let options = PrintOptions {
                        with_namespace: args.all_namespaces && resource.resource.namespaced,
                        ..base.clone()
                    };
                    printers::print(objects, Shape::List, &format, &options, now)
                })
                .collect::<std::result::Result<_, _>>()
                .map_err(usage)?;
            tables.join("\n")
        }
        _ => {
            let objects: Vec<Value> = found.into_iter().flat_map(|(_, o)| o).collect();
            if single && objects.is_empty() {
                String::new()
            } else {
                let shape = if single { Shape::Single } else { Shape::List };
                printers::print(&objects, shape, &format, &base, now).map_err(usage)?
            }
        }
    };
    emit(&text);
    let table = matches!(format, OutputFormat::Table | OutputFormat::Wide);
    if table && text.is_empty() && listing && !problems.any() {
        let namespaced = targets.iter().any(|t| t.resource.resource.namespaced);
        let ns = (namespaced && !args.all_namespaces).then_some(ctx.namespace.as_str());
        eprintln!("{}", printers::no_resources_message(ns));
    }
    problems.finish()
}

/// `-l` and `--field-selector` as list parameters.
pub fn list_params(labels: Option<&str>, fields: Option<&str>) -> ListParams {
    ListParams {
        label_selector: labels.map(str::to_string),
        field_selector: fields.map(str::to_string),
        ..Default::default()
    }
}

/// The objects of one target: its named objects (a missing one is a
/// reported problem unless `--ignore-not-found`), or a list.
async fn fetch(
    ctx: &Ctx,
    t: &Target,
    params: &ListParams,
    args: &GetArgs,
    problems: &mut Problems,
) -> Result<Vec<Value>> {
    let resource = &t.resource.resource;
    if t.names.is_empty() {
        let api = ctx.api(resource, ctx.list_namespace(args.all_namespaces));
        return list_all(&api, params).await;
    }
    let api = ctx.api_here(resource);
    let mut objects = Vec::new();
    for name in &t.names {
        match api.get(name).await {
            Ok(object) => objects.push(with_type(object, resource)),
            Err(e) if e.is_not_found() && args.ignore_not_found => {}
            Err(e) if e.is_not_found() => problems.report(client_error_line(&e)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(objects)
}

/// Every object `params` selects, page by page, each with its
/// `apiVersion` and `kind`.
pub async fn list_all(api: &tug_client::DynamicApi, params: &ListParams) -> Result<Vec<Value>> {
    Ok(list_with_version(api, params).await?.0)
}

/// [`list_all`], plus the list's resourceVersion (where a watch goes on from).
pub async fn list_with_version(
    api: &tug_client::DynamicApi,
    params: &ListParams,
) -> Result<(Vec<Value>, String)> {
    let mut params = params.clone();
    params.limit = Some(500);
    let mut objects = Vec::new();
    loop {
        let list = api.list(&params).await?;
        let resource = api.resource();
        objects.extend(list.items.into_iter().map(|o| with_type(o, resource)));
        if list.metadata.continue_.is_empty() {
            return Ok((objects, list.metadata.resource_version));
        }
        let token = list.metadata.continue_;
        params.continue_token = Some(token);
    }
}

/// Fill in `apiVersion` and `kind` when the server left them out.
pub fn with_type(mut object: Value, resource: &tug_client::ApiResource) -> Value {
    if let Some(map) = object.as_object_mut() {
        let missing = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
        if missing(map.get("kind")) {
            map.insert("kind".into(), Value::String(resource.kind.clone()));
        }
        if missing(map.get("apiVersion")) {
            map.insert("apiVersion".into(), Value::String(resource.api_version()));
        }
    }
    object
}

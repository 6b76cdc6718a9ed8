//! Pod volumes: names, exactly one source, and each source's own rules.

use std::collections::BTreeSet;

use super::downward::{object_field_selector, resource_field_selector, VOLUME_FIELD_PATHS};
use crate::core::pod::volume::{DownwardApiVolumeFile, KeyToPath, Volume};
use crate::status::{FieldError, FieldErrors};
use crate::validation;

const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];
const FILE_MODE_MESSAGE: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Validate `volumes` at `path` (`spec.volumes`). Returns the errors and
/// the names of the volumes that are valid, which mounts may refer to.
pub(super) fn volumes<'a>(path: &str, volumes: &'a [Volume]) -> (FieldErrors, BTreeSet<&'a str>) {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let np = format!("{p}.name");
        let mut el = source(&p, v);
        if v.name.is_empty() {
            el.push(FieldError::required(&np, ""));
        } else {
            el.extend(validation::dns1123_label(&np, &v.name));
        }
        if names.contains(v.name.as_str()) {
            el.push(FieldError::duplicate(&np, &v.name));
        }
        if el.is_empty() {
            names.insert(v.name.as_str());
        } else {
            errs.extend(el);
        }
    }
    (errs, names)
}

fn source(p: &str, v: &Volume) -> FieldErrors {
    let sources = v.source_names();
    let Some(first) = sources.first() else {
        return vec![FieldError::required(p, "must specify a volume type")];
    };
    let mut errs: FieldErrors = sources[1..]
        .iter()
        .map(|s| {
            FieldError::forbidden(
                &format!("{p}.{s}"),
                "may not specify more than 1 volume type",
            )
        })
        .collect();
    let sp = format!("{p}.{first}");
    match *first {
        "hostPath" => {
            if let Some(hp) = &v.host_path {
                if hp.path.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.path"), ""));
                } else {
                    errs.extend(validation::absolute_path(&format!("{sp}.path"), &hp.path));
                }
                if let Some(t) = &hp.type_ {
                    if !HOST_PATH_TYPES.contains(&t.as_str()) {
                        errs.push(FieldError::not_supported(
                            &format!("{sp}.type"),
                            t,
                            HOST_PATH_TYPES,
                        ));
                    }
                }
            }
        }
        "emptyDir" => {
            if let Some(ed) = &v.empty_dir {
                if let Some(limit) = &ed.size_limit {
                    errs.extend(validation::resource_quantity(
                        &format!("{sp}.sizeLimit"),
                        limit,
                    ));
                }
                if !matches!(ed.medium.as_str(), "" | "Memory" | "HugePages")
                    && !ed.medium.starts_with("HugePages-")
                {
                    errs.push(FieldError::not_supported(
                        &format!("{sp}.medium"),
                        &ed.medium,
                        &["", "Memory", "HugePages"],
                    ));
                }
            }
        }
        "secret" => {
            if let Some(s) = &v.secret {
                if s.secret_name.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.secretName"), ""));
                }
                errs.extend(mode(&format!("{sp}.defaultMode"), s.default_mode));
                errs.extend(items(&format!("{sp}.items"), &s.items));
            }
        }
        "configMap" => {
            if let Some(cm) = &v.config_map {
                if cm.name.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.name"), ""));
                }
                errs.extend(mode(&format!("{sp}.defaultMode"), cm.default_mode));
                errs.extend(items(&format!("{sp}.items"), &cm.items));
            }
        }
        "persistentVolumeClaim" => {
            if let Some(pvc) = &v.persistent_volume_claim {
                if pvc.claim_name.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.claimName"), ""));
                }
            }
        }
        "downwardAPI" => {
            if let Some(d) = &v.downward_api {
                errs.extend(mode(&format!("{sp}.defaultMode"), d.default_mode));
                for (i, f) in d.items.iter().enumerate() {
                    errs.extend(downward_file(&format!("{sp}.items[{i}]"), f));
                }
            }
        }
        "projected" => {
            if let Some(pr) = &v.projected {
                errs.extend(mode(&format!("{sp}.defaultMode"), pr.default_mode));
                for (i, src) in pr.sources.iter().enumerate() {
                    let srcp = format!("{sp}.sources[{i}]");
                    let mut n = 0;
                    for (kp, name) in [(&src.secret, "secret"), (&src.config_map, "configMap")] {
                        if let Some(kp) = kp {
                            n += 1;
                            if kp.name.is_empty() {
                                errs.push(FieldError::required(&format!("{srcp}.{name}.name"), ""));
                            }
                            errs.extend(items(&format!("{srcp}.{name}.items"), &kp.items));
                        }
                    }
                    if let Some(d) = &src.downward_api {
                        n += 1;
                        for (j, f) in d.items.iter().enumerate() {
                            errs.extend(downward_file(
                                &format!("{srcp}.downwardAPI.items[{j}]"),
                                f,
                            ));
                        }
                    }
                    if let Some(t) = &src.service_account_token {
                        n += 1;
                        let tp = format!("{srcp}.serviceAccountToken");
                        let exp = t.expiration_seconds.unwrap_or(3600);
                        if exp < 600 {
                            errs.push(FieldError::invalid(
                                &format!("{tp}.expirationSeconds"),
                                exp,
                                "may not specify a duration less than 10 minutes",
                            ));
                        } else if exp > 1 << 32 {
                            errs.push(FieldError::invalid(
                                &format!("{tp}.expirationSeconds"),
                                exp,
                                "may not specify a duration larger than 2^32 seconds",
                            ));
                        }
                        if t.path.is_empty() {
                            errs.push(FieldError::required(&format!("{tp}.path"), ""));
                        }
                    }
                    if n > 1 {
                        errs.push(FieldError::forbidden(
                            &srcp,
                            "may not specify more than 1 volume type per source",
                        ));
                    }
                }
            }
        }
        "nfs" => {
            if let Some(nfs) = &v.nfs {
                if nfs.server.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.server"), ""));
                }
                if nfs.path.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.path"), ""));
                } else {
                    errs.extend(validation::absolute_path(&format!("{sp}.path"), &nfs.path));
                }
            }
        }
        "csi" => {
            if let Some(csi) = &v.csi {
                if csi.driver.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.driver"), ""));
                }
            }
        }
        "image" => {
            if let Some(img) = &v.image {
                if img.reference.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.reference"), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

fn mode(field: &str, mode: Option<i32>) -> FieldErrors {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => {
            vec![FieldError::invalid(field, m, FILE_MODE_MESSAGE)]
        }
        _ => Vec::new(),
    }
}

/// A relative path below the volume root that does not start with `..`.
fn local_non_reserved_path(field: &str, path: &str) -> FieldErrors {
    let mut errs = validation::local_descending_path(field, path);
    if path.starts_with("..") {
        errs.push(FieldError::invalid(field, path, "must not start with '..'"));
    }
    errs
}

fn items(path: &str, items: &[KeyToPath]) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, kp) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if kp.key.is_empty() {
            errs.push(FieldError::required(&format!("{p}.key"), ""));
        }
        if kp.path.is_empty() {
            errs.push(FieldError::required(&format!("{p}.path"), ""));
        } else {
            errs.extend(local_non_reserved_path(&format!("{p}.path"), &kp.path));
        }
        errs.extend(mode(&format!("{p}.mode"), kp.mode));
    }
    errs
}

fn downward_file(p: &str, f: &DownwardApiVolumeFile) -> FieldErrors {
    let mut errs = Vec::new();
    if f.path.is_empty() {
        errs.push(FieldError::required(&format!("{p}.path"), ""));
    } else {
        errs.extend(local_non_reserved_path(&format!("{p}.path"), &f.path));
    }
    match (&f.field_ref, &f.resource_field_ref) {
        (Some(fr), rr) => {
            errs.extend(object_field_selector(
                &format!("{p}.fieldRef"),
                fr,
                VOLUME_FIELD_PATHS,
            ));
            if rr.is_some() {
                errs.push(FieldError::invalid(
                    p,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(rr)) => errs.extend(resource_field_selector(
            &format!("{p}.resourceFieldRef"),
            rr,
            true,
        )),
        (None, None) => errs.push(FieldError::required(
            p,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    errs.extend(mode(&format!("{p}.mode"), f.mode));
    errs
}

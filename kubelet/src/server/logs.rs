//! `GET /containerLogs/{ns}/{pod}/{container}`: find which instance of the
//! container is meant (the current one or, with `previous`, the one
//! before), and stream its log file — to the end, or with `follow` for as
//! long as the instance runs.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;
use tug_api::core::{ContainerStatus, Pod};
use tug_client::Api;

use super::cri_log::{tail_offset, LogFormatter, LogOptions};
use super::error::ServerError;
use crate::node::NodeCtx;

/// How often a follow looks for new output once it has read all there is.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// How much of the file is read at once.
const CHUNK: usize = 32 * 1024;

/// The query of a log request, as the kubelet (and the apiserver's
/// `pods/log`) spell it.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    /// `true` to keep streaming while the container runs.
    pub follow: Option<String>,
    /// `true` for the previous, terminated instance.
    pub previous: Option<String>,
    /// `true` to prefix every line with its timestamp.
    pub timestamps: Option<String>,
    /// The last N lines (negative: all).
    pub tail_lines: Option<String>,
    /// Lines of the last N seconds.
    pub since_seconds: Option<String>,
    /// Lines from this RFC 3339 time on.
    pub since_time: Option<String>,
    /// At most N bytes.
    pub limit_bytes: Option<String>,
}

fn flag(name: &str, v: &Option<String>) -> Result<bool, ServerError> {
    match v.as_deref() {
        None | Some("false" | "0" | "False") => Ok(false),
        Some("" | "true" | "1" | "True") => Ok(true),
        Some(other) => Err(ServerError::bad_request(format!(
            "invalid {name} value {other:?}: must be true or false"
        ))),
    }
}

fn number(name: &str, v: &Option<String>) -> Result<Option<i64>, ServerError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                ServerError::bad_request(format!("invalid {name} value {s:?}: must be an integer"))
            })
        })
        .transpose()
}

impl LogQuery {
    /// Whether the previous instance is asked for.
    pub fn previous(&self) -> Result<bool, ServerError> {
        flag("previous", &self.previous)
    }

    /// The options for reading the file, `now` being the request's time.
    pub fn options(&self, now: DateTime<Utc>) -> Result<LogOptions, ServerError> {
        let since_seconds = number("sinceSeconds", &self.since_seconds)?;
        if since_seconds.is_some_and(|s| s < 1) {
            return Err(ServerError::bad_request(
                "sinceSeconds must be greater than 0",
            ));
        }
        let since_time = match self.since_time.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(t) => Some(
                DateTime::parse_from_rfc3339(t)
                    .map_err(|_| {
                        ServerError::bad_request(format!(
                            "invalid sinceTime value {t:?}: must be RFC 3339"
                        ))
                    })?
                    .with_timezone(&Utc),
            ),
        };
        if since_seconds.is_some() && since_time.is_some() {
            return Err(ServerError::bad_request(
                "at most one of sinceTime or sinceSeconds may be specified",
            ));
        }
        let limit_bytes = number("limitBytes", &self.limit_bytes)?;
        if limit_bytes.is_some_and(|l| l < 1) {
            return Err(ServerError::bad_request(
                "limitBytes must be greater than 0",
            ));
        }
        Ok(LogOptions {
            follow: flag("follow", &self.follow)?,
            timestamps: flag("timestamps", &self.timestamps)?,
            since: since_time.or_else(|| since_seconds.map(|s| now - chrono::Duration::seconds(s))),
            limit_bytes: limit_bytes.map(|l| l as u64),
            tail_lines: number("tailLines", &self.tail_lines)?
                .and_then(|n| usize::try_from(n).ok()),
        })
    }
}

/// The instance whose log is asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The pod's UID.
    pub uid: String,
    /// The container's name.
    pub container: String,
    /// The instance's attempt number.
    pub attempt: u32,
}

/// Which instance of `container` of `pod` a request means, from the
/// pod's status as this kubelet reported it: the one its `containerID`
/// names (`restartCount` counts the instances before it), or with
/// `previous` the one `lastState.terminated` names. `instance_attempt`
/// tells the attempt of a runtime container id, where the runtime still
/// holds it.
pub fn choose_instance(
    pod: &Pod,
    container: &str,
    previous: bool,
    instance_attempt: impl Fn(&str) -> Option<u32>,
) -> Result<Target, ServerError> {
    let pod_name = &pod.metadata.name;
    let known = pod
        .spec
        .containers
        .iter()
        .chain(&pod.spec.init_containers)
        .any(|c| c.name == container);
    if !known {
        return Err(ServerError::not_found(format!(
            "container {container:?} not found in pod {pod_name:?}"
        )));
    }
    let status: Option<&ContainerStatus> = pod
        .status
        .container_statuses
        .iter()
        .chain(&pod.status.init_container_statuses)
        .find(|s| s.name == container);
    let restarts = status.map_or(0, |s| s.restart_count.max(0) as u32);
    let attempt = if previous {
        let id = status
            .and_then(|s| s.last_state.terminated.as_ref())
            .map(|t| t.container_id.as_str())
            .filter(|id| !id.is_empty());
        match id {
            Some(id) => instance_attempt(id).unwrap_or(restarts.saturating_sub(1)),
            None => {
                return Err(ServerError::bad_request(format!(
                    "previous terminated container {container:?} in pod {pod_name:?} not found"
                )))
            }
        }
    } else {
        match status.filter(|s| !s.container_id.is_empty()) {
            Some(s) => instance_attempt(&s.container_id).unwrap_or(restarts),
            None => {
                let reason = status
                    .and_then(|s| s.state.waiting.as_ref())
                    .map(|w| w.reason.as_str())
                    .filter(|r| !r.is_empty())
                    .unwrap_or("ContainerCreating");
                return Err(ServerError::bad_request(format!(
                    "container {container:?} in pod {pod_name:?} is waiting to start: {reason}"
                )));
            }
        }
    };
    Ok(Target {
        uid: pod.metadata.uid.clone(),
        container: container.to_string(),
        attempt,
    })
}

/// The pod `ns/name` if it is bound to this node.
async fn bound_pod(ctx: &NodeCtx, ns: &str, name: &str) -> Result<Pod, ServerError> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let pod = api
        .get_opt(name)
        .await
        .map_err(|e| ServerError::unavailable(format!("cannot read pod {ns}/{name}: {e}")))?;
    match pod {
        Some(p) if p.spec.node_name == ctx.config.name => Ok(p),
        _ => Err(ServerError::not_found(format!(
            "pod {name:?} in namespace {ns:?} not found on node {:?}",
            ctx.config.name
        ))),
    }
}

/// Resolve a log request to the instance and its log file.
pub async fn resolve(
    ctx: &NodeCtx,
    ns: &str,
    pod_name: &str,
    container: &str,
    previous: bool,
) -> Result<(Target, PathBuf), ServerError> {
    let pod = bound_pod(ctx, ns, pod_name).await?;
    let held = ctx.runtime.pod_status(&pod.metadata.uid).await;
    let target = choose_instance(&pod, container, previous, |id| {
        held.as_ref()?
            .containers
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.attempt)
    })?;
    let path = ctx
        .runtime
        .container_log(&target.uid, container, target.attempt)
        .ok_or_else(|| {
            ServerError::not_found(format!(
                "the container runtime keeps no log of container {container:?} in pod {pod_name:?}"
            ))
        })?;
    Ok((target, path))
}

/// Whether the instance still runs.
async fn running(ctx: &NodeCtx, t: &Target) -> bool {
    ctx.runtime.pod_status(&t.uid).await.is_some_and(|p| {
        p.containers
            .iter()
            .any(|c| c.name == t.container && c.attempt == t.attempt && c.is_running())
    })
}

/// Stream the log of `target` from `path` into `tx` as `opts` say, until
/// the end of the file (or, following, until the instance stopped and its
/// file is drained), the byte limit, or the receiver hanging up.
pub async fn stream(
    ctx: Arc<NodeCtx>,
    target: Target,
    path: PathBuf,
    opts: LogOptions,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
) {
    if let Err(e) = pump(&ctx, &target, &path, opts, &tx).await {
        tracing::debug!(path = %path.display(), error = %e, "a log stream ended early");
        let _ = tx.send(Err(e)).await;
    }
}

async fn pump(
    ctx: &NodeCtx,
    target: &Target,
    path: &Path,
    opts: LogOptions,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> std::io::Result<()> {
    let follow = opts.follow;
    let tail = opts.tail_lines;
    let mut formatter = LogFormatter::new(opts);
    // The file appears with the instance's first output: a follow waits
    // for it while the instance runs.
    let mut file = loop {
        match tokio::fs::File::open(path).await {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !follow || !running(ctx, target).await || wait(tx).await.is_err() {
                    return Ok(());
                }
            }
            Err(e) => return Err(e),
        }
    };
    if let Some(n) = tail {
        let p = path.to_path_buf();
        let start = tokio::task::spawn_blocking(move || {
            tail_offset(std::io::BufReader::new(std::fs::File::open(p)?), n)
        })
        .await
        .map_err(std::io::Error::other)??;
        file.seek(SeekFrom::Start(start)).await?;
    }
    let mut buf = vec![0u8; CHUNK];
    let mut stopped = false;
    loop {
        let n = file.read(&mut buf).await?;
        if n > 0 {
            let out = formatter.feed(&buf[..n]);
            if !out.is_empty() && tx.send(Ok(Bytes::from(out))).await.is_err() {
                return Ok(()); // the client went away
            }
            if formatter.done() {
                return Ok(());
            }
            continue;
        }
        // At the end of what is written so far.
        if !follow || stopped {
            return Ok(());
        }
        if !running(ctx, target).await {
            // Read once more: what it wrote before it stopped.
            stopped = true;
            continue;
        }
        if wait(tx).await.is_err() {
            return Ok(());
        }
    }
}

/// Wait a poll period, or fail at once when the receiver hangs up.
async fn wait(tx: &mpsc::Sender<std::io::Result<Bytes>>) -> Result<(), ()> {
    tokio::select! {
        _ = tokio::time::sleep(FOLLOW_POLL) => Ok(()),
        _ = tx.closed() => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::{
        Container, ContainerState, ContainerStateTerminated, ContainerStateWaiting,
    };

    fn pod(statuses: Vec<ContainerStatus>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = "web".into();
        p.metadata.uid = "uid-1".into();
        p.spec.containers = vec![
            Container {
                name: "app".into(),
                ..Default::default()
            },
            Container {
                name: "side".into(),
                ..Default::default()
            },
        ];
        p.status.container_statuses = statuses;
        p
    }

    fn restarted_twice() -> ContainerStatus {
        ContainerStatus {
            name: "app".into(),
            restart_count: 2,
            container_id: "runc://c3".into(),
            last_state: ContainerState {
                terminated: Some(ContainerStateTerminated {
                    container_id: "runc://c2".into(),
                    exit_code: 1,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn current_and_previous_follow_the_reported_container_ids() {
        let p = pod(vec![restarted_twice()]);
        let runtime = |id: &str| match id {
            "runc://c3" => Some(7),
            "runc://c2" => Some(6),
            _ => None,
        };
        assert_eq!(
            choose_instance(&p, "app", false, runtime).unwrap().attempt,
            7
        );
        assert_eq!(
            choose_instance(&p, "app", true, runtime).unwrap().attempt,
            6
        );
        // Without the runtime's word, restartCount numbers them.
        let t = choose_instance(&p, "app", false, |_| None).unwrap();
        assert_eq!((t.uid.as_str(), t.attempt), ("uid-1", 2));
        assert_eq!(
            choose_instance(&p, "app", true, |_| None).unwrap().attempt,
            1
        );
    }

    #[test]
    fn missing_instances_are_the_upstream_errors() {
        let waiting = ContainerStatus {
            name: "side".into(),
            state: ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: "ImagePullBackOff".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let p = pod(vec![restarted_twice(), waiting]);
        let e = choose_instance(&p, "side", true, |_| None).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "previous terminated container \"side\" in pod \"web\" not found"
        );
        let e = choose_instance(&p, "side", false, |_| None).unwrap_err();
        assert!(e.message.ends_with("is waiting to start: ImagePullBackOff"));
        let e = choose_instance(&p, "nope", false, |_| None).unwrap_err();
        assert_eq!(e.code, 404);
    }

    #[test]
    fn queries_parse_and_bad_values_are_refused() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let q = LogQuery {
            follow: Some("true".into()),
            timestamps: Some("1".into()),
            tail_lines: Some("10".into()),
            since_seconds: Some("60".into()),
            limit_bytes: Some("100".into()),
            ..Default::default()
        };
        let o = q.options(now).unwrap();
        assert!(o.follow && o.timestamps);
        assert_eq!(o.tail_lines, Some(10));
        assert_eq!(o.limit_bytes, Some(100));
        assert_eq!(o.since, Some(now - chrono::Duration::seconds(60)));
        let all = LogQuery {
            tail_lines: Some("-1".into()),
            ..Default::default()
        };
        assert_eq!(all.options(now).unwrap().tail_lines, None);
        for bad in [
            LogQuery {
                follow: Some("yes".into()),
                ..Default::default()
            },
            LogQuery {
                tail_lines: Some("ten".into()),
                ..Default::default()
            },
            LogQuery {
                since_seconds: Some("0".into()),
                ..Default::default()
            },
            LogQuery {
                since_seconds: Some("5".into()),
                since_time: Some("2024-05-01T09:00:00Z".into()),
                ..Default::default()
            },
        ] {
            assert_eq!(bad.options(now).unwrap_err().code, 400, "{bad:?}");
        }
    }
}

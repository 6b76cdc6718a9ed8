//! The etcd backend: the etcd v3 API through `etcd-client` (gRPC), tested
//! against etcd 3.4 (Debian's `etcd-server`) and compatible with 3.5+.
//!
//! Every write is one transaction comparing the key's `create_revision`
//! (create) or `mod_revision` (update, delete) so concurrent writers get
//! `AlreadyExists` / `Conflict`; the failure branch reads the key so the
//! error carries the actual revision. Requests are not retried: a transient
//! etcd failure (or a request exceeding the timeout) surfaces as
//! `StorageError::Backend`.
//!
//! etcd does not expose its compacted revision. [`EtcdStorage`] remembers the
//! highest compaction it issued or observed (in watch responses) and
//! confirms it with cheap `count_only` ranges at a revision: a range at `r`
//! fails iff `r` is below the compacted revision, so two probes confirm the
//! remembered value and a binary search finds a newer one (compacted by
//! another apiserver or `etcdctl`).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, KvClient,
    Txn, TxnOp, TxnOpResponse, TxnResponse, WatchClient, WatchOptions, WatchStream as EtcdStream,
    Watcher,
};

use super::keys::{list_start, prefix_end};
use super::{
    KeyValue, ListOptions, ListResult, Storage, StorageError, StorageResult, WatchEvent,
    WatchStream,
};

/// Deadline of every unary request (and of creating a watch).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of establishing a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response accepted (lists and watch batches can be large).
const MAX_RESPONSE_BYTES: usize = 1 << 30;
/// A key no one writes, for revision probes.
const PROBE_KEY: &str = "\0tugboat/revision-probe";

/// [`Storage`] on an etcd cluster. Cheap to share: one gRPC channel,
/// requests multiplexed.
pub struct EtcdStorage {
    kv: KvClient,
    watch: WatchClient,
    /// The highest compacted revision issued or observed (a lower bound).
    compacted: Arc<AtomicI64>,
}

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("etcd: {e}"))
}

/// Why etcd refused a read at a revision.
enum RevisionRefused {
    Compacted,
    Future,
}

fn revision_refused(e: &etcd_client::Error) -> Option<RevisionRefused> {
    let etcd_client::Error::GRpcStatus(status) = e else {
        return None;
    };
    let message = status.message();
    if message.contains("required revision has been compacted") {
        Some(RevisionRefused::Compacted)
    } else if message.contains("required revision is a future revision") {
        Some(RevisionRefused::Future)
    } else {
        None
    }
}

/// Awaits an etcd request under [`REQUEST_TIMEOUT`].
async fn timed<T>(
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> StorageResult<Result<T, etcd_client::Error>> {
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .map_err(|_| backend(format!("request timed out after {REQUEST_TIMEOUT:?}")))
}

/// Awaits an etcd request, every failure being a backend error.
async fn call<T>(request: impl Future<Output = Result<T, etcd_client::Error>>) -> StorageResult<T> {
    timed(request).await?.map_err(backend)
}

fn convert(kv: &etcd_client::KeyValue) -> StorageResult<KeyValue> {
    Ok(KeyValue {
        key: kv.key_str().map_err(backend)?.to_owned(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> StorageResult<i64> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| backend("response without header"))
}

/// The `[start, end)` range of keys under `prefix` (etcd: an end of `"\0"`
/// means unbounded; the empty key is invalid, `"\0"` is the first key).
fn prefix_range(prefix: &str) -> (Vec<u8>, Vec<u8>) {
    let end = prefix_end(prefix.as_bytes()).unwrap_or_else(|| vec![0]);
    (non_empty(prefix.as_bytes().to_vec()), end)
}

fn non_empty(key: Vec<u8>) -> Vec<u8> {
    if key.is_empty() {
        vec![0]
    } else {
        key
    }
}

/// The error for a failed CAS transaction whose else-branch read the key.
fn cas_failure(key: &str, expected: i64, resp: &TxnResponse) -> StorageError {
    let actual = resp.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => Some(get.kvs().first().map(|kv| kv.mod_revision())),
        _ => None,
    });
    match actual {
        Some(Some(actual)) => StorageError::Conflict {
            key: key.to_owned(),
            expected,
            actual: Some(actual),
        },
        Some(None) => StorageError::NotFound(key.to_owned()),
        None => backend("CAS transaction failed without reading the key"),
    }
}

/// Compares that hold when `key` exists with mod revision `expected`.
fn at_revision(key: &str, expected: i64) -> [Compare; 2] {
    [
        Compare::mod_revision(key, CompareOp::Equal, expected),
        // mod_revision of a missing key is 0: never match one.
        Compare::version(key, CompareOp::Greater, 0),
    ]
}

impl EtcdStorage {
    /// Connects to the etcd cluster at `endpoints` (`http://host:port`) and
    /// checks that it answers.
    pub async fn connect(endpoints: &[String]) -> StorageResult<EtcdStorage> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        let client = call(Client::connect(endpoints, Some(options))).await?;
        let storage = EtcdStorage {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            compacted: Arc::new(AtomicI64::new(0)),
        };
        storage.current_revision().await?;
        Ok(storage)
    }

    fn kv(&self) -> KvClient {
        self.kv.clone()
    }

    fn observe_compaction(&self, revision: i64) {
        self.compacted.fetch_max(revision, Ordering::SeqCst);
    }

    /// Whether a read at `revision` (>= 1, <= current) is still possible.
    async fn readable(&self, revision: i64) -> StorageResult<bool> {
        let options = GetOptions::new().with_count_only().with_revision(revision);
        match timed(self.kv().get(PROBE_KEY, Some(options))).await? {
            Ok(_) => Ok(true),
            Err(e) => match revision_refused(&e) {
                Some(RevisionRefused::Compacted) => Ok(false),
                _ => Err(backend(e)),
            },
        }
    }

    /// The error for a read at a compacted `revision`.
    async fn compacted_error(&self, requested: i64) -> StorageError {
        let compacted = match self.compacted_revision().await {
            Ok(compacted) => compacted,
            Err(_) => self.compacted.load(Ordering::SeqCst),
        };
        StorageError::Compacted {
            requested,
            compacted,
        }
    }
}

#[async_trait]
impl Storage for EtcdStorage {
    async fn create(&self, key: &str, value: Vec<u8>) -> StorageResult<i64> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value, None)]);
        let resp = call(self.kv().txn(txn)).await?;
        if !resp.succeeded() {
            return Err(StorageError::AlreadyExists(key.to_owned()));
        }
        header_revision(resp.header())
    }

    async fn get(&self, key: &str) -> StorageResult<KeyValue> {
        let resp = call(self.kv().get(key, None)).await?;
        match resp.kvs().first() {
            Some(kv) => convert(kv),
            None => Err(StorageError::NotFound(key.to_owned())),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: i64,
    ) -> StorageResult<i64> {
        let txn = Txn::new()
            .when(at_revision(key, expected_revision))
            .and_then([TxnOp::put(key, value, None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = call(self.kv().txn(txn)).await?;
        if !resp.succeeded() {
            return Err(cas_failure(key, expected_revision, &resp));
        }
        header_revision(resp.header())
    }

    async fn delete(
        &self,
        key: &str,
        expected_revision: Option<i64>,
    ) -> StorageResult<(KeyValue, i64)> {
        let delete = || Some(DeleteOptions::new().with_prev_key());
        let (prev, header) = match expected_revision {
            None => {
                let mut resp = call(self.kv().delete(key, delete())).await?;
                (resp.take_prev_kvs().into_iter().next(), resp.take_header())
            }
            Some(expected) => {
                let txn = Txn::new()
                    .when(at_revision(key, expected))
                    .and_then([TxnOp::delete(key, delete())])
                    .or_else([TxnOp::get(key, None)]);
                let mut resp = call(self.kv().txn(txn)).await?;
                if !resp.succeeded() {
                    return Err(cas_failure(key, expected, &resp));
                }
                let prev = resp.op_responses().into_iter().find_map(|op| match op {
                    TxnOpResponse::Delete(mut d) => d.take_prev_kvs().into_iter().next(),
                    _ => None,
                });
                (prev, resp.take_header())
            }
        };
        let prev = prev.ok_or_else(|| StorageError::NotFound(key.to_owned()))?;
        Ok((convert(&prev)?, header_revision(header.as_ref())?))
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> StorageResult<ListResult> {
        let (_, end) = prefix_range(prefix);
        let start = non_empty(list_start(prefix, opts.start_after.as_deref()));
        let revision = opts.revision.filter(|r| *r > 0);
        let mut options = GetOptions::new().with_range(end);
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        if opts.limit > 0 {
            options = options.with_limit(i64::try_from(opts.limit).unwrap_or(i64::MAX));
        }
        let resp = match timed(self.kv().get(start, Some(options))).await? {
            Ok(resp) => resp,
            Err(e) => {
                return Err(match (revision_refused(&e), revision) {
                    (Some(RevisionRefused::Compacted), Some(r)) => self.compacted_error(r).await,
                    (Some(RevisionRefused::Future), Some(r)) => StorageError::FutureRevision(r),
                    _ => backend(e),
                })
            }
        };
        let items = resp
            .kvs()
            .iter()
            .map(convert)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(ListResult {
            items,
            revision: match revision {
                Some(r) => r,
                None => header_revision(resp.header())?,
            },
            more: resp.more(),
        })
    }

    async fn count(&self, prefix: &str) -> StorageResult<i64> {
        let (start, end) = prefix_range(prefix);
        let options = GetOptions::new().with_range(end).with_count_only();
        Ok(call(self.kv().get(start, Some(options))).await?.count())
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> StorageResult<WatchStream> {
        let (start, end) = prefix_range(prefix);
        let options = WatchOptions::new()
            .with_range(end)
            .with_start_revision(after_revision + 1)
            .with_prev_key();
        let (watcher, stream) = call(self.watch.clone().watch(start, Some(options))).await?;
        let state = EtcdWatch {
            _watcher: watcher,
            stream,
            queue: VecDeque::new(),
            start: after_revision + 1,
            compacted: self.compacted.clone(),
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            |mut state| async move {
                let item = state.next().await?;
                Some((item, state))
            },
        )))
    }

    async fn current_revision(&self) -> StorageResult<i64> {
        let options = GetOptions::new().with_count_only();
        let resp = call(self.kv().get(PROBE_KEY, Some(options))).await?;
        header_revision(resp.header())
    }

    async fn compact(&self, revision: i64) -> StorageResult<()> {
        match timed(self.kv().compact(revision, None)).await? {
            Ok(_) => {
                self.observe_compaction(revision);
                Ok(())
            }
            Err(e) => match revision_refused(&e) {
                // Already compacted at or beyond `revision`: nothing to do.
                Some(RevisionRefused::Compacted) => Ok(()),
                Some(RevisionRefused::Future) => Err(StorageError::FutureRevision(revision)),
                None => Err(backend(e)),
            },
        }
    }

    /// The smallest readable revision, found by probing (see the module
    /// docs); 0 when revision 1 is still readable.
    async fn compacted_revision(&self) -> StorageResult<i64> {
        let known = self.compacted.load(Ordering::SeqCst);
        // Invariant: `lo` is unreadable (0 stands for "before revision 1"),
        // `hi` is readable (the current revision always is).
        let (mut lo, mut hi) = (0, self.current_revision().await?);
        if known > 0 && known <= hi {
            if self.readable(known).await? {
                hi = known;
                if known == 1 || !self.readable(known - 1).await? {
                    lo = known - 1;
                }
            } else {
                lo = known;
            }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.readable(mid).await? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        self.observe_compaction(hi);
        Ok(if hi <= 1 { 0 } else { hi })
    }
}

/// State of one etcd watch stream.
struct EtcdWatch {
    /// Keeps the watch's request side open.
    _watcher: Watcher,
    stream: EtcdStream,
    queue: VecDeque<WatchEvent>,
    /// The first revision asked for.
    start: i64,
    compacted: Arc<AtomicI64>,
    done: bool,
}

impl EtcdWatch {
    async fn next(&mut self) -> Option<StorageResult<WatchEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let resp = match self.stream.message().await {
                Ok(Some(resp)) => resp,
                Ok(None) => return self.fail(backend("watch stream closed by the server")),
                Err(e) => return self.fail(backend(e)),
            };
            if resp.compact_revision() > 0 {
                self.compacted
                    .fetch_max(resp.compact_revision(), Ordering::SeqCst);
                return self.fail(StorageError::Compacted {
                    requested: self.start,
                    compacted: resp.compact_revision(),
                });
            }
            if resp.canceled() {
                let reason = format!("watch canceled: {}", resp.cancel_reason());
                return self.fail(backend(reason));
            }
            for event in resp.events() {
                match convert_event(event) {
                    Ok(event) => self.queue.push_back(event),
                    Err(e) => return self.fail(e),
                }
            }
        }
    }

    fn fail(&mut self, e: StorageError) -> Option<StorageResult<WatchEvent>> {
        self.done = true;
        self.queue.clear();
        Some(Err(e))
    }
}

fn convert_event(event: &etcd_client::Event) -> StorageResult<WatchEvent> {
    let kv = event
        .kv()
        .ok_or_else(|| backend("watch event without a key"))?;
    let prev = event.prev_kv().map(convert).transpose()?;
    Ok(match event.event_type() {
        EventType::Put => WatchEvent::Put {
            kv: convert(kv)?,
            prev,
        },
        EventType::Delete => {
            let revision = kv.mod_revision();
            // etcd omits the previous value when it was already compacted.
            let prev = match prev {
                Some(prev) => prev,
                None => KeyValue {
                    key: kv.key_str().map_err(backend)?.to_owned(),
                    value: Vec::new(),
                    create_revision: 0,
                    mod_revision: 0,
                },
            };
            WatchEvent::Delete { prev, revision }
        }
    })
}

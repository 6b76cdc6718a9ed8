//! Watch events: the newline-delimited JSON a `?watch=true` request
//! streams, decoded one line at a time.
//!
//! Each line is `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR",
//! "object": {...}}`. A BOOKMARK carries only a resourceVersion; an ERROR
//! carries a `Status`. An ERROR with code 410 (the requested
//! resourceVersion was compacted away) ends the stream with
//! [`Error::Gone`]: the caller must list again.

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tug_api::Status;

use crate::client::decode;
use crate::error::{Error, Result};

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent<K> {
    /// An object was created (or existed when the watch started without a
    /// resourceVersion).
    Added(K),
    /// An object changed.
    Modified(K),
    /// An object was deleted; its last state.
    Deleted(K),
    /// No change, but everything up to this resourceVersion has been sent.
    Bookmark(Bookmark),
    /// The server reported an error other than 410 Gone.
    Error(Box<Status>),
}

impl<K> WatchEvent<K> {
    /// The event type as the wire spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }

    /// The object of an ADDED, MODIFIED or DELETED event.
    pub fn object(&self) -> Option<&K> {
        match self {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => Some(o),
            _ => None,
        }
    }
}

/// The resourceVersion a BOOKMARK event carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bookmark {
    /// Everything up to this version has been sent.
    pub resource_version: String,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    object: Value,
}

/// Decode one line of a watch stream.
pub(crate) fn decode_line<K: DeserializeOwned>(line: &[u8], what: &str) -> Result<WatchEvent<K>> {
    let RawEvent {
        event_type,
        object: raw_object,
    } = decode(line, what)?;
    let object = |v: Value| -> Result<K> {
        let what = format!("{event_type} object of {what}");
        serde_path_to_error::deserialize(v).map_err(|e| Error::Decode {
            what,
            path: e.path().to_string(),
            source: e.into_inner(),
        })
    };
    match event_type.as_str() {
        "ADDED" => Ok(WatchEvent::Added(object(raw_object)?)),
        "MODIFIED" => Ok(WatchEvent::Modified(object(raw_object)?)),
        "DELETED" => Ok(WatchEvent::Deleted(object(raw_object)?)),
        "BOOKMARK" => Ok(WatchEvent::Bookmark(Bookmark {
            resource_version: raw_object
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })),
        "ERROR" => {
            let status: Status = serde_json::from_value(raw_object).unwrap_or_else(|_| {
                Status::failure(500, "InternalError", "malformed ERROR watch event")
            });
            if status.code == 410 {
                Err(Error::Gone(Box::new(status)))
            } else {
                Ok(WatchEvent::Error(Box::new(status)))
            }
        }
        other => Err(Error::Api(Box::new(Status::failure(
            500,
            "InternalError",
            format!("unknown watch event type {other:?} in {what}"),
        )))),
    }
}

/// Split a stream of body chunks into lines and decode each line as an
/// event. The stream ends after the first error (a broken connection,
/// an undecodable line, 410 Gone).
pub(crate) fn decode_events<K, S>(
    chunks: S,
    what: String,
) -> BoxStream<'static, Result<WatchEvent<K>>>
where
    K: DeserializeOwned + Send + 'static,
    S: Stream<Item = Result<Bytes>> + Send + 'static,
{
    struct State<S> {
        chunks: S,
        buf: BytesMut,
        what: String,
        done: bool,
    }
    let state = State {
        chunks: Box::pin(chunks),
        buf: BytesMut::new(),
        what,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(pos) = st.buf.iter().position(|b| *b == b'\n') {
                let line = st.buf.split_to(pos + 1);
                let line = &line[..pos];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let event = decode_line::<K>(line, &st.what);
                st.done = event.is_err();
                return Some((event, st));
            }
            match st.chunks.next().await {
                Some(Ok(chunk)) => st.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    // A clean end: the server's timeout, or it went away.
                    // A partial last line cannot be trusted; drop it.
                    if !st.buf.iter().all(u8::is_ascii_whitespace) {
                        tracing::debug!(what = %st.what, "watch ended inside a line");
                    }
                    return None;
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::ConfigMap;

    fn chunks(parts: &[&str]) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        let owned: Vec<Result<Bytes>> = parts
            .iter()
            .map(|p| Ok(Bytes::from(p.to_string())))
            .collect();
        stream::iter(owned)
    }

    #[tokio::test]
    async fn lines_split_across_chunks() {
        let s = chunks(&[
            r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5"}}}"#,
            "\n{\"type\":\"BOOKM",
            r#"ARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"9"}}}"#,
            "\n\n{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}}\n",
            "{\"type\":\"ADDED\"",
        ]);
        let events: Vec<Result<WatchEvent<ConfigMap>>> =
            decode_events(s, "test".into()).collect().await;
        assert_eq!(events.len(), 3, "{events:?}");
        match &events[0] {
            Ok(WatchEvent::Added(cm)) => assert_eq!(cm.metadata.name, "a"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            events[1].as_ref().unwrap(),
            &WatchEvent::Bookmark(Bookmark {
                resource_version: "9".into()
            })
        );
        match &events[2] {
            Err(Error::Gone(s)) => assert_eq!(s.message, "too old"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn other_errors_are_events() {
        let s = chunks(&["{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}}\n"]);
        let events: Vec<Result<WatchEvent<Value>>> =
            decode_events(s, "test".into()).collect().await;
        match &events[..] {
            [Ok(WatchEvent::Error(s))] => assert_eq!(s.message, "boom"),
            other => panic!("{other:?}"),
        }
    }
}

//! Container logs in the CRI format the kubelet and `kubectl logs` read:
//! one record per line, `<RFC 3339 nano time> <stream> <P|F> <text>`,
//! where `P` marks a partial record (a line longer than
//! [`MAX_RECORD`] split in pieces) and `F` the full (last) piece.

use std::io::{BufRead, Write};

use chrono::{DateTime, SecondsFormat, Utc};

/// The longest text one record carries; longer lines are split.
pub const MAX_RECORD: usize = 16 * 1024;

/// Which output a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The container's standard output.
    Stdout,
    /// The container's standard error.
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One record: `time stream tag text\n`; `partial` gives tag `P`.
pub fn format_record(time: DateTime<Utc>, stream: Stream, partial: bool, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 48);
    out.extend_from_slice(time.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(text);
    out.push(b'\n');
    out
}

/// Copy `input` line by line into `sink` as CRI records until EOF; a
/// line over [`MAX_RECORD`] bytes becomes partial records. `now` stamps
/// each record; `sink` is called with each whole record so writers of
/// several streams can share one file without interleaving records.
pub fn copy_lines(
    mut input: impl BufRead,
    stream: Stream,
    now: impl Fn() -> DateTime<Utc>,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !pending.is_empty() {
                // The stream ended inside a line: a full record still.
                sink(&format_record(now(), stream, false, &pending))?;
            }
            return Ok(());
        }
        let room = MAX_RECORD - pending.len();
        let take = buf.len().min(room);
        match buf[..take].iter().position(|b| *b == b'\n') {
            Some(i) => {
                pending.extend_from_slice(&buf[..i]);
                input.consume(i + 1);
                sink(&format_record(now(), stream, false, &pending))?;
                pending.clear();
            }
            None => {
                pending.extend_from_slice(&buf[..take]);
                input.consume(take);
                if pending.len() == MAX_RECORD {
                    sink(&format_record(now(), stream, true, &pending))?;
                    pending.clear();
                }
            }
        }
    }
}

/// A writer shared by the copiers of one container's streams.
pub type SharedLog = std::sync::Arc<std::sync::Mutex<std::fs::File>>;

/// Append one record to the shared log file.
pub fn append(log: &SharedLog, record: &[u8]) -> std::io::Result<()> {
    let mut f = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f.write_all(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2006, 1, 2, 15, 4, 5).unwrap() + chrono::Duration::nanoseconds(7)
    }

    fn copy(input: &[u8]) -> String {
        let mut out = Vec::new();
        copy_lines(input, Stream::Stdout, t, |r| {
            out.extend_from_slice(r);
            Ok(())
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_have_the_cri_shape() {
        let r = format_record(t(), Stream::Stderr, false, b"hello world");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "2006-01-02T15:04:05.000000007Z stderr F hello world\n"
        );
    }

    #[test]
    fn each_line_is_a_full_record_and_a_last_unterminated_line_too() {
        assert_eq!(
            copy(b"one\ntwo\n\nthree"),
            "2006-01-02T15:04:05.000000007Z stdout F one\n\
             2006-01-02T15:04:05.000000007Z stdout F two\n\
             2006-01-02T15:04:05.000000007Z stdout F \n\
             2006-01-02T15:04:05.000000007Z stdout F three\n"
        );
    }

    #[test]
    fn a_long_line_is_split_into_partial_records() {
        let mut line = vec![b'x'; MAX_RECORD * 2 + 5];
        line.push(b'\n');
        let out = copy(&line);
        let tags: Vec<&str> = out.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
        assert_eq!(tags, ["P", "P", "F"]);
        let texts: Vec<usize> = out
            .lines()
            .map(|l| l.splitn(4, ' ').nth(3).unwrap().len())
            .collect();
        assert_eq!(texts, [MAX_RECORD, MAX_RECORD, 5]);
    }
}

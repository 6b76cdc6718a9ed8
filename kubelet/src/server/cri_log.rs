//! Reading container log files in the CRI format, as the kubelet serves
//! them: every line of the file is `<RFC3339Nano> <stdout|stderr> <F|P>
//! <text>`; a `P` (partial) line continues in the next one, an `F` line
//! ends a line of the container's output.
//!
//! [`LogFormatter`] turns file bytes (in chunks of any size, as a
//! follow reads them) into what the user sees — the text, with the
//! timestamp in front of every line when asked, from `sinceSeconds` on,
//! at most `limitBytes` — and [`tail_offset`] finds where the last
//! `tailLines` lines begin.

use std::collections::VecDeque;
use std::io::BufRead;

use chrono::{DateTime, Utc};

/// What a log request asks for, beyond which file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    /// Prefix every line with its timestamp (`timestamps=true`).
    pub timestamps: bool,
    /// Only lines written at or after this moment (`sinceSeconds`,
    /// `sinceTime`).
    pub since: Option<DateTime<Utc>>,
    /// Stop after this many bytes of output (`limitBytes`).
    pub limit_bytes: Option<u64>,
    /// Only the last this many lines (`tailLines`).
    pub tail_lines: Option<usize>,
    /// Keep reading while the container runs (`follow=true`).
    pub follow: bool,
}

/// One line of a CRI log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriLine<'a> {
    /// The timestamp as written (RFC 3339 with nanoseconds).
    pub time: &'a str,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
    /// A `P` line: the output line continues in the next file line.
    pub partial: bool,
    /// The output, without the file line's newline.
    pub text: &'a [u8],
}

/// Parse one file line (without its `\n`); `None` if it is not in the
/// CRI format.
pub fn parse_line(line: &[u8]) -> Option<CriLine<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    let tag = parts.next()?;
    // An empty output line is written as `<time> <stream> F` with or
    // without a space after the tag.
    let text = parts.next().unwrap_or(b"");
    if !matches!(stream, "stdout" | "stderr") {
        return None;
    }
    let partial = match tag {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(CriLine {
        time,
        stream,
        partial,
        text,
    })
}

/// Turns the bytes of a CRI log file, fed in order, into the log text.
#[derive(Debug)]
pub struct LogFormatter {
    opts: LogOptions,
    /// The start of a file line whose `\n` has not been read yet.
    pending: Vec<u8>,
    /// The last line fed was partial: the next continues its output line.
    continuing: bool,
    /// The output line being continued was dropped (before `since`).
    skipping: bool,
    /// Bytes given out so far.
    written: u64,
}

impl LogFormatter {
    /// A formatter for a request with `opts`.
    pub fn new(opts: LogOptions) -> LogFormatter {
        LogFormatter {
            opts,
            pending: Vec::new(),
            continuing: false,
            skipping: false,
            written: 0,
        }
    }

    /// Whether `limitBytes` has been given out: nothing more will be.
    pub fn done(&self) -> bool {
        self.opts.limit_bytes.is_some_and(|l| self.written >= l)
    }

    /// The output for the next `data` of the file. A file line is used
    /// once its `\n` has been fed (the writer may be mid-line).
    pub fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            if self.pending.is_empty() {
                self.line(&rest[..nl], &mut out);
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(&rest[..nl]);
                self.line(&line, &mut out);
            }
            rest = &rest[nl + 1..];
        }
        self.pending.extend_from_slice(rest);
        if let Some(limit) = self.opts.limit_bytes {
            let room = limit.saturating_sub(self.written) as usize;
            out.truncate(room);
        }
        self.written += out.len() as u64;
        out
    }

    fn line(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        if self.done() {
            return;
        }
        let Some(line) = parse_line(raw) else {
            // Not ours to judge: pass a foreign line through as a line.
            self.continuing = false;
            self.skipping = false;
            out.extend_from_slice(raw);
            out.push(b'\n');
            return;
        };
        let starts_line = !self.continuing;
        if starts_line {
            self.skipping = self.opts.since.is_some_and(|since| {
                DateTime::parse_from_rfc3339(line.time)
                    .map(|t| t.with_timezone(&Utc) < since)
                    .unwrap_or(false)
            });
        }
        self.continuing = line.partial;
        if self.skipping {
            return;
        }
        if starts_line && self.opts.timestamps {
            out.extend_from_slice(line.time.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(line.text);
        if !line.partial {
            out.push(b'\n');
        }
    }
}

/// The byte offset in a CRI log file where its last `n` output lines
/// begin (a `P` line belongs to the output line its `F` line ends).
pub fn tail_offset(mut reader: impl BufRead, n: usize) -> std::io::Result<u64> {
    if n == 0 {
        // Nothing of what is there now; a follow goes on from the end.
        let mut end = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read = reader.read_until(b'\n', &mut buf)?;
            if read == 0 {
                return Ok(end);
            }
            end += read as u64;
        }
    }
    let mut starts: VecDeque<u64> = VecDeque::with_capacity(n + 1);
    let mut offset = 0u64;
    let mut at_start = true;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        if at_start {
            starts.push_back(offset);
            if starts.len() > n {
                starts.pop_front();
            }
        }
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        at_start = !parse_line(body).is_some_and(|l| l.partial);
        offset += read as u64;
    }
    Ok(starts.front().copied().unwrap_or(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const FILE: &str = "\
2024-05-01T10:00:00.000000001Z stdout F one
2024-05-01T10:00:01.000000000Z stderr P tw
2024-05-01T10:00:01.500000000Z stderr F o
2024-05-01T10:00:02.000000000Z stdout F
2024-05-01T10:00:03.000000000Z stdout F three  spaces kept
";

    fn run(opts: LogOptions, data: &[u8]) -> String {
        let mut f = LogFormatter::new(opts);
        String::from_utf8(f.feed(data)).unwrap()
    }

    #[test]
    fn lines_parse_and_bad_ones_are_refused() {
        let l = parse_line(b"2024-05-01T10:00:00Z stderr P half").unwrap();
        assert_eq!(
            (l.time, l.stream, l.partial, l.text),
            ("2024-05-01T10:00:00Z", "stderr", true, &b"half"[..])
        );
        assert_eq!(
            parse_line(b"2024-05-01T10:00:00Z stdout F").unwrap().text,
            b""
        );
        assert!(parse_line(b"2024 stdin F x").is_none());
        assert!(parse_line(b"2024 stdout X x").is_none());
        assert!(parse_line(b"garbage").is_none());
    }

    #[test]
    fn partial_lines_join_and_empty_lines_stay() {
        assert_eq!(
            run(LogOptions::default(), FILE.as_bytes()),
            "one\ntwo\n\nthree  spaces kept\n"
        );
    }

    #[test]
    fn timestamps_prefix_each_output_line_once() {
        let out = run(
            LogOptions {
                timestamps: true,
                ..Default::default()
            },
            FILE.as_bytes(),
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "2024-05-01T10:00:00.000000001Z one");
        assert_eq!(lines[1], "2024-05-01T10:00:01.000000000Z two");
        assert_eq!(lines[2], "2024-05-01T10:00:02.000000000Z ");
    }

    #[test]
    fn chunks_split_anywhere_give_the_same_text() {
        let whole = run(LogOptions::default(), FILE.as_bytes());
        for cut in 0..FILE.len() {
            let mut f = LogFormatter::new(LogOptions::default());
            let mut out = f.feed(&FILE.as_bytes()[..cut]);
            out.extend(f.feed(&FILE.as_bytes()[cut..]));
            assert_eq!(String::from_utf8(out).unwrap(), whole, "cut at {cut}");
        }
        // A line not yet ended by the writer waits for its newline.
        let mut f = LogFormatter::new(LogOptions::default());
        assert!(f.feed(b"2024-05-01T10:00:00Z stdout F hal").is_empty());
        assert_eq!(f.feed(b"f\n"), b"half\n");
    }

    #[test]
    fn since_drops_older_lines_with_their_partial_parts() {
        let since = DateTime::parse_from_rfc3339("2024-05-01T10:00:01.200000000Z")
            .unwrap()
            .with_timezone(&Utc);
        let out = run(
            LogOptions {
                since: Some(since),
                ..Default::default()
            },
            FILE.as_bytes(),
        );
        // "two" started before `since`: its second half goes with it.
        assert_eq!(out, "\nthree  spaces kept\n");
    }

    #[test]
    fn limit_bytes_cuts_the_output_and_ends_it() {
        let mut f = LogFormatter::new(LogOptions {
            limit_bytes: Some(6),
            ..Default::default()
        });
        assert_eq!(f.feed(FILE.as_bytes()), b"one\ntw");
        assert!(f.done());
        assert!(f.feed(b"2024-05-01T10:00:09Z stdout F more\n").is_empty());
    }

    #[test]
    fn tail_finds_the_start_of_the_last_output_lines() {
        let at = |n| tail_offset(Cursor::new(FILE), n).unwrap() as usize;
        let text = |n| run(LogOptions::default(), &FILE.as_bytes()[at(n)..]);
        assert_eq!(text(1), "three  spaces kept\n");
        assert_eq!(text(2), "\nthree  spaces kept\n");
        // The partial part belongs to its line: tail 3 starts at "tw".
        assert_eq!(text(3), "two\n\nthree  spaces kept\n");
        assert_eq!(text(100), "one\ntwo\n\nthree  spaces kept\n");
        assert_eq!(at(0), FILE.len());
        assert_eq!(tail_offset(Cursor::new(""), 5).unwrap(), 0);
    }
}

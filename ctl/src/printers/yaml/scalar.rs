//! How go-yaml v2 (what kubectl's `-o yaml` goes through) writes one
//! string: plain when that reads back as the same string, double-quoted
//! when a plain form would read as something else (`"12"`, `"true"`, a
//! timestamp), single-quoted when plain is not allowed by the syntax
//! (`': x'`), a literal block (`|`) when it has line breaks, and
//! double-quoted with escapes when nothing else can hold it.

use std::fmt::Write;

/// How a string is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// Where the string goes: a mapping key cannot be a block scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    Key,
    Value,
}

/// The style go-yaml picks for `s` (`encoder.stringv`, then libyaml's
/// `yaml_emitter_select_scalar_style`).
pub(super) fn style(s: &str, place: Place) -> Style {
    let analysis = Analysis::of(s);
    let wanted = if s.contains('\n') {
        Style::Literal
    } else if reads_as_string(s) && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    };
    match wanted {
        Style::Plain if !analysis.plain_allowed || (s.is_empty() && place == Place::Key) => {
            if analysis.single_quoted_allowed {
                Style::SingleQuoted
            } else {
                Style::DoubleQuoted
            }
        }
        Style::Literal if !analysis.block_allowed || place == Place::Key => Style::DoubleQuoted,
        style => style,
    }
}

/// What libyaml's `yaml_emitter_analyze_scalar` finds out about a string,
/// reduced to what block context needs.
struct Analysis {
    plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

impl Analysis {
    fn of(s: &str) -> Analysis {
        if s.is_empty() {
            return Analysis {
                plain_allowed: true,
                single_quoted_allowed: true,
                block_allowed: false,
            };
        }
        let chars: Vec<char> = s.chars().collect();
        let mut indicators = s.starts_with("---") || s.starts_with("...");
        let mut special = false;
        let (mut leading_space, mut leading_break) = (false, false);
        let (mut trailing_space, mut trailing_break) = (false, false);
        let (mut break_space, mut space_break, mut line_breaks) = (false, false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let mut preceded_by_whitespace = true;
        for (i, &c) in chars.iter().enumerate() {
            let last = i + 1 == chars.len();
            let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| is_blank_or_break(n));
            if i == 0 {
                match c {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\''
                    | '"' | '%' | '@' | '`' => indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => indicators = true,
                    _ => {}
                }
            } else {
                match c {
                    ':' if followed_by_whitespace => indicators = true,
                    '#' if preceded_by_whitespace => indicators = true,
                    _ => {}
                }
            }
            if !is_printable(c) {
                special = true;
            }
            if c == ' ' {
                leading_space |= i == 0;
                trailing_space |= last;
                break_space |= previous_break;
                (previous_space, previous_break) = (true, false);
            } else if is_break(c) {
                line_breaks = true;
                leading_break |= i == 0;
                trailing_break |= last;
                space_break |= previous_space;
                (previous_space, previous_break) = (false, true);
            } else {
                (previous_space, previous_break) = (false, false);
            }
            preceded_by_whitespace = is_blank_or_break(c);
        }
        let mut plain = !(leading_space || leading_break || trailing_space || trailing_break);
        let mut single = true;
        let mut block = !trailing_space;
        if break_space {
            plain = false;
            single = false;
        }
        if space_break || special {
            plain = false;
            single = false;
            block = false;
        }
        if line_breaks || indicators {
            plain = false;
        }
        Analysis {
            plain_allowed: plain,
            single_quoted_allowed: single,
            block_allowed: block,
        }
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_break(c: char) -> bool {
    c == ' ' || c == '\t' || is_break(c)
}

/// libyaml's printable set (which leaves out tabs and characters beyond
/// the Basic Multilingual Plane).
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

/// Whether go-yaml reads `s`, written plain, back as a string rather than
/// a null, bool, number or timestamp (`resolve` in go-yaml v2, which
/// follows YAML 1.1: `yes`, `on`, `0x1F`, `1_000` are not strings).
fn reads_as_string(s: &str) -> bool {
    const NOT_STRINGS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if NOT_STRINGS.contains(&s) {
        return false;
    }
    match s.as_bytes().first() {
        Some(b'.') => s.parse::<f64>().is_err(),
        Some(b'+' | b'-' | b'0'..=b'9') => {
            let plain = s.replace('_', "");
            !(is_timestamp(s) || is_go_int(&plain) || is_yaml_float(&plain) || is_binary(&plain))
        }
        _ => true,
    }
}

/// `strconv.ParseInt(s, 0, 64)` / `ParseUint`: decimal, `0x`, `0o`, `0b`
/// or leading-zero octal, with an optional sign.
fn is_go_int(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (radix, digits) = if let Some(d) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, d)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// `-0b101`: go-yaml reads signed binary too.
fn is_binary(s: &str) -> bool {
    s.strip_prefix("-0b")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b == b'0' || b == b'1'))
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1
/// sexagesimal numbers (`1:20`), which go-yaml quotes on the way out.
fn is_base60_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (s, fraction) = match s.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (s, None),
    };
    if fraction.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit() || b == b'_')) {
        return false;
    }
    let mut parts = s.split(':');
    let head = parts.next().unwrap_or_default();
    let head_ok = head.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && head.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let rest: Vec<&str> = parts.collect();
    head_ok
        && !rest.is_empty()
        && rest.iter().all(|p| match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
            _ => false,
        })
}

/// The timestamps go-yaml recognises: `2006-1-2`, `2006-1-2T15:4:5Z`
/// (fraction optional, zone `Z` or `±hh:mm`), `2006-1-2 15:4:5`.
fn is_timestamp(s: &str) -> bool {
    let Some((date, time)) = split_date(s) else {
        return false;
    };
    if !valid_date(date) {
        return false;
    }
    match time {
        None => true,
        Some((b'T' | b't', time)) => {
            let zone_at = time.find(['Z', '+', '-']);
            match zone_at {
                Some(at) => valid_clock(&time[..at]) && valid_zone(&time[at..]),
                None => false,
            }
        }
        Some((_, time)) => valid_clock(time),
    }
}

/// `YYYY-M-D` and what follows a `T`, `t` or space.
fn split_date(s: &str) -> Option<(&str, Option<(u8, &str)>)> {
    let bytes = s.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    match s.find(['T', 't', ' ']) {
        Some(at) => Some((&s[..at], Some((bytes[at], &s[at + 1..])))),
        None => Some((s, None)),
    }
}

fn numbers(s: &str, sep: char, count: usize, max_digits: usize) -> Option<Vec<u32>> {
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != count {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            let ok =
                !p.is_empty() && p.len() <= max_digits && p.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| p.parse().ok()).flatten()
        })
        .collect()
}

fn valid_date(date: &str) -> bool {
    match numbers(date, '-', 3, 4).as_deref() {
        Some([_, month, day]) => (1..=12).contains(month) && (1..=31).contains(day),
        _ => false,
    }
}

fn valid_clock(time: &str) -> bool {
    let (clock, fraction) = match time.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (time, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    match numbers(clock, ':', 3, 2).as_deref() {
        Some([h, m, s]) => *h < 24 && *m < 60 && *s < 60,
        _ => false,
    }
}

fn valid_zone(zone: &str) -> bool {
    if zone == "Z" {
        return true;
    }
    let offset = &zone[1..];
    matches!(numbers(offset, ':', 2, 2).as_deref(), Some([h, m]) if *h < 24 && *m < 60 && offset.len() == 5)
}

/// `s` in single quotes (`'` doubled).
pub(super) fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `s` in double quotes with YAML escapes.
pub(super) fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let escape = match c {
            '\0' => "\\0",
            '\u{7}' => "\\a",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{b}' => "\\v",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            '\u{1b}' => "\\e",
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{85}' => "\\N",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            c if is_printable(c) => {
                out.push(c);
                continue;
            }
            c => {
                let code = c as u32;
                let _ = match code {
                    0..=0xFF => write!(out, "\\x{code:02X}"),
                    0x100..=0xFFFF => write!(out, "\\u{code:04X}"),
                    _ => write!(out, "\\U{code:08X}"),
                };
                continue;
            }
        };
        out.push_str(escape);
    }
    out.push('"');
    out
}

/// The header of a literal block: `|`, with `2` when the text starts
/// with a space or line break, then `-` without a final line break or `+`
/// with more than one.
pub(super) fn literal_header(s: &str) -> String {
    let mut header = String::from("|");
    if s.starts_with([' ', '\n']) {
        header.push('2');
    }
    if !s.ends_with('\n') {
        header.push('-');
    } else if s == "\n" || s.ends_with("\n\n") {
        header.push('+');
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_follow_go_yaml() {
        let cases = [
            ("nginx:1.25", Style::Plain),
            ("web", Style::Plain),
            ("2024-05-01T12:00:00Z", Style::DoubleQuoted),
            ("2024-05-01", Style::DoubleQuoted),
            ("2024-13-01", Style::Plain),
            ("12", Style::DoubleQuoted),
            ("0x1F", Style::DoubleQuoted),
            ("1_000", Style::DoubleQuoted),
            ("1.5", Style::DoubleQuoted),
            ("1e3", Style::DoubleQuoted),
            (".5", Style::DoubleQuoted),
            ("1.2.3", Style::Plain),
            ("10.244.1.5", Style::Plain),
            ("1:20", Style::DoubleQuoted),
            ("8080:80", Style::Plain),
            ("yes", Style::DoubleQuoted),
            ("On", Style::DoubleQuoted),
            ("true", Style::DoubleQuoted),
            ("null", Style::DoubleQuoted),
            ("~", Style::DoubleQuoted),
            ("", Style::DoubleQuoted),
            ("<<", Style::Plain),
            ("-", Style::SingleQuoted),
            ("- x", Style::SingleQuoted),
            ("a: b", Style::SingleQuoted),
            ("a:b", Style::Plain),
            ("a #b", Style::SingleQuoted),
            ("a#b", Style::Plain),
            ("*", Style::SingleQuoted),
            ("{\"a\":1}", Style::SingleQuoted),
            ("[1]", Style::SingleQuoted),
            (" lead", Style::SingleQuoted),
            ("trail ", Style::SingleQuoted),
            ("tab\there", Style::DoubleQuoted),
            ("smile 😀", Style::DoubleQuoted),
            ("café", Style::Plain),
            ("two\nlines", Style::Literal),
            ("trailing space \nx", Style::DoubleQuoted),
            ("ends in space\nx ", Style::DoubleQuoted),
            ("---", Style::SingleQuoted),
        ];
        for (s, want) in cases {
            assert_eq!(style(s, Place::Value), want, "{s:?}");
        }
        assert_eq!(style("two\nlines", Place::Key), Style::DoubleQuoted);
    }

    #[test]
    fn quoting_and_headers() {
        assert_eq!(single_quoted("it's"), "'it''s'");
        assert_eq!(
            double_quoted("a\"b\\c\td\u{1}😀"),
            "\"a\\\"b\\\\c\\td\\x01\\U0001F600\""
        );
        assert_eq!(literal_header("a\nb"), "|-");
        assert_eq!(literal_header("a\nb\n"), "|");
        assert_eq!(literal_header("a\n\n"), "|+");
        assert_eq!(literal_header("  indented\n"), "|2");
    }
}

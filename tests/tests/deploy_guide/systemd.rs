//! Just enough of systemd to run a unit's `ExecStart=` as systemd would:
//! unit files (sections, `Key=Value`, backslash continuation, comments),
//! `EnvironmentFile=` syntax, and the expansion of `${VAR}` (one argument)
//! and `$VAR` (split at whitespace) in a command line. Pure functions, so
//! the test runs the command lines the units really give.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `[Service]` settings of a unit file that say what runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// `EnvironmentFile=` paths (a leading `-`, "may be missing", removed).
    pub environment_files: Vec<PathBuf>,
    /// `ExecStart=` split into words, variables not yet expanded.
    pub exec_start: Vec<String>,
    /// Every `Key=Value` of `[Service]`, in order (for the checks on
    /// `KillMode=`, `Delegate=`, `Restart=`).
    pub settings: Vec<(String, String)>,
}

impl Service {
    /// Read the unit file at `path`.
    pub fn load(path: &Path) -> Service {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        parse_unit(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The last value of `key` in `[Service]`, as systemd takes it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `ExecStart=` with `env`'s variables expanded: program and arguments.
    pub fn command_line(&self, env: &BTreeMap<String, String>) -> Vec<String> {
        expand(&self.exec_start, env)
    }
}

/// Parse a unit file's `[Service]` section.
pub fn parse_unit(text: &str) -> Result<Service, String> {
    let mut section = String::new();
    let mut settings = Vec::new();
    for line in logical_lines(text) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("not Key=Value: {line:?}"))?;
        if section == "Service" {
            settings.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    let exec = settings
        .iter()
        .rev()
        .find(|(k, _)| k == "ExecStart")
        .map(|(_, v)| v.as_str())
        .ok_or("no ExecStart= in [Service]")?;
    let environment_files = settings
        .iter()
        .filter(|(k, _)| k == "EnvironmentFile")
        .map(|(_, v)| PathBuf::from(v.strip_prefix('-').unwrap_or(v)))
        .collect();
    Ok(Service {
        environment_files,
        exec_start: split_words(exec)?,
        settings,
    })
}

/// The non-empty, non-comment lines of a unit file, with backslash
/// continuations joined (systemd replaces `\` + newline by a space).
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with(['#', ';'])) {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            pending.push_str(body);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        lines.push(std::mem::take(&mut pending));
    }
    if !pending.trim().is_empty() {
        lines.push(pending);
    }
    lines
}

/// Split a command line into words as systemd does: whitespace separates,
/// double and single quotes group, a backslash escapes the next character.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                let next = chars.next().ok_or("a trailing backslash")?;
                word.get_or_insert_with(String::new).push(next);
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("an unclosed quote in {line:?}"));
    }
    words.extend(word);
    Ok(words)
}

/// Expand variables in a split command line: a word that is exactly
/// `$NAME` becomes the value split at whitespace (zero or more words);
/// `${NAME}` anywhere in a word is replaced by the value, the word staying
/// one word. Unset variables are empty, as in systemd.
pub fn expand(words: &[String], env: &BTreeMap<String, String>) -> Vec<String> {
    let value = |name: &str| env.get(name).map(String::as_str).unwrap_or("");
    let mut out = Vec::new();
    for word in words {
        if let Some(name) = word.strip_prefix('$').filter(|n| is_name(n)) {
            out.extend(value(name).split_whitespace().map(str::to_string));
            continue;
        }
        let mut expanded = String::new();
        let mut rest = word.as_str();
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            expanded.push_str(&rest[..start]);
            expanded.push_str(value(&rest[start + 2..start + 2 + len]));
            rest = &rest[start + 3 + len..];
        }
        expanded.push_str(rest);
        out.push(expanded);
    }
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse an `EnvironmentFile=`: `KEY=VALUE` lines, `#` and `;` comment
/// lines, a value in matching single or double quotes taken without them.
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for line in logical_lines(text) {
        if let Some((key, value)) = line.split_once('=') {
            env.insert(key.trim().to_string(), unquote(value.trim()).to_string());
        }
    }
    env
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

/// `example` (an env file's text) with the values of `values` put in
/// place: a key the example has keeps its line and its comments, a new
/// one is appended. So the test's settings are the example's, edited the
/// way the guide tells a user to edit it.
pub fn edit_env_file(example: &str, values: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut done = Vec::new();
    for line in example.lines() {
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim())
            .filter(|k| !k.starts_with(['#', ';']));
        match key.and_then(|k| values.iter().find(|(name, _)| *name == k)) {
            Some((name, value)) => {
                out.push_str(&format!("{name}={value}\n"));
                done.push(*name);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (name, value) in values.iter().filter(|(n, _)| !done.contains(n)) {
        out.push_str(&format!("{name}={value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn exec_start_spans_continued_lines_and_only_the_service_section_counts() {
        let unit = "[Unit]\nDescription=x\n# ExecStart=/not/this\n\n[Service]\n\
                    EnvironmentFile=-/etc/tugboat/tugboat.env\n\
                    ExecStart=/usr/local/bin/tug-proxy \\\n    --master ${URL} \\\n    $ARGS\n\
                    KillMode=process\n[Install]\nWantedBy=multi-user.target\n";
        let s = parse_unit(unit).unwrap();
        assert_eq!(
            s.exec_start,
            ["/usr/local/bin/tug-proxy", "--master", "${URL}", "$ARGS"]
        );
        assert_eq!(
            s.environment_files,
            [PathBuf::from("/etc/tugboat/tugboat.env")]
        );
        assert_eq!(s.get("KillMode"), Some("process"));
        assert_eq!(s.get("WantedBy"), None);
    }

    #[test]
    fn braced_variables_stay_one_argument_and_bare_ones_split() {
        let words = split_words("/bin/x --a ${A} --b=${B}x $EXTRA $EMPTY \"${A} q\"").unwrap();
        let env = env(&[("A", "one two"), ("B", "b"), ("EXTRA", " --c  --d=1 ")]);
        assert_eq!(
            expand(&words, &env),
            [
                "/bin/x",
                "--a",
                "one two",
                "--b=bx",
                "--c",
                "--d=1",
                "one two q"
            ]
        );
    }

    #[test]
    fn an_env_file_takes_values_whole_and_unquotes_them() {
        let env = parse_env_file(
            "# comment\n; another\nURL=http://10.0.0.1:8080\nARGS=--x=a<1Gi --y\n\
             Q=\"quoted value\"\nEMPTY=\n",
        );
        assert_eq!(env["URL"], "http://10.0.0.1:8080");
        assert_eq!(env["ARGS"], "--x=a<1Gi --y");
        assert_eq!(env["Q"], "quoted value");
        assert_eq!(env["EMPTY"], "");
        assert_eq!(env.len(), 4);
    }

    #[test]
    fn editing_the_example_keeps_its_comments_and_replaces_values() {
        let edited = edit_env_file(
            "# the URL\nURL=http://old\nKEEP=1\n",
            &[("URL", "http://new".into()), ("NEW", "x".into())],
        );
        assert_eq!(edited, "# the URL\nURL=http://new\nKEEP=1\nNEW=x\n");
    }
}

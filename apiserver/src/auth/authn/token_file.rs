//! `--token-auth-file`: static bearer tokens in Kubernetes' CSV format,
//! `token,user,uid,"group1,group2"` (the groups column is optional).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};

use crate::auth::UserInfo;

/// Token → user, as loaded at start.
#[derive(Clone, Debug, Default)]
pub struct TokenFile {
    users: HashMap<String, UserInfo>,
}

/// Split one CSV record: commas separate fields, a field may be quoted
/// (`""` inside quotes is a quote), leading spaces are trimmed as
/// upstream's reader (`TrimLeadingSpace`) does.
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') || chars.peek() == Some(&'\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("bare \" in a non-quoted field".into()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

impl TokenFile {
    /// Read and parse the file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<TokenFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading token file {}", path.display()))?;
        TokenFile::parse(&text).with_context(|| format!("token file {}", path.display()))
    }

    /// Parse the CSV text. Every problem is an error naming its line.
    pub fn parse(text: &str) -> anyhow::Result<TokenFile> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let record = csv_fields(line).map_err(|e| anyhow::anyhow!("line {n}: {e}"))?;
            if record.len() < 3 {
                bail!(
                    "line {n}: needs at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                );
            }
            let token = record[0].trim();
            if token.is_empty() {
                bail!("line {n}: empty token");
            }
            let name = record[1].trim();
            if name.is_empty() {
                bail!("line {n}: empty user name");
            }
            let mut groups: Vec<String> = record
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if !groups.iter().any(|g| g == crate::auth::user::AUTHENTICATED) {
                groups.push(crate::auth::user::AUTHENTICATED.into());
            }
            let user = UserInfo {
                name: name.to_string(),
                uid: record[2].trim().to_string(),
                groups,
            };
            if users.insert(token.to_string(), user).is_some() {
                bail!("line {n}: duplicate token");
            }
        }
        Ok(TokenFile { users })
    }

    /// The user of `token`, if the file has it.
    pub fn user(&self, token: &str) -> Option<&UserInfo> {
        self.users.get(token)
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no token is known.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_groups_and_optional_group_column() {
        let f = TokenFile::parse(
            "s3cret,jane,1001,\"devs,ops\"\r\n\nt2, bob ,1002\nt3,\"ann, the admin\",1003,system:masters\n",
        )
        .unwrap();
        assert_eq!(f.len(), 3);
        let jane = f.user("s3cret").unwrap();
        assert_eq!(jane.name, "jane");
        assert_eq!(jane.uid, "1001");
        assert_eq!(jane.groups, vec!["devs", "ops", "system:authenticated"]);
        assert_eq!(f.user("t2").unwrap().name, "bob");
        assert_eq!(f.user("t2").unwrap().groups, vec!["system:authenticated"]);
        assert_eq!(f.user("t3").unwrap().name, "ann, the admin");
        assert!(f.user("nope").is_none());
    }

    #[test]
    fn bad_files_name_the_line() {
        let err = |t: &str| format!("{:#}", TokenFile::parse(t).unwrap_err());
        assert_eq!(
            err("a,b,c\nonly,two\n"),
            "line 2: needs at least 3 columns (token, user name, user uid), found 2"
        );
        assert_eq!(err("a,b,c\na,d,e\n"), "line 2: duplicate token");
        assert_eq!(err(",b,c\n"), "line 1: empty token");
        assert_eq!(err("a,b,c,\"devs\n"), "line 1: unterminated quoted field");
    }
}

//! Which user a container's process runs as: the securityContext's
//! `runAsUser`/`runAsGroup` (container over pod), else the image's
//! `User` (`uid`, `uid:gid`, `name`, `name:group`), names resolved from
//! the container's own `/etc/passwd` and `/etc/group`.

/// A process identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
}

/// What decides the user, gathered from the pod spec and the image.
#[derive(Clone, Debug, Default)]
pub struct UserInputs<'a> {
    /// `runAsUser` (container's, else pod's).
    pub run_as_user: Option<i64>,
    /// `runAsGroup` (container's, else pod's).
    pub run_as_group: Option<i64>,
    /// The pod's `supplementalGroups` (and `fsGroup`).
    pub supplemental_groups: Vec<i64>,
    /// The image's `User`.
    pub image_user: &'a str,
    /// The rootfs `/etc/passwd` (empty if absent).
    pub passwd: &'a str,
    /// The rootfs `/etc/group` (empty if absent).
    pub group: &'a str,
}

/// Resolve the process user; an error for a name the rootfs lacks.
pub fn resolve(inp: &UserInputs<'_>) -> Result<User, String> {
    let (image_user, image_group) = match inp.image_user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (inp.image_user, None),
    };
    let (uid, passwd_gid) = match inp.run_as_user {
        Some(uid) => {
            let uid = to_id(uid)?;
            (
                uid,
                passwd_entry(inp.passwd, |_, u, _| u == uid).map(|e| e.2),
            )
        }
        None if image_user.is_empty() => (0, Some(0)),
        None => match image_user.parse::<u32>() {
            Ok(uid) => (
                uid,
                passwd_entry(inp.passwd, |_, u, _| u == uid).map(|e| e.2),
            ),
            Err(_) => match passwd_entry(inp.passwd, |n, _, _| n == image_user) {
                Some((_, uid, gid)) => (uid, Some(gid)),
                None => {
                    return Err(format!(
                        "unable to find user {image_user}: no matching entries in passwd file"
                    ))
                }
            },
        },
    };
    let gid = match (
        inp.run_as_group,
        image_group.filter(|_| inp.run_as_user.is_none()),
    ) {
        (Some(g), _) => to_id(g)?,
        (None, Some(g)) => match g.parse::<u32>() {
            Ok(g) => g,
            Err(_) => group_id(inp.group, g).ok_or_else(|| {
                format!("unable to find group {g}: no matching entries in group file")
            })?,
        },
        (None, None) => passwd_gid.unwrap_or(0),
    };
    let additional_gids = inp
        .supplemental_groups
        .iter()
        .map(|g| to_id(*g))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(User {
        uid,
        gid,
        additional_gids,
    })
}

fn to_id(id: i64) -> Result<u32, String> {
    u32::try_from(id).map_err(|_| format!("invalid user or group id {id}"))
}

/// The `(name, uid, gid)` of the first passwd line matching `f`.
fn passwd_entry(passwd: &str, f: impl Fn(&str, u32, u32) -> bool) -> Option<(String, u32, u32)> {
    passwd.lines().find_map(|line| {
        let mut parts = line.split(':');
        let name = parts.next()?;
        let _password = parts.next()?;
        let uid = parts.next()?.parse().ok()?;
        let gid = parts.next()?.parse().ok()?;
        f(name, uid, gid).then(|| (name.to_string(), uid, gid))
    })
}

fn group_id(group: &str, name: &str) -> Option<u32> {
    group.lines().find_map(|line| {
        let mut parts = line.split(':');
        (parts.next()? == name).then_some(())?;
        parts.next()?;
        parts.next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:44:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\n";

    fn inputs(image_user: &str) -> UserInputs<'_> {
        UserInputs {
            image_user,
            passwd: PASSWD,
            group: GROUP,
            ..UserInputs::default()
        }
    }

    #[test]
    fn no_user_is_root() {
        assert_eq!(resolve(&inputs("")).unwrap(), User::default());
    }

    #[test]
    fn image_user_names_and_numbers_resolve_from_the_rootfs() {
        let u = resolve(&inputs("www")).unwrap();
        assert_eq!((u.uid, u.gid), (33, 44));
        let u = resolve(&inputs("33")).unwrap();
        assert_eq!((u.uid, u.gid), (33, 44));
        let u = resolve(&inputs("1000:staff")).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        let u = resolve(&inputs("www:7")).unwrap();
        assert_eq!((u.uid, u.gid), (33, 7));
        assert!(resolve(&inputs("nobody-here")).is_err());
    }

    #[test]
    fn the_security_context_wins_over_the_image() {
        let mut i = inputs("www:staff");
        i.run_as_user = Some(1234);
        let u = resolve(&i).unwrap();
        assert_eq!((u.uid, u.gid), (1234, 0));
        i.run_as_group = Some(99);
        i.supplemental_groups = vec![5, 6];
        let u = resolve(&i).unwrap();
        assert_eq!((u.uid, u.gid, u.additional_gids), (1234, 99, vec![5, 6]));
    }
}

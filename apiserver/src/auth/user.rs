//! Who a request comes from, as authentication established it.

/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group of requests that carried no credential (allowed only on the
/// few public paths).
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The group that bypasses authorization (cluster admins, the apiserver's
/// own kubelet client, requests on the loopback insecure port).
pub const MASTERS: &str = "system:masters";

/// The user a request is attributed to (upstream's `user.Info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// `kubernetes-admin`, `system:node:node-0`, `system:bootstrap:abcdef`, ...
    pub name: String,
    /// Unique id, when the authenticator has one (token file column 3).
    pub uid: String,
    /// Groups, `system:authenticated` included for authenticated users.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The user of the loopback insecure port: as upstream's old insecure
    /// port, it is trusted completely (`system:unsecured` in
    /// `system:masters`).
    pub fn unsecured() -> UserInfo {
        UserInfo {
            name: "system:unsecured".into(),
            uid: String::new(),
            groups: vec![MASTERS.into(), AUTHENTICATED.into()],
        }
    }

    /// A request without credentials.
    pub fn anonymous() -> UserInfo {
        UserInfo {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec![UNAUTHENTICATED.into()],
        }
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

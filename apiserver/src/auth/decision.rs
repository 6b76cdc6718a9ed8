//! What one authorizer says about one request.

/// An authorizer's answer. As upstream's Node and RBAC authorizers, ours
/// never deny outright: "no opinion" lets the next authorizer decide, and
/// a request nobody allows is refused with every reason given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not allowed by this authorizer; the reason (may be empty) ends up
    /// in the 403 message.
    NoOpinion(String),
}

impl Decision {
    /// No opinion, with a reason.
    pub fn no(reason: impl Into<String>) -> Decision {
        Decision::NoOpinion(reason.into())
    }

    /// Allow when `ok`, else no opinion for `reason`.
    pub fn allow_if(ok: bool, reason: impl FnOnce() -> String) -> Decision {
        if ok {
            Decision::Allow
        } else {
            Decision::NoOpinion(reason())
        }
    }
}

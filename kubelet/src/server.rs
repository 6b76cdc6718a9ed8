//! The kubelet's HTTP server (`--port`, 10250): `/healthz`, `/pods`,
//! `/containerLogs/{ns}/{pod}/{container}` (what the apiserver's
//! `pods/log` proxies to).
//!
//! SKELETON (issue 5 integration): the server engineer fills it in.

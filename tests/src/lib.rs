//! Test harness: starts real binaries (apiserver, etcd) on free ports and
//! cleans up after them.

#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, the storage conformance
# suite (embedded SQLite and a real etcd), API integration tests against
# real apiserver processes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Integration tests start the built binaries.
cargo build --workspace --bins
cargo test --workspace

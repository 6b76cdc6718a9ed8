#!/usr/bin/env bash
# Installs Tugboat on this machine from a built tree (deploy/README.md):
# the binaries, the systemd units (deploy/systemd/), the example settings
# (deploy/tugboat.env.example), the br_netfilter/sysctl settings nodes
# need, and the guide. It never overwrites /etc/tugboat/tugboat.env once it
# exists, and never starts or enables a unit: the guide says which units run
# on which VM.
#
#   cargo build --release --workspace --bins
#   sudo scripts/install.sh                      # into /usr/local and /etc
#   scripts/install.sh --prefix /tmp/tug         # a tree under /tmp/tug (tests)
#
# Options:
#   --prefix DIR     binaries go to DIR/bin, the guide to DIR/share/doc/tugboat
#                    (default /usr/local). With a prefix other than /usr/local
#                    everything else goes under it too (DIR/etc/tugboat,
#                    DIR/lib/systemd/system, DIR/etc/sysctl.d, ...) and the
#                    units' paths are rewritten to point there.
#   --bin-from DIR   where the built binaries are (default target/release,
#                    or $CARGO_TARGET_DIR/release when that is set)
set -euo pipefail
cd "$(dirname "$0")/.."

BINARIES=(tug-apiserver tug-scheduler tug-controller-manager tug-kubelet tug-proxy tugctl)

prefix=/usr/local
bin_from="${CARGO_TARGET_DIR:-target}/release"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --bin-from) bin_from="${2:?--bin-from needs a directory}"; shift 2 ;;
    --bin-from=*) bin_from="${1#*=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
prefix="${prefix%/}"

if [ "$prefix" = /usr/local ]; then
  etc=/etc
  unit_dir=/etc/systemd/system
else
  etc="$prefix/etc"
  unit_dir="$prefix/lib/systemd/system"
fi

for b in "${BINARIES[@]}"; do
  if [ ! -x "$bin_from/$b" ]; then
    echo "install.sh: $bin_from/$b not found: run \`cargo build --release --workspace --bins\` first" >&2
    exit 1
  fi
done

install -d "$prefix/bin" "$prefix/share/doc/tugboat/deploy" "$unit_dir" \
  "$etc/tugboat" "$etc/sysctl.d" "$etc/modules-load.d"
for b in "${BINARIES[@]}"; do
  install -m 0755 "$bin_from/$b" "$prefix/bin/$b"
done

# The units name /usr/local/... and /etc/tugboat/...: point them at this
# installation.
for unit in deploy/systemd/*.service; do
  sed -e "s|/usr/local/|$prefix/|g" -e "s|/etc/tugboat/|$etc/tugboat/|g" "$unit" \
    >"$unit_dir/$(basename "$unit").tmp"
  chmod 0644 "$unit_dir/$(basename "$unit").tmp"
  mv "$unit_dir/$(basename "$unit").tmp" "$unit_dir/$(basename "$unit")"
done

install -m 0644 deploy/tugboat.env.example "$etc/tugboat/tugboat.env.example"
if [ ! -e "$etc/tugboat/tugboat.env" ]; then
  install -m 0600 deploy/tugboat.env.example "$etc/tugboat/tugboat.env"
  created_env=yes
fi
install -m 0644 deploy/sysctl.d/90-tugboat.conf "$etc/sysctl.d/90-tugboat.conf"
install -m 0644 deploy/modules-load.d/tugboat.conf "$etc/modules-load.d/tugboat.conf"
install -m 0644 deploy/README.md "$prefix/share/doc/tugboat/deploy/README.md"

# Tell a running systemd about the units it loads from.
if [ "$unit_dir" = /etc/systemd/system ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi

echo "Installed ${BINARIES[*]} into $prefix/bin"
echo "  units: $unit_dir/tug-*.service"
if [ "${created_env:-}" = yes ]; then
  echo "  settings: $etc/tugboat/tugboat.env (from the example: edit it before starting anything)"
else
  echo "  settings: $etc/tugboat/tugboat.env kept; the new example is $etc/tugboat/tugboat.env.example"
fi
echo "  node prerequisites: $etc/modules-load.d/tugboat.conf, $etc/sysctl.d/90-tugboat.conf"

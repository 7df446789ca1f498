#!/usr/bin/env bash
# scim-rotator side by side with a Bolt for JavaScript 5.1 app, on 127.0.0.1 only.
#
#   bash bench/side-by-side.sh [--rounds N] [--seconds S]
#
# Builds the release binary and the harness (examples/side_by_side), installs the Bolt peer
# (../shared/peers/bolt-js, or $BOLT_PEER) into a temporary directory with `npm ci`, then runs
# the harness pinned to the last core; every server it starts is pinned to core 0. Prints the
# medians, the ratios to Bolt and the targets; removes the temporary directory and stops every
# process it started, also on Ctrl-C. Needs: cargo, node + npm (>= 20), taskset, 2 cores.
# Bounded: about 4 minutes of measuring with the defaults (3 rounds of 2 s phases).
set -euo pipefail
cd "$(dirname "$0")/.."
peer="${BOLT_PEER:-../shared/peers/bolt-js}"
[ -f "$peer/app.js" ] || peer=/work/shared/peers/bolt-js
[ -f "$peer/app.js" ] || { echo "no Bolt peer at $peer (set BOLT_PEER)" >&2; exit 2; }
for tool in cargo node npm taskset; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
cores=$(nproc)
[ "$cores" -ge 2 ] || { echo "needs 2 cores (server on one, load on the other)" >&2; exit 2; }
load_cpu=$((cores - 1))

scratch=$(mktemp -d "${TMPDIR:-/tmp}/side-by-side.XXXXXX")
harness_pid=
cleanup() {
  if [ -n "$harness_pid" ] && kill -0 "$harness_pid" 2>/dev/null; then
    kill -TERM "$harness_pid" 2>/dev/null || true
    wait "$harness_pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build --release --locked --bin scim-rotator --example side_by_side
mkdir -p "$scratch/bolt"
cp "$peer/app.js" "$peer/package.json" "$peer/package-lock.json" "$scratch/bolt/"
cp bench/bolt-socket-mode.js "$scratch/bolt/socket-mode.js"
chmod -R u+w "$scratch/bolt"
(cd "$scratch/bolt" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bot: $(git rev-parse --short HEAD 2>/dev/null || echo '?'), node $(node --version), bolt $(node -p "require('$scratch/bolt/node_modules/@slack/bolt/package.json').version")"

# The harness runs the load generator and the fake Slack/Microsoft/AWS on the last core.
taskset -c "$load_cpu" target/release/examples/side_by_side \
  --bot target/release/scim-rotator --bolt-dir "$scratch/bolt" --scratch "$scratch" \
  --server-cpu 0 "$@" &
harness_pid=$!
wait "$harness_pid"
harness_pid=
cp "$scratch/samples.tsv" target/side-by-side.tsv
echo "every run's figures: target/side-by-side.tsv"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

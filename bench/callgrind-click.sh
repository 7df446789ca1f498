#!/usr/bin/env bash
# Instructions per click, counted by callgrind: repeatable on a busy machine, where
# throughput is not. Not a test; not part of .ci/run.
#
#   [BOT=path/to/scim-rotator] bash bench/callgrind-click.sh [--no-build] [--ack|--reply]
#
# Runs the release bot under `valgrind --tool=callgrind` twice per kind of click, with
# $SMALL and $LARGE signed clicks sent one after another (examples/side_by_side --profile),
# and prints (Ir(LARGE) - Ir(SMALL)) / (LARGE - SMALL): the instructions one click costs,
# start-up and shutdown cancelled out. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
BOT=${BOT:-target/release/scim-rotator}
SMALL=${SMALL:-200}
LARGE=${LARGE:-1200}
build=1
kinds=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --ack) kinds+=(ack) ;;
    --reply) kinds+=(reply) ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
[ ${#kinds[@]} -gt 0 ] || kinds=(ack reply)
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
[ "$build" = 0 ] || cargo build --release --locked --bin scim-rotator --example side_by_side
scratch=$(mktemp -d "${TMPDIR:-/tmp}/callgrind-click.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cores=$(nproc)
ir() { # the total instruction count of one callgrind output
  grep -E '^(summary|totals):' "$1" | head -1 | awk '{print $2}'
}
for kind in "${kinds[@]}"; do
  flag=(); [ "$kind" = reply ] && flag=(--reply)
  declare -A total=()
  for n in "$SMALL" "$LARGE"; do
    out="$scratch/$kind.$n"
    SBS_BOT_WRAP="valgrind --tool=callgrind --callgrind-out-file=$out.%p" \
      taskset -c "$((cores - 1))" target/release/examples/side_by_side \
      --bot "$BOT" --scratch "$scratch" --server-cpu 0 \
      --profile "$n" "${flag[@]}" | sed "s/^/  $kind $n: /"
    file=$(ls "$out".* | head -1)
    total[$n]=$(ir "$file")
  done
  per=$(( (total[$LARGE] - total[$SMALL]) / (LARGE - SMALL) ))
  echo "$kind: $per instructions per click (Ir ${total[$SMALL]} at $SMALL clicks, ${total[$LARGE]} at $LARGE)"
done

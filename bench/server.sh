#!/usr/bin/env bash
# bench/server.sh - backup and restore throughput through `rempart server`
# over loopback HTTPS, against a local repository, on the same corpus, in one
# run. Target (issue 2): through the server >= 80% of the local throughput.
#
#   SCALE=0.25 bash bench/server.sh
#
# Environment:
#   SCALE        corpus scale, 1 = ~2 GiB / ~60k files (default 0.5)
#   BENCH_DIR    work dir (default /tmp/rempart-server-bench); removed at the end unless KEEP=1
#   CORPUS_DIR   reuse/keep the corpus here (made by bench/mkcorpus)
#   RESULTS_DIR  where results go (default bench/results), RESULTS_NAME (default server-latest)
#   ROUNDS       repetitions of each timed step, the median is kept (default 3)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=${SCALE:-0.5}
BENCH_DIR=${BENCH_DIR:-/tmp/rempart-server-bench}
KEEP=${KEEP:-0}
ROUNDS=${ROUNDS:-3}
RESULTS_DIR=${RESULTS_DIR:-$REPO_ROOT/bench/results}
RESULTS_NAME=${RESULTS_NAME:-server-latest}
export REMPART_PASSWORD=rempart-bench-password
ADMIN_PASSWORD=rempart-bench-admin-password
unset XDG_CONFIG_HOME REMPART_REPO

log() { printf '[server-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[server-bench] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a positive number, got '$SCALE'"
[[ $BENCH_DIR = /tmp/?* ]] || die "BENCH_DIR must be a directory under /tmp, got '$BENCH_DIR'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{bin,logs} "$RESULTS_DIR"
W=$BENCH_DIR
CORPUS_DIR=${CORPUS_DIR:-$W/corpus}
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    if [[ $KEEP != 1 ]]; then rm -rf "$W"; fi
}
trap cleanup EXIT

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

log "building rempart and mkcorpus"
(cd "$REPO_ROOT" && CGO_ENABLED=0 go build -o "$W/bin/rempart" ./cmd/rempart && go build -o "$W/bin/mkcorpus" ./bench/mkcorpus)
R=$W/bin/rempart
if [[ ! -d $CORPUS_DIR || -z $(ls -A "$CORPUS_DIR" 2>/dev/null) ]]; then
    log "generating corpus at SCALE=$SCALE into $CORPUS_DIR"
    "$W/bin/mkcorpus" -q "$CORPUS_DIR" "$SCALE" >"$W/logs/mkcorpus.log"
fi
BYTES=$(find "$CORPUS_DIR" -type f -printf '%s\n' | awk '{s+=$1} END{printf "%d\n", s}')
FILES=$(find "$CORPUS_DIR" -type f | wc -l)
log "corpus: $FILES files, $BYTES bytes"

# timed NAME cmd... : wall seconds of one run, caches dropped first.
timed() {
    local name=$1 t0 t1
    shift
    drop_caches
    t0=$(date +%s.%N)
    "$@" >"$W/logs/$name.log" 2>&1 || { tail -20 "$W/logs/$name.log" >&2; die "$name failed: $*"; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f\n", b - a}'
}
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# run_mode MODE REPO ENV... : ROUNDS x (fresh repository, full backup,
# restore), medians of each.
run_mode() {
    local mode=$1 repo=$2
    shift 2
    local b=() r=()
    for i in $(seq "$ROUNDS"); do
        if [[ $mode = local ]]; then
            rm -rf "$repo"
            env "$@" "$R" init --repo "$repo" >/dev/null
            b+=("$(timed "$mode-backup-$i" env "$@" "$R" backup -q --repo "$repo" "$CORPUS_DIR")")
        else
            # A new tenant per round: the server keeps everything it received.
            local tenant=bench-$i
            env HOME="$W/admin" "$R" tenant create "$tenant" >/dev/null
            local tok
            tok=$(env HOME="$W/admin" "$R" agent enroll --tenant "$tenant" --json | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
            local agent_home=$W/agent-$i
            mkdir -p "$agent_home"
            env HOME="$agent_home" "$R" agent join "$URL" "$tok" --ca-fingerprint "$FP" >/dev/null
            repo=$URL/$tenant
            env HOME="$agent_home" "$R" init --repo "$repo" >/dev/null
            b+=("$(timed "$mode-backup-$i" env HOME="$agent_home" "$R" backup -q --repo "$repo" "$CORPUS_DIR")")
            set -- HOME="$agent_home"
        fi
        rm -rf "$W/restore"
        r+=("$(timed "$mode-restore-$i" env "$@" "$R" restore -q --repo "$repo" latest --target "$W/restore")")
        rm -rf "$W/restore"
    done
    printf '%s\n' "${b[@]}" | median
    printf '%s\n' "${r[@]}" | median
}

log "local repository: $ROUNDS rounds"
mapfile -t LOCAL < <(run_mode local "$W/repo-local" HOME="$W/local-home")

log "starting rempart server on 127.0.0.1"
mkdir -p "$W/admin"
env REMPART_ADMIN_PASSWORD=$ADMIN_PASSWORD HOME="$W/admin" "$R" server --listen 127.0.0.1:0 --data "$W/server" --json >"$W/logs/server.out" 2>"$W/logs/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q '"url"' "$W/logs/server.out" 2>/dev/null && break
    sleep 0.1
done
URL=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$W/logs/server.out")
FP=$(sed -n 's/.*"ca_fingerprint": *"\([^"]*\)".*/\1/p' "$W/logs/server.out")
[[ -n $URL && -n $FP ]] || { cat "$W/logs/server.err" >&2; die "the server did not start"; }
env HOME="$W/admin" REMPART_LOGIN_PASSWORD=$ADMIN_PASSWORD "$R" login "$URL" --user admin --ca-fingerprint "$FP" >/dev/null
log "server at $URL: $ROUNDS rounds"
mapfile -t REMOTE < <(run_mode server "" )

mbps() { echo "scale=1; $BYTES / $1 / 1000000" | bc; }
pct() { echo "scale=0; 100 * $1 / $2" | bc; }
REV=$(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
OUT=$RESULTS_DIR/$RESULTS_NAME.md
{
    echo "corpus: $FILES files, $BYTES bytes (SCALE=$SCALE); rempart $REV; $ROUNDS rounds, median; caches dropped before each step"
    echo
    echo "| step | local s | local MB/s | server s | server MB/s | server/local |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| full backup | ${LOCAL[0]} | $(mbps "${LOCAL[0]}") | ${REMOTE[0]} | $(mbps "${REMOTE[0]}") | $(pct "${LOCAL[0]}" "${REMOTE[0]}")% |"
    echo "| restore | ${LOCAL[1]} | $(mbps "${LOCAL[1]}") | ${REMOTE[1]} | $(mbps "${REMOTE[1]}") | $(pct "${LOCAL[1]}" "${REMOTE[1]}")% |"
} | tee "$OUT"
log "results in $OUT"

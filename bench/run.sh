#!/usr/bin/env bash
# bench/run.sh - peer benchmark: rempart vs restic vs kopia on the same corpus,
# in one run. See bench/README.md.
#
#   SCALE=0.05 TOOLS="restic kopia" bench/run.sh
#
# Environment:
#   SCALE        corpus scale, 1 = ~2 GiB / ~60k files (default 1)
#   BENCH_DIR    work dir (default /tmp/rempart-bench); removed at the end unless KEEP=1
#   TOOLS        tools to run, in order (default "rempart restic kopia")
#   KEEP         1 = keep BENCH_DIR (corpus, repositories, logs) at the end
#   VERIFY       1 = compare the restored tree with the source, untimed (default 1)
#   CORPUS_DIR   reuse/keep the pristine corpus here instead of BENCH_DIR/corpus
#   RESULTS_DIR  where results go (default bench/results), RESULTS_NAME (default latest)
#   BIN_DIR      peer binaries cache (default $HOME/.cache/rempart-bench/bin)
#   KOPIA_VERSION (default v0.22.3), KOPIA_COMPRESSION (default zstd, "none" for off)
#   RESTIC_COMPRESSION (default auto)
#   STEP_TIMEOUT seconds per timed step (default 7200)
#   REQUIRE_REMPART 1 = fail if ./cmd/rempart does not build (default: skip it with a warning)
#   RESTIC_PASSWORD, KOPIA_PASSWORD, REMPART_PASSWORD (default: a fixed bench password)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=${SCALE:-1}
BENCH_DIR=${BENCH_DIR:-/tmp/rempart-bench}
TOOLS=${TOOLS:-"rempart restic kopia"}
KEEP=${KEEP:-0}
VERIFY=${VERIFY:-1}
RESULTS_DIR=${RESULTS_DIR:-$REPO_ROOT/bench/results}
RESULTS_NAME=${RESULTS_NAME:-latest}
BIN_DIR=${BIN_DIR:-${HOME:-/root}/.cache/rempart-bench/bin}
KOPIA_VERSION=${KOPIA_VERSION:-v0.22.3}
KOPIA_COMPRESSION=${KOPIA_COMPRESSION:-zstd}
RESTIC_COMPRESSION=${RESTIC_COMPRESSION:-auto}
STEP_TIMEOUT=${STEP_TIMEOUT:-7200}
REQUIRE_REMPART=${REQUIRE_REMPART:-0}
export RESTIC_PASSWORD=${RESTIC_PASSWORD:-rempart-bench-password}
export KOPIA_PASSWORD=${KOPIA_PASSWORD:-rempart-bench-password}
export REMPART_PASSWORD=${REMPART_PASSWORD:-rempart-bench-password}
export KOPIA_CHECK_FOR_UPDATES=false

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ checks
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a positive number, got '$SCALE'"
[[ $BENCH_DIR = /* ]] || die "BENCH_DIR must be an absolute path, got '$BENCH_DIR'"
BENCH_DIR=${BENCH_DIR%/}
case "$BENCH_DIR" in
"" | /root | /home | /home/* | /tmp | /var | /var/tmp | /work | /usr | /usr/* | /etc | /etc/* | "${HOME:-/root}" | "$REPO_ROOT" | "$REPO_ROOT"/*)
    [[ $BENCH_DIR = /home/*/?* && $BENCH_DIR != "${HOME:-/root}" && $BENCH_DIR != "$REPO_ROOT"* ]] ||
        die "refusing BENCH_DIR=$BENCH_DIR (pick a dedicated directory such as /tmp/rempart-bench, outside the repository)" ;;
esac
for t in $TOOLS; do
    case $t in rempart | restic | kopia) ;; *) die "unknown tool '$t' in TOOLS (rempart, restic, kopia)" ;; esac
done
[[ -n ${TOOLS// /} ]] || die "TOOLS is empty"

MARKER=.rempart-bench-workdir
if [[ -e $BENCH_DIR ]]; then
    if [[ -n $(ls -A "$BENCH_DIR") && ! -e $BENCH_DIR/$MARKER ]]; then
        die "$BENCH_DIR exists, is not empty and was not made by this script; remove it or set BENCH_DIR"
    fi
    log "cleaning previous work dir $BENCH_DIR"
    rm -rf "${BENCH_DIR:?}"
fi
mkdir -p "$BENCH_DIR"
touch "$BENCH_DIR/$MARKER"
W=$BENCH_DIR
mkdir -p "$W/logs" "$W/bin" "$W/out" "$RESULTS_DIR"
DATA=$W/data # the path every tool backs up (same path => incremental)
CORPUS_DIR=${CORPUS_DIR:-$W/corpus}

cleanup() {
    local rc=$?
    if [[ $KEEP = 1 ]]; then
        log "KEEP=1: work dir kept in $W"
    elif [[ $rc -ne 0 ]]; then
        # keep the logs for post-mortem, drop the bulky data
        rm -rf "$W/data" "$W/repo-"* "$W/restore-"* "$W/cache" "$W/corpus" 2>/dev/null || true
        log "failed (exit $rc): logs kept in $W/logs"
    else
        rm -rf "${W:?}"
        log "work dir $W removed"
    fi
    return $rc
}
trap cleanup EXIT

# ------------------------------------------------------------------ installs
APT_UPDATED=0
apt_install() { # pkg...
    [[ $(id -u) = 0 ]] || die "need root to apt-get install $*; install it yourself"
    if [[ $APT_UPDATED = 0 ]]; then
        log "apt-get update"
        apt-get update -qq >"$W/logs/apt-update.log" 2>&1 || die "apt-get update failed (see $W/logs/apt-update.log)"
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$W/logs/apt-install.log" 2>&1 ||
        die "apt-get install $* failed (see $W/logs/apt-install.log)"
}

[[ -x /usr/bin/time ]] || apt_install time
command -v jq >/dev/null || apt_install jq
command -v go >/dev/null || die "go is not on PATH"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"

has_tool() { [[ " $TOOLS " = *" $1 "* ]]; }

RESTIC=${RESTIC_BIN:-}
if has_tool restic; then
    if [[ -z $RESTIC ]]; then
        command -v restic >/dev/null || apt_install restic
        RESTIC=$(command -v restic)
    fi
    log "restic: $RESTIC ($("$RESTIC" version | head -1))"
fi

install_kopia() {
    local want=${KOPIA_VERSION#v} t0 dir
    mkdir -p "$BIN_DIR"
    local ldflags="-s -w -X github.com/kopia/kopia/repo.BuildVersion=$want -X github.com/kopia/kopia/repo.BuildInfo=$KOPIA_VERSION-go-module"
    t0=$(date +%s)
    log "building kopia $KOPIA_VERSION into $BIN_DIR (takes a few minutes the first time)"
    # go install pkg@version ignores the current module; run it from / anyway
    if (cd / && GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "$ldflags" "github.com/kopia/kopia@$KOPIA_VERSION") >"$W/logs/kopia-install.log" 2>&1; then
        log "kopia: go install OK in $(($(date +%s) - t0))s"
    else
        log "go install kopia@$KOPIA_VERSION refused ($(grep -m1 -iE 'error|forbidden|refus' "$W/logs/kopia-install.log" || tail -1 "$W/logs/kopia-install.log")); building from the module cache"
        dir=$(cd / && go mod download -json "github.com/kopia/kopia@$KOPIA_VERSION" | jq -r .Dir) ||
            die "go mod download github.com/kopia/kopia@$KOPIA_VERSION failed"
        [[ -d $dir ]] || die "kopia module dir not found after download"
        (cd "$dir" && GOFLAGS=-buildvcs=false go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/kopia.tmp" .) >>"$W/logs/kopia-install.log" 2>&1 ||
            die "building kopia failed (see $W/logs/kopia-install.log)"
        mv "$BIN_DIR/kopia.tmp" "$BIN_DIR/kopia"
        log "kopia: built from module cache in $(($(date +%s) - t0))s"
    fi
}

KOPIA=${KOPIA_BIN:-}
if has_tool kopia; then
    if [[ -z $KOPIA ]]; then
        KOPIA=$BIN_DIR/kopia
        if ! [[ -x $KOPIA ]] || [[ $("$KOPIA" --version 2>/dev/null | awk '{print $1}') != "${KOPIA_VERSION#v}" ]]; then
            install_kopia
        fi
    fi
    log "kopia: $KOPIA ($("$KOPIA" --version 2>&1 | head -1))"
fi

REMPART=$W/bin/rempart
if has_tool rempart; then
    log "building rempart (go build ./cmd/rempart)"
    if (cd "$REPO_ROOT" && go build -o "$REMPART" ./cmd/rempart) >"$W/logs/rempart-build.log" 2>&1; then
        log "rempart: built $(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '(no commit)')"
    else
        sed 's/^/    /' "$W/logs/rempart-build.log" | head -20 >&2
        [[ $REQUIRE_REMPART = 1 ]] && die "rempart does not build"
        log "WARNING: rempart does not build; skipping it (REQUIRE_REMPART=1 makes this fatal)"
        TOOLS=$(echo " $TOOLS " | sed 's/ rempart / /g')
        [[ -n ${TOOLS// /} ]] || die "no tool left to benchmark"
    fi
fi

tool_version() {
    case $1 in
    restic) "$RESTIC" version | head -1 | awk '{print $2}' ;;
    kopia) "$KOPIA" --version 2>&1 | head -1 | awk '{print $1}' ;;
    rempart)
        "$REMPART" version 2>/dev/null | head -1 | sed "s/^rempart //" || "$REMPART" --version 2>/dev/null | head -1 ||
            (cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null) || echo dev
        ;;
    esac
}

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
[[ $(awk '{print ($1 > 0.5)}' /proc/loadavg) = 1 ]] && log "WARNING: load average is $LOADAVG: other processes compete for the CPUs and skew timings"

# ------------------------------------------------------------------ page cache
DROP_CACHES=yes
if ! (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
    DROP_CACHES=no
    log "WARNING: cannot drop the page cache (not root or not permitted): timings include warm-cache effects"
fi
drop_caches() {
    sync
    [[ $DROP_CACHES = yes ]] && { echo 3 >/proc/sys/vm/drop_caches || true; }
    return 0
}

# ------------------------------------------------------------------ corpus
log "building mkcorpus"
(cd "$REPO_ROOT" && go build -o "$W/bin/mkcorpus" ./bench/mkcorpus) || die "go build ./bench/mkcorpus failed"
STAMP="scale=$SCALE mkcorpus=$(cat "$REPO_ROOT"/bench/mkcorpus/*.go | sha256sum | cut -c1-16) go=$(go env GOVERSION)"
if [[ -f $CORPUS_DIR/../.corpus-stamp-$(basename "$CORPUS_DIR") && $(cat "$CORPUS_DIR/../.corpus-stamp-$(basename "$CORPUS_DIR")") = "$STAMP" ]]; then
    log "reusing corpus $CORPUS_DIR ($STAMP)"
else
    if [[ -e $CORPUS_DIR && -n $(ls -A "$CORPUS_DIR") && $CORPUS_DIR != "$W/corpus" && ! -f $CORPUS_DIR/../.corpus-stamp-$(basename "$CORPUS_DIR") ]]; then
        die "CORPUS_DIR=$CORPUS_DIR is not empty and was not made by this script"
    fi
    rm -rf "$CORPUS_DIR"
    log "generating corpus at SCALE=$SCALE into $CORPUS_DIR"
    "$W/bin/mkcorpus" -q "$CORPUS_DIR" "$SCALE" | tee "$W/logs/mkcorpus.log" >&2
    echo "$STAMP" >"$CORPUS_DIR/../.corpus-stamp-$(basename "$CORPUS_DIR")"
fi

tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END{printf "%d\n", s}'; }
tree_files() { find "$1" -type f | wc -l; }
CORPUS_BYTES=$(tree_bytes "$CORPUS_DIR")
CORPUS_FILES=$(tree_files "$CORPUS_DIR")
log "corpus: $CORPUS_FILES files, $CORPUS_BYTES bytes"
df_avail=$(df -B1 --output=avail "$W" | tail -1)
((df_avail > CORPUS_BYTES * 4)) || die "not enough free space in $W: need ~4x the corpus ($((CORPUS_BYTES * 4 / 1000000)) MB)"

# ------------------------------------------------------------------ per tool
STEPS=$W/out/steps.jsonl
TOOLINFO=$W/out/tools.jsonl
: >"$STEPS"
: >"$TOOLINFO"

# timed TOOL STEP BYTES cmd... : drop caches, run under /usr/bin/time -v,
# append a JSON line to $STEPS. Fails (returns non-zero) if the command fails.
timed() {
    local tool=$1 step=$2 bytes=$3
    shift 3
    local tf=$W/logs/$tool-$step.time lf=$W/logs/$tool-$step.log t0 t1 rc=0
    drop_caches
    log "$tool: $step"
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$tf" timeout "$STEP_TIMEOUT" "$@" >"$lf" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    if [[ $rc -ne 0 ]]; then
        log "$tool: $step FAILED (exit $rc): $*"
        tail -15 "$lf" | sed 's/^/    /' >&2
        return "$rc"
    fi
    local rss user sys
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$tf")
    user=$(awk -F': ' '/User time/{print $2}' "$tf")
    sys=$(awk -F': ' '/System time/{print $2}' "$tf")
    jq -cn --arg tool "$tool" --arg step "$step" --argjson t0 "$t0" --argjson t1 "$t1" \
        --argjson bytes "$bytes" --argjson rss "${rss:-0}" --argjson user "${user:-0}" --argjson sys "${sys:-0}" \
        '{tool:$tool, step:$step, seconds:(($t1-$t0)*1000|round/1000), bytes:$bytes,
          mb_per_s:(if ($t1-$t0)>0 then ($bytes/1e6/($t1-$t0)*10|round/10) else null end),
          max_rss_kib:$rss, user_s:$user, sys_s:$sys}' >>"$STEPS"
    log "$tool: $step done in $(jq -r 'select(.tool=="'"$tool"'" and .step=="'"$step"'") | "\(.seconds)s, \(.mb_per_s) MB/s, \(.max_rss_kib/1024|floor) MiB RSS"' "$STEPS")"
}

du_bytes() { du -sb "$1" | cut -f1; }

# find the restored copy of $DATA inside a restore target (tools differ:
# restic keeps the absolute path, kopia restores the directory's contents)
restored_root() {
    local t=$1 c
    for c in "$t$DATA" "$t/$(basename "$DATA")" "$t"; do
        [[ -f $c/db/shop-dump.sql || -f $c/vm/disk.img ]] && { echo "$c"; return 0; }
    done
    echo "$t"
}

# tool_env TOOL: per-tool environment (repository, caches, passwords come from above)
tool_env() {
    local repo=$W/repo-$1
    case $1 in
    restic) export RESTIC_REPOSITORY=$repo RESTIC_CACHE_DIR=$W/cache/restic ;;
    kopia) export KOPIA_CACHE_DIRECTORY=$W/cache/kopia KOPIA_CONFIG_PATH=$W/kopia/repository.config KOPIA_LOG_DIR=$W/logs/kopia ;;
    rempart) export REMPART_REPO=$repo XDG_CACHE_HOME=$W/cache/rempart ;;
    esac
}

# tool_cmd TOOL ACTION [TARGET]: sets the array CMD to the command to time
tool_cmd() {
    local k=("$KOPIA" --config-file="$W/kopia/repository.config" --log-dir="$W/logs/kopia")
    case $1:$2 in
    restic:backup) CMD=("$RESTIC" backup --host bench --compression "$RESTIC_COMPRESSION" "$DATA") ;;
    restic:restore) CMD=("$RESTIC" restore latest --host bench --target "$3") ;;
    restic:check) CMD=("$RESTIC" check --read-data) ;;
    restic:snapshots) CMD=("$RESTIC" snapshots --json) ;;
    kopia:backup) CMD=("${k[@]}" snapshot create --no-progress "$DATA") ;;
    kopia:restore) CMD=("${k[@]}" snapshot restore --no-progress --snapshot-time=latest "$DATA" "$3") ;;
    kopia:check) CMD=("${k[@]}" snapshot verify --no-progress --verify-files-percent=100) ;;
    kopia:snapshots) CMD=("${k[@]}" snapshot list --json "$DATA") ;;
    rempart:backup) CMD=("$REMPART" backup --host bench "$DATA") ;;
    rempart:restore) CMD=("$REMPART" restore latest --target "$3") ;;
    rempart:check) CMD=("$REMPART" check --read-data) ;;
    rempart:snapshots) CMD=("$REMPART" snapshots --json) ;;
    *) die "no command for $1 $2" ;;
    esac
}

tool_init() {
    case $1 in
    restic) "$RESTIC" init --repository-version 2 ;;
    kopia)
        mkdir -p "$W/kopia"
        "$KOPIA" --config-file="$W/kopia/repository.config" --log-dir="$W/logs/kopia" repository create filesystem \
            --path="$W/repo-kopia" --cache-directory="$W/cache/kopia" --no-persist-credentials
        "$KOPIA" --config-file="$W/kopia/repository.config" --log-dir="$W/logs/kopia" policy set --global --compression="$KOPIA_COMPRESSION"
        ;;
    rempart) "$REMPART" init ;;
    esac
}

bench_tool() {
    local tool=$1 repo=$W/repo-$1 target=$W/restore-$1 bytes0 bytes1 full incr verified=skipped
    log "===== $tool ====="
    rm -rf "$DATA" "$repo" "$target" "$W/cache/$tool"
    cp -a "$CORPUS_DIR" "$DATA"
    bytes0=$(tree_bytes "$DATA")
    tool_env "$tool"
    tool_init "$tool" >"$W/logs/$tool-init.log" 2>&1 || { log "$tool: init FAILED"; tail -15 "$W/logs/$tool-init.log" >&2; return 1; }

    tool_cmd "$tool" backup
    timed "$tool" backup_full "$bytes0" "${CMD[@]}"
    sync
    full=$(du_bytes "$repo")

    "$W/bin/mkcorpus" mutate "$DATA" "$SCALE" >"$W/logs/$tool-mutate.log" 2>&1 || { cat "$W/logs/$tool-mutate.log" >&2; return 1; }
    bytes1=$(tree_bytes "$DATA")
    timed "$tool" backup_incr "$bytes1" "${CMD[@]}"
    sync
    incr=$(du_bytes "$repo")

    tool_cmd "$tool" restore "$target"
    timed "$tool" restore "$bytes1" "${CMD[@]}"
    if [[ $VERIFY = 1 ]]; then
        local root
        root=$(restored_root "$target")
        if diff -r --no-dereference -q "$DATA" "$root" >"$W/logs/$tool-verify.log" 2>&1; then
            verified=ok
        else
            verified=MISMATCH
            log "$tool: restored tree differs from the source:"
            head -10 "$W/logs/$tool-verify.log" | sed 's/^/    /' >&2
        fi
    fi
    rm -rf "$target"

    tool_cmd "$tool" check
    timed "$tool" check "$bytes1" "${CMD[@]}"

    local nsnap cache
    tool_cmd "$tool" snapshots
    nsnap=$("${CMD[@]}" 2>/dev/null | jq length 2>/dev/null || echo null)
    cache=$( [[ -d $W/cache/$tool ]] && du_bytes "$W/cache/$tool" || echo 0)
    jq -cn --arg tool "$tool" --arg version "$(tool_version "$tool")" --argjson full "$full" --argjson incr "$incr" \
        --argjson cache "$cache" --arg verified "$verified" --arg nsnap "$nsnap" \
        '{tool:$tool, version:$version, status:"ok", repo_bytes_full:$full, repo_bytes_incr:$incr,
          cache_bytes:$cache, restore_verified:$verified, snapshots:($nsnap|tonumber? // null)}' >>"$TOOLINFO"
    [[ $verified != MISMATCH ]]
}

FAILED=()
for tool in $TOOLS; do
    set +e
    (
        set -euo pipefail
        bench_tool "$tool"
    )
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        FAILED+=("$tool")
        log "$tool: FAILED (exit $rc), see $W/logs/$tool-*.log"
        if ! grep -q "\"tool\":\"$tool\"" "$TOOLINFO"; then
            ver=$(tool_version "$tool" 2>/dev/null | head -1) || true
            jq -cn --arg tool "$tool" --arg version "${ver:-?}" \
                '{tool:$tool, version:$version, status:"FAILED"}' >>"$TOOLINFO"
        else
            # the run finished but the restored data did not match
            jq -c --arg t "$tool" 'if .tool==$t then .status="FAILED" else . end' "$TOOLINFO" >"$TOOLINFO.tmp" && mv "$TOOLINFO.tmp" "$TOOLINFO"
        fi
    fi
    rm -rf "$DATA" "$W/restore-$tool"
    [[ $KEEP = 1 ]] || rm -rf "$W/repo-$tool" "$W/cache/$tool"
done

# ------------------------------------------------------------------ report
CPU_MODEL=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
MEM_GIB=$(awk '/MemTotal/{printf "%.1f", $2/1048576}' /proc/meminfo)
JSON=$RESULTS_DIR/$RESULTS_NAME.json
MD=$RESULTS_DIR/$RESULTS_NAME.md
jq -n --slurpfile steps "$STEPS" --slurpfile tools "$TOOLINFO" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg scale "$SCALE" --arg drop "$DROP_CACHES" \
    --argjson files "$CORPUS_FILES" --argjson bytes "$CORPUS_BYTES" \
    --arg cpu "$CPU_MODEL" --argjson ncpu "$(nproc)" --arg mem "$MEM_GIB" \
    --arg rev "$(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo none)" \
    --arg load "$LOADAVG" --arg kc "$KOPIA_COMPRESSION" --arg rc "$RESTIC_COMPRESSION" \
    '{date:$date, rempart_rev:$rev, scale:($scale|tonumber), page_cache_dropped:($drop=="yes"),
      machine:{cpu:$cpu, cpus:$ncpu, mem_gib:($mem|tonumber), loadavg:$load},
      corpus:{files:$files, bytes:$bytes},
      settings:{restic_compression:$rc, kopia_compression:$kc, rempart:"defaults"},
      tools:[ $tools[] as $t | $t + {steps: ([ $steps[] | select(.tool==$t.tool) | {(.step): (del(.tool,.step))} ] | add // {})} ]}' >"$JSON"

jq -r '
  def mib: if . == null then "-" else (./1048576*10|round/10|tostring) end;
  def num: if . == null then "-" else tostring end;
  def ratio(a; b): if a == null or b == null or b == 0 then "-" else ((a/b*1000|round/1000)|tostring) end;
  "## Rempart peer benchmark (\(.date))",
  "",
  "Corpus: \(.corpus.files) files, \(.corpus.bytes/1e6*10|round/10) MB (SCALE=\(.scale)); machine: \(.machine.cpus) CPUs (\(.machine.cpu)), \(.machine.mem_gib) GiB RAM; load average at start: \(.machine.loadavg); page cache dropped before each timed step: \(if .page_cache_dropped then "yes" else "NO (warm-cache timings)" end).",
  "Settings: restic compression=\(.settings.restic_compression), kopia compression=\(.settings.kopia_compression), rempart defaults. MB = 10^6 bytes, MB/s = corpus bytes / wall seconds.",
  "",
  "| tool | version | full backup s | full MB/s | incr backup s | incr MB/s | restore s | restore MB/s | check s | check MB/s | repo MiB (full) | repo MiB (after incr) | repo/corpus | cache MiB | peak RSS MiB | restore verified |",
  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  (.corpus.bytes as $cb | .tools[] |
    "| \(.tool) | \(.version) | \(.steps.backup_full.seconds|num) | \(.steps.backup_full.mb_per_s|num) | \(.steps.backup_incr.seconds|num) | \(.steps.backup_incr.mb_per_s|num) | \(.steps.restore.seconds|num) | \(.steps.restore.mb_per_s|num) | \(.steps.check.seconds|num) | \(.steps.check.mb_per_s|num) | \(.repo_bytes_full|mib) | \(.repo_bytes_incr|mib) | \(ratio(.repo_bytes_full; $cb)) | \(.cache_bytes|mib) | \([.steps[]?.max_rss_kib] | max | if . == null then "-" else (./1024|round|tostring) end) | \(.restore_verified // .status) |"),
  "",
  "Per step (peak RSS from /usr/bin/time -v, CPU = user + sys seconds):",
  "",
  "| tool | step | wall s | MB/s | peak RSS MiB | CPU s | CPU/wall |",
  "|---|---|---:|---:|---:|---:|---:|",
  (.tools[] | .tool as $t | (.steps // {}) | to_entries[] |
    "| \($t) | \(.key) | \(.value.seconds) | \(.value.mb_per_s|num) | \(.value.max_rss_kib/1024|round) | \((.value.user_s+.value.sys_s)*100|round/100) | \(if .value.seconds > 0 then ((.value.user_s+.value.sys_s)/.value.seconds*100|round/100) else "-" end) |"),
  "",
  (.tools[] | select(.status != "ok") | "**\(.tool): \(.status)** (see the logs of the run)")
' "$JSON" >"$MD"

echo
cat "$MD"
echo
log "results: $MD and $JSON"
if ((${#FAILED[@]})); then
    die "failed tools: ${FAILED[*]}"
fi

#!/usr/bin/env bash
# Build-time benchmark for the lark-oapi workspace.
#
# Measures: generator run time, generated code size, cold `cargo check` of a small user
# crate against lark-oapi in several feature configurations (plus a dependencies-only
# floor), a cold check of the whole workspace, a warm re-check after editing one generated
# file, and a cold release build with every API feature.
#
# Usage: scripts/bench-build.sh [--only CASES] [--keep] [-j N] [--floor core|no-features]
#   --only CASES   comma-separated subset of:
#                  gen,lines,user-full,user-default,user-im,user-floor,peer,workspace,warm,release
#                  (peer: a user crate on the community crate openlark, BENCH_PEER_VERSION
#                  (=0.21.0) with BENCH_PEER_FEATURES, from crates.io, measured like user-full)
#   --keep         keep the temporary directory (snapshot, user crates, target dirs, logs)
#   -j, --jobs N   cargo jobs (default 2)
#   --floor MODE   how user-floor measures "everything but generated code":
#                    core        (default) a user crate depending on lark-oapi-core and the
#                                other normal dependencies of lark-oapi, with the same
#                                versions/features (read from `cargo metadata`; needs jq)
#                    no-features lark-oapi itself with default-features = false, no features
#
# Nothing in the repository is touched: the script benchmarks a snapshot of the working
# tree (everything except .git and cargo target dirs) copied under ${TMPDIR:-/tmp}, so
# codegen output, Cargo.lock updates and the warm-case edit all land in the snapshot, which
# is removed at the end (unless --keep).
#
# Memory: GNU time's "Maximum resident set size" is the largest RSS of any *single* process
# of the tree (the kernel folds in the max RSS of reaped descendants, it does not add them
# up), so with -j 2 it under-reports. The script therefore also samples the whole process
# tree from /proc every BENCH_SAMPLE_INTERVAL seconds (default 0.2) and reports the peak of
# the summed RSS (the headline figure) and of the summed PSS (shared pages such as
# librustc_driver counted once).
#
# Output: progress on stderr; one table and one line per case on stdout:
#   RESULT <name> <seconds|skipped|failed|-> <peak_MiB|-> [key=value ...]
# where peak_MiB is the peak summed RSS of the process tree; extra key=value fields follow.

set -uo pipefail

# ---------------------------------------------------------------------------------- options
ALL_CASES=(gen lines user-full user-default user-im user-floor peer workspace warm release)
ONLY=""
KEEP=0
JOBS=2
FLOOR_MODE=core
INTERVAL=${BENCH_SAMPLE_INTERVAL:-0.2}

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }

while (($#)); do
  case $1 in
    --only) ONLY=${2:?--only needs a list}; shift 2 ;;
    --only=*) ONLY=${1#--only=}; shift ;;
    --keep) KEEP=1; shift ;;
    -j | --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    --jobs=*) JOBS=${1#--jobs=}; shift ;;
    --floor) FLOOR_MODE=${2:?--floor needs core or no-features}; shift 2 ;;
    --floor=*) FLOOR_MODE=${1#--floor=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-build: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "bench-build: bad --jobs: $JOBS" >&2; exit 2; }
case $FLOOR_MODE in core | no-features) ;; *)
  echo "bench-build: bad --floor: $FLOOR_MODE (core or no-features)" >&2; exit 2 ;;
esac

declare -A SELECTED=()
if [[ -z $ONLY ]]; then
  for c in "${ALL_CASES[@]}"; do SELECTED[$c]=1; done
else
  IFS=',' read -r -a wanted <<<"$ONLY"
  for c in "${wanted[@]}"; do
    c=${c// /}
    [[ -z $c ]] && continue
    known=0
    for k in "${ALL_CASES[@]}"; do [[ $k == "$c" ]] && known=1; done
    if ((!known)); then
      echo "bench-build: unknown case '$c' (known: ${ALL_CASES[*]})" >&2
      exit 2
    fi
    SELECTED[$c]=1
  done
fi
selected() { [[ -n ${SELECTED[$1]:-} ]]; }

# ------------------------------------------------------------------------------ environment
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The generated API crates (the facade's own generated glue in sdk-generated/src/generated is tiny).
GEN_REL=sdk-generated/apis

for tool in cargo rustc /usr/bin/time awk; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench-build: $tool is required" >&2; exit 1; }
done
HAVE_JQ=0; command -v jq >/dev/null 2>&1 && HAVE_JQ=1
HAVE_SETSID=0; command -v setsid >/dev/null 2>&1 && HAVE_SETSID=1

# Cold builds must be cargo's defaults: no incremental override, no compiler cache.
ENV_NOTES=()
for v in CARGO_INCREMENTAL RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_JOBS CARGO_TARGET_DIR \
  CARGO_BUILD_TARGET_DIR CARGO_PROFILE_DEV_INCREMENTAL CARGO_PROFILE_RELEASE_INCREMENTAL; do
  if [[ -n ${!v+x} ]]; then
    ENV_NOTES+=("unset $v (was '${!v}')")
    unset "$v"
  fi
done
for v in RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER; do
  [[ -n ${!v:-} ]] && ENV_NOTES+=("disabled $v (was '${!v}')")
  export "$v="   # empty overrides any build.rustc-wrapper from cargo config
done
export CARGO_TERM_COLOR=never CARGO_TERM_PROGRESS_WHEN=never

PAGE_KIB=$(($(getconf PAGESIZE 2>/dev/null || echo 4096) / 1024))

TMP_BASE=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$TMP_BASE/bench-build.XXXXXX") || { echo "bench-build: mktemp failed" >&2; exit 1; }
SNAP=$WORK/src
LOGS=$WORK/logs
mkdir -p "$SNAP" "$LOGS"

# ------------------------------------------------------------------- cleanup and signals
CUR_PID=""       # the measured command (session leader when setsid is available)
SAMPLER_PID=""
WARM_FILE=""     # generated file edited by the warm case, while edited
WARM_BACKUP=""

restore_warm_file() {
  if [[ -n $WARM_FILE ]]; then
    if cp -p "$WARM_BACKUP" "$WARM_FILE" && cmp -s "$WARM_BACKUP" "$WARM_FILE"; then
      WARM_FILE=""
    else
      echo "bench-build: WARNING: could not restore $WARM_FILE from $WARM_BACKUP" >&2
    fi
  fi
}

stop_children() {
  if [[ -n $CUR_PID ]]; then
    if ((HAVE_SETSID)); then kill -TERM -- "-$CUR_PID" 2>/dev/null; fi
    kill -TERM "$CUR_PID" 2>/dev/null
    wait "$CUR_PID" 2>/dev/null
    CUR_PID=""
  fi
  if [[ -n $SAMPLER_PID ]]; then
    kill -TERM "$SAMPLER_PID" 2>/dev/null
    wait "$SAMPLER_PID" 2>/dev/null
    SAMPLER_PID=""
  fi
}

on_exit() {
  stop_children
  restore_warm_file
  if ((KEEP)); then
    echo "bench-build: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap on_exit EXIT
trap 'echo "bench-build: interrupted" >&2; exit 130' INT
trap 'echo "bench-build: terminated" >&2; exit 143' TERM HUP

log() { printf '%s\n' "$*" >&2; }

# --------------------------------------------------------------------- measuring machinery
# Sum of RSS and PSS (KiB) over the descendants of $1 (not $1 itself: that is GNU time).
TREE_RSS=0
TREE_PSS=0
tree_mem() {
  local root=$1 f line rest pid p k v
  local -a fields queue
  local -A kids=() rss=()
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    rest=${line##*) }            # fields from 3 (state) on; comm may contain spaces
    read -r -a fields <<<"$rest"
    ((${#fields[@]} > 21)) || continue
    pid=${f#/proc/}; pid=${pid%/stat}
    kids[${fields[1]}]+="$pid "  # field 4: ppid
    rss[$pid]=${fields[21]}      # field 24: rss in pages
  done
  TREE_RSS=0
  TREE_PSS=0
  queue=(${kids[$root]:-})
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    queue+=(${kids[$p]:-})
    TREE_RSS=$((TREE_RSS + ${rss[$p]:-0} * PAGE_KIB))
    while read -r k v _; do
      if [[ $k == Pss: ]]; then TREE_PSS=$((TREE_PSS + v)); break; fi
    done 2>/dev/null <"/proc/$p/smaps_rollup"
  done
}

# Runs in the background until $1 is gone; writes "peak_rss_kib peak_pss_kib samples" to $2.
sample_tree() {
  local root=$1 out=$2 peak_rss=0 peak_pss=0 n=0
  set +u   # a process vanishing mid-read must not kill the sampler
  trap 'echo "$peak_rss $peak_pss $n" >"$out"; exit 0' TERM
  while kill -0 "$root" 2>/dev/null; do
    tree_mem "$root"
    ((TREE_RSS > peak_rss)) && peak_rss=$TREE_RSS
    ((TREE_PSS > peak_pss)) && peak_pss=$TREE_PSS
    n=$((n + 1))
    sleep "$INTERVAL"
  done
  echo "$peak_rss $peak_pss $n" >"$out"
}

# measure <tag> <dir> <cmd...>: runs cmd in dir, output to $LOGS/<tag>.log.
# Sets M_SECS, M_RSS_MIB (peak tree RSS sum), M_PSS_MIB, M_MAX1_MIB (GNU time); returns rc.
measure() {
  local tag=$1 dir=$2 rc t0 t1 peak_rss peak_pss n max1
  shift 2
  local logf=$LOGS/$tag.log timef=$LOGS/$tag.time memf=$LOGS/$tag.mem
  : >"$memf"
  {
    printf '$ (cd %q &&' "$dir"
    printf ' %q' "$@"
    printf ')\n'
  } >"$logf"
  t0=$EPOCHREALTIME
  if ((HAVE_SETSID)); then
    (cd "$dir" && exec setsid /usr/bin/time -v -o "$timef" "$@") >>"$logf" 2>&1 </dev/null &
  else
    (cd "$dir" && exec /usr/bin/time -v -o "$timef" "$@") >>"$logf" 2>&1 </dev/null &
  fi
  CUR_PID=$!
  sample_tree "$CUR_PID" "$memf" &
  SAMPLER_PID=$!
  wait "$CUR_PID"
  rc=$?
  t1=$EPOCHREALTIME
  CUR_PID=""
  wait "$SAMPLER_PID" 2>/dev/null
  SAMPLER_PID=""
  read -r peak_rss peak_pss n <"$memf" || { peak_rss=0; peak_pss=0; n=0; }
  max1=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$timef" 2>/dev/null)
  M_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  M_MAX1_MIB=$((${max1:-0} / 1024))
  # user + system CPU of the whole tree (rustc children are reaped by cargo, so included):
  # less sensitive than wall time to other load on a shared machine.
  M_CPU=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { t += $2 } END { printf "%.1f", t }' "$timef" 2>/dev/null)
  # The tree's sum is never below its largest process; a run shorter than one sampling
  # interval may not have been sampled at all.
  ((peak_rss < ${max1:-0})) && peak_rss=${max1:-0}
  M_RSS_MIB=$((peak_rss / 1024))
  M_PSS_MIB=$((peak_pss / 1024))
  ((peak_pss > 0)) || M_PSS_MIB=-
  return "$rc"
}

# Untimed helper run (fetch, prerequisite builds); output appended to $LOGS/<tag>.log.
prep() {
  local tag=$1 dir=$2
  shift 2
  {
    printf '$ (cd %q &&' "$dir"
    printf ' %q' "$@"
    printf ')\n'
  } >>"$LOGS/$tag.log"
  if ((HAVE_SETSID)); then
    (cd "$dir" && exec setsid "$@") >>"$LOGS/$tag.log" 2>&1 </dev/null &
  else
    (cd "$dir" && exec "$@") >>"$LOGS/$tag.log" 2>&1 </dev/null &
  fi
  CUR_PID=$!
  wait "$CUR_PID"
  local rc=$?
  CUR_PID=""
  return "$rc"
}

# How many crates cargo built in a log (sanity check that a cold build was cold).
units_in() { grep -cE '^ *(Compiling|Checking) ' "$1" 2>/dev/null; }

show_failure() {
  log "   ... failed; last lines of $1:"
  tail -n 15 "$1" | sed 's/^/   | /' >&2
}

# ---------------------------------------------------------------------------- results
declare -A R_SECS=() R_RSS=() R_PSS=() R_MAX1=() R_CPU=() R_DETAIL=()
record() { # name secs rss pss max1 detail [cpu]
  R_SECS[$1]=$2; R_RSS[$1]=$3; R_PSS[$1]=$4; R_MAX1[$1]=$5; R_DETAIL[$1]=$6; R_CPU[$1]=${7:--}
}
log_result() {
  local c=$1
  if [[ ${R_SECS[$c]} == - ]]; then log "   -> $c: ${R_DETAIL[$c]}"
  elif [[ ${R_RSS[$c]} == - ]]; then log "   -> $c: ${R_SECS[$c]} (${R_DETAIL[$c]})"
  else log "   -> $c: ${R_SECS[$c]} s (cpu ${R_CPU[$c]} s), peak ${R_RSS[$c]} MiB (tree RSS), ${R_MAX1[$c]} MiB (1 proc)"; fi
}
record_measured() { record "$1" "$M_SECS" "$M_RSS_MIB" "$M_PSS_MIB" "$M_MAX1_MIB" "$2" "$M_CPU"; }

# -------------------------------------------------------------------------------- header
GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null | head -n 1) ]]; then GIT_REV+="+dirty"; fi
echo "bench-build  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  repo $REPO @ $GIT_REV"
echo "rustc:   $(rustc -V)"
echo "cargo:   $(cargo -V)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "nproc:   $(nproc)    jobs: $JOBS    memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)    load: $LOAD_START"
echo "cases:   $(for c in "${ALL_CASES[@]}"; do selected "$c" && printf '%s ' "$c"; done)"
for n in "${ENV_NOTES[@]}"; do echo "env:     $n"; done
echo

# ------------------------------------------------------------------------------ snapshot
# Copy the working tree (including uncommitted and untracked files) minus .git and any
# cargo target dir (they carry CACHEDIR.TAG), so the benchmark never writes into the repo.
log "== snapshot of $REPO -> $SNAP"
if ! tar -C "$REPO" --exclude=./.git --exclude=./target --exclude-caches-all -cf - . |
  tar -C "$SNAP" -xf -; then
  echo "bench-build: could not snapshot $REPO" >&2
  exit 1
fi
log "   $(du -sh "$SNAP" | cut -f1) copied"

# Package metadata of the snapshot (features, dependencies of lark-oapi); empty on failure.
METADATA=""
if ((HAVE_JQ)); then
  METADATA=$(cd "$SNAP" && cargo metadata --no-deps --format-version 1 2>"$LOGS/metadata.err") || METADATA=""
fi

# has_feature <feature>: does lark-oapi declare it?
has_feature() {
  if [[ -n $METADATA ]]; then
    jq -e --arg f "$1" '.packages[] | select(.name == "lark-oapi") | .features | has($f)' \
      <<<"$METADATA" >/dev/null
  else
    awk -v f="$1" '
      /^\[/ { in_f = ($0 ~ /^\[features\][ \t]*$/) ; next }
      in_f && $0 ~ "^[ \t]*\"?" f "\"?[ \t]*=" { found = 1 }
      END { exit !found }' "$SNAP/sdk-generated/Cargo.toml"
  fi
}

# ---------------------------------------------------------------------------- 1. gen
if selected gen; then
  log "== gen: cargo build --release -p xtask (untimed), then target/release/xtask codegen"
  if [[ ! -f $SNAP/xtask/Cargo.toml ]]; then
    record gen skipped - - - "no xtask/Cargo.toml"
  else
    xtask_built=0
    if prep gen "$SNAP" env CARGO_TARGET_DIR="$SNAP/target" cargo build --release -p xtask -j "$JOBS"; then
      xtask_built=1
    elif grep -q "did not match any packages" "$LOGS/gen.log"; then
      # xtask present but not a workspace member: build it from its own manifest.
      prep gen "$SNAP" env CARGO_TARGET_DIR="$SNAP/target" \
        cargo build --release --manifest-path xtask/Cargo.toml -j "$JOBS" && xtask_built=1
    fi
    if ((!xtask_built)) || [[ ! -x $SNAP/target/release/xtask ]]; then
      show_failure "$LOGS/gen.log"
      record gen failed - - - "xtask did not build (see log)"
    else
      # The snapshot keeps the built xtask; time the generator only.
      if measure gen-run "$SNAP" "$SNAP/target/release/xtask" codegen; then
        detail="xtask codegen"
        if [[ -d $REPO/$GEN_REL && -d $SNAP/$GEN_REL ]]; then
          if diff -rq "$REPO/$GEN_REL" "$SNAP/$GEN_REL" >/dev/null 2>&1; then
            detail+="; generated/ identical to the repo's"
          else
            detail+="; generated/ DIFFERS from the repo's"
          fi
        fi
        record_measured gen "$detail"
      else
        show_failure "$LOGS/gen-run.log"
        record gen failed - - - "xtask codegen exited non-zero (see log)"
      fi
    fi
  fi
  log_result gen
fi

# ---------------------------------------------------------------------------- 2. lines
if selected lines; then
  log "== lines: size of $GEN_REL"
  if [[ -d $SNAP/$GEN_REL ]]; then
    n_files=$(cd "$SNAP" && find "$GEN_REL" -name '*.rs' -type f | wc -l)
    n_lines=$(cd "$SNAP" && find "$GEN_REL" -name '*.rs' -type f -print0 | xargs -0 -r cat | wc -l)
    n_bytes=$(cd "$SNAP" && find "$GEN_REL" -name '*.rs' -type f -print0 | xargs -0 -r cat | wc -c)
    record lines - - - - "lines=$n_lines files=$n_files MiB=$(awk -v b="$n_bytes" 'BEGIN{printf "%.1f", b/1048576}')"
  else
    record lines skipped - - - "no $GEN_REL"
  fi
  log_result lines
fi

# ------------------------------------------------------------------------ 3. user crate
# user_main [api expression]: the user crate's main.rs; the expression (using `client`)
# touches the generated API where the case enables it.
user_main() {
  cat <<EOF
fn main() {
    // Something real from the SDK, so the dependency is not trivially unused.
    let config = lark_oapi::Config::builder("cli_bench_build", "bench-secret")
        .build()
        .expect("valid config");
    let client = lark_oapi::Client::new(config);
${1:+    let _api = $1;
}    println!("{} {:p}", lark_oapi::USER_AGENT, &client);
}
EOF
}

# The generated-API expression for user-full and user-im: BENCH_API_EXPR if set (empty:
# none), else `client.im().message()` when the generated code has those accessors.
API_EXPR=""
if [[ -n ${BENCH_API_EXPR+x} ]]; then
  API_EXPR=$BENCH_API_EXPR
elif grep -qs 'pub fn im(' "$SNAP/sdk-generated/src/generated/mod.rs" &&
  cat "$SNAP"/$GEN_REL/*/src/generated/im/mod.rs 2>/dev/null | grep -qs 'pub fn message('; then
  API_EXPR='client.im().message()'
fi

# TOML tables for lark-oapi's normal, non-optional dependencies, with lark-oapi-core under
# the crate name `lark_oapi` so the same main.rs compiles against it.
floor_deps_toml() {
  jq -r '
    .packages[] | select(.name == "lark-oapi") | .dependencies[]
    | select(.kind == null and (.optional | not))
    | (if .name == "lark-oapi-core" then "lark_oapi" else (.rename // .name) end) as $key
    | (if .target then "[target.\(.target | @json).dependencies.\($key)]"
       else "[dependencies.\($key)]" end),
      (if $key != .name then "package = \(.name | @json)" else empty end),
      (if .path then "path = \(.path | @json)" else "version = \(.req | @json)" end),
      (if .uses_default_features then empty else "default-features = false" end),
      (if (.features | length) > 0 then "features = \(.features | @json)" else empty end),
      ""' <<<"$METADATA"
}

FLOOR_DESC=""
# user_case <case> <dependency spec or "floor"> [generated-API expression]
user_case() {
  local name=$1 spec=$2 api=${3:-} dir=$WORK/$1 target=$WORK/target-$1 detail deps
  local what="lark-oapi${spec:+ with ${spec#, }}"
  [[ $spec == floor ]] && what=$FLOOR_DESC
  log "== $name: cold cargo check of a user crate ($what), -j $JOBS, fresh CARGO_TARGET_DIR"
  mkdir -p "$dir/src"
  local overrides='[profile.dev.package.lark-oapi-core]
incremental = false'
  if [[ $spec == floor ]]; then
    deps=$(floor_deps_toml) || deps=""
  else
    deps="[dependencies]
lark_oapi = { package = \"lark-oapi\", path = \"$SNAP/sdk-generated\"$spec }"
    overrides+='
[profile.dev.package.lark-oapi]
incremental = false'
  fi
  cat >"$dir/Cargo.toml" <<EOF
[package]
name = "bench-user-$name"
version = "0.0.0"
edition = "2024"
publish = false

$deps

# Stand-alone: not part of any enclosing workspace.
[workspace]

# lark-oapi is a path dependency here; cargo would compile path dependencies
# incrementally, a published crate never is. Match the published case.
$overrides
EOF
  user_main "$api" >"$dir/src/main.rs"
  # Same dependency versions as the workspace; cargo prunes what this crate does not use.
  [[ -f $SNAP/Cargo.lock ]] && cp "$SNAP/Cargo.lock" "$dir/Cargo.lock"
  rm -rf "$target"
  prep "$name" "$dir" cargo fetch || log "   (cargo fetch failed; trying the build anyway)"
  if measure "$name-check" "$dir" env CARGO_TARGET_DIR="$target" cargo check -j "$JOBS"; then
    detail="units=$(units_in "$LOGS/$name-check.log")"
    [[ -n $api ]] && detail+=" api=${api// /}"
    [[ $spec == floor ]] && detail+=" $FLOOR_DESC"
    record_measured "$name" "$detail"
  else
    show_failure "$LOGS/$name-check.log"
    record "$name" failed - - - "cargo check failed (see log)"
  fi
  ((KEEP)) || rm -rf "$target"
  log_result "$name"
}

if selected user-full; then
  if has_feature full; then
    user_case user-full ', features = ["full"]' "$API_EXPR"
  else
    record user-full skipped - - - "lark-oapi has no feature 'full'"
  fi
fi
selected user-default && user_case user-default ''
if selected user-im; then
  if has_feature im; then
    user_case user-im ', default-features = false, features = ["im"]' "$API_EXPR"
  else
    record user-im skipped - - - "lark-oapi has no feature 'im'"
  fi
fi
if selected user-floor; then
  mode=$FLOOR_MODE
  if [[ $mode == core && -z $METADATA ]]; then
    log "   (no jq or cargo metadata failed: falling back to --floor no-features)"
    mode=no-features
  fi
  if [[ $mode == core ]]; then
    FLOOR_DESC="floor=core+deps-of-lark-oapi($(jq -r '[.packages[] | select(.name == "lark-oapi") | .dependencies[] | select(.kind == null and (.optional | not)) | .name] | join(",")' <<<"$METADATA"))"
    user_case user-floor floor
  else
    FLOOR_DESC="floor=lark-oapi(default-features=false,no-features)"
    user_case user-floor ', default-features = false'
  fi
fi

# The peer row: the same cold check of a user crate whose one dependency is openlark.
PEER_VERSION=${BENCH_PEER_VERSION:-=0.21.0}
PEER_FEATURES=${BENCH_PEER_FEATURES:-full,bot,pay,docs-full,webhook-full,websocket,event-http}
if selected peer; then
  dir=$WORK/peer target=$WORK/target-peer
  log "== peer: cold cargo check of a user crate on openlark $PEER_VERSION ($PEER_FEATURES), -j $JOBS, fresh CARGO_TARGET_DIR"
  mkdir -p "$dir/src"
  features=$(awk -v f="$PEER_FEATURES" 'BEGIN { n = split(f, a, ","); for (i = 1; i <= n; i++) printf "%s\"%s\"", (i > 1 ? ", " : ""), a[i] }')
  printf '[package]\nname = "bench-user-peer"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[dependencies]\nopenlark = { version = "%s", features = [%s] }\n\n[workspace]\n' \
    "$PEER_VERSION" "$features" >"$dir/Cargo.toml"
  # The dependency is checked in full whether or not main.rs names it (its library name
  # is not `openlark`).
  printf 'fn main() {\n    println!("peer");\n}\n' >"$dir/src/main.rs"
  rm -rf "$target"
  prep peer "$dir" cargo fetch || log "   (cargo fetch failed; trying the build anyway)"
  if measure peer-check "$dir" env CARGO_TARGET_DIR="$target" cargo check -j "$JOBS"; then
    record_measured peer "units=$(units_in "$LOGS/peer-check.log") openlark=$PEER_VERSION features=$PEER_FEATURES"
  else
    show_failure "$LOGS/peer-check.log"
    record peer failed - - - "cargo check failed (see log)"
  fi
  ((KEEP)) || rm -rf "$target"
  log_result peer
fi

# ------------------------------------------------------------------------ 4. workspace
WS_TARGET=$WORK/target-workspace
WS_READY=0
workspace_check() { # tag -> measured cold check of the whole workspace
  rm -rf "$WS_TARGET"
  prep "$1" "$SNAP" cargo fetch || log "   (cargo fetch failed; trying the build anyway)"
  measure "$1" "$SNAP" env CARGO_TARGET_DIR="$WS_TARGET" \
    cargo check --workspace --all-targets --features lark-oapi/full -j "$JOBS"
}

if selected workspace; then
  log "== workspace: cold cargo check --workspace --all-targets --features lark-oapi/full"
  if ! has_feature full; then
    record workspace skipped - - - "lark-oapi has no feature 'full'"
  elif workspace_check workspace; then
    record_measured workspace "units=$(units_in "$LOGS/workspace.log")"
    WS_READY=1
  else
    show_failure "$LOGS/workspace.log"
    record workspace failed - - - "cargo check failed (see log)"
  fi
  log_result workspace
fi

# ----------------------------------------------------------------------------- 5. warm
if selected warm; then
  log "== warm: re-check of lark-oapi --features full after appending a comment to one generated file"
  if [[ ! -d $SNAP/$GEN_REL ]]; then
    record warm skipped - - - "no $GEN_REL"
  elif ! has_feature full; then
    record warm skipped - - - "lark-oapi has no feature 'full'"
  else
    if ((!WS_READY)) && ! selected workspace; then
      log "   (workspace case not selected: running its cold check first, untimed)"
      workspace_check warm-prereq && WS_READY=1
      ((WS_READY)) || show_failure "$LOGS/warm-prereq.log"
    fi
    victim=$(cd "$SNAP" && find "$GEN_REL" -name '*.rs' -type f -printf '%s %p\n' | sort -nr | head -n 1 | cut -d' ' -f2-)
    if ((!WS_READY)); then
      record warm failed - - - "no checked workspace to start from"
    elif [[ -z $victim ]]; then
      record warm skipped - - - "no .rs file under $GEN_REL"
    else
      # `-p lark-oapi` alone unifies dependency features differently from the workspace
      # check, so bring that exact command up to date first: only the edit is timed.
      prime_t0=$EPOCHREALTIME
      prep warm "$SNAP" env CARGO_TARGET_DIR="$WS_TARGET" \
        cargo check -p lark-oapi --features full -j "$JOBS"
      prime_rc=$?
      prime_secs=$(awk -v a="$prime_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
      if ((prime_rc != 0)); then
        show_failure "$LOGS/warm.log"
        record warm failed - - - "cargo check -p lark-oapi --features full failed before the edit"
      else
        WARM_BACKUP=$WORK/warm-backup.rs
        cp -p "$SNAP/$victim" "$WARM_BACKUP"
        WARM_FILE=$SNAP/$victim   # from here on the EXIT trap restores it
        printf '\n// bench-build: warm re-check edit\n' >>"$WARM_FILE"
        if measure warm-check "$SNAP" env CARGO_TARGET_DIR="$WS_TARGET" \
          cargo check -p lark-oapi --features full -j "$JOBS"; then
          detail="edited=$victim units=$(units_in "$LOGS/warm-check.log") prime_s=$prime_secs"
          grep -q 'Checking lark-oapi ' "$LOGS/warm-check.log" || detail+=" WARNING:lark-oapi-not-rechecked"
          record_measured warm "$detail"
        else
          show_failure "$LOGS/warm-check.log"
          record warm failed - - - "cargo check failed after the edit (see log)"
        fi
        restore_warm_file
      fi
    fi
  fi
  log_result warm
fi
((KEEP)) || rm -rf "$WS_TARGET"

# --------------------------------------------------------------------------- 6. release
if selected release; then
  log "== release: cold cargo build --release -p lark-oapi --features full"
  if ! has_feature full; then
    record release skipped - - - "lark-oapi has no feature 'full'"
  else
    rel_target=$WORK/target-release
    rm -rf "$rel_target"
    prep release "$SNAP" cargo fetch || log "   (cargo fetch failed; trying the build anyway)"
    if measure release "$SNAP" env CARGO_TARGET_DIR="$rel_target" \
      cargo build --release -p lark-oapi --features full -j "$JOBS"; then
      record_measured release "units=$(units_in "$LOGS/release.log")"
    else
      show_failure "$LOGS/release.log"
      record release failed - - - "cargo build failed (see log)"
    fi
    ((KEEP)) || rm -rf "$rel_target"
  fi
  log_result release
fi

# ----------------------------------------------------------------------------- report
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

MEM_GOAL_MIB=1536   # "1.5 GB", read as 1.5 GiB
goal_of() {
  case $1 in
    gen) echo "< 5 s" ;;
    user-full) echo "<= 60 s, <= 1.5 GiB" ;;
    user-default | user-im) echo "<= floor + 5 s" ;;
    user-floor) echo "(reference)" ;;
    warm) echo "<= 10 s" ;;
    release) echo "<= 180 s" ;;
    *) echo "-" ;;
  esac
}
verdict_of() {
  local c=$1 s=${R_SECS[$1]} floor=${R_SECS[user-floor]:-}
  is_num "$s" || { echo "-"; return; }
  case $c in
    gen) awk -v a="$s" 'BEGIN { exit !(a < 5) }' && echo ok || echo MISSED ;;
    user-full)
      if le "$s" 60 && le "${R_RSS[$c]}" "$MEM_GOAL_MIB"; then echo ok; else echo MISSED; fi ;;
    user-default | user-im)
      if ! is_num "$floor"; then echo "n/a (no floor)"; return; fi
      local d
      d=$(awk -v a="$s" -v b="$floor" 'BEGIN { printf "%+.1f s", a - b }')
      if le "$s" "$(awk -v b="$floor" 'BEGIN { print b + 5 }')"; then echo "ok ($d)"; else echo "MISSED ($d)"; fi ;;
    warm) le "$s" 10 && echo ok || echo MISSED ;;
    release) le "$s" 180 && echo ok || echo MISSED ;;
    *) echo "-" ;;
  esac
}
fmt_secs() { if is_num "$1"; then printf '%.1f' "$1"; else printf '%s' "$1"; fi; }

echo
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load at the end: $LOAD_END"
if awk -v l="${LOAD_START%% *}" -v e="${LOAD_END%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2 || e > n + 0.5) }'; then
  echo "WARNING: the machine had other load (loadavg $LOAD_START at start, $LOAD_END at end); wall times"
  echo "         are inflated, cpu_s (user+sys of the whole build) is the steadier figure."
fi
echo "peak = max over time of the summed RSS of the whole process tree (cargo + rustc + build"
echo "scripts), sampled every ${INTERVAL}s; PSS = same with shared pages split; 1-proc = GNU time's"
echo "max RSS (largest single process). Wall times include dependencies; -j $JOBS."
[[ -n $FLOOR_DESC ]] && echo "user-floor: $FLOOR_DESC"
echo
printf '%-13s %8s %8s %9s %8s %9s  %-20s %-16s %s\n' case wall_s cpu_s peak_MiB PSS_MiB 1proc_MiB goal verdict detail
printf '%-13s %8s %8s %9s %8s %9s  %-20s %-16s %s\n' ------------- -------- -------- --------- -------- --------- -------------------- ---------------- ------
for c in "${ALL_CASES[@]}"; do
  [[ -n ${R_SECS[$c]+x} ]] || continue
  printf '%-13s %8s %8s %9s %8s %9s  %-20s %-16s %s\n' "$c" "$(fmt_secs "${R_SECS[$c]}")" "${R_CPU[$c]}" \
    "${R_RSS[$c]}" "${R_PSS[$c]}" "${R_MAX1[$c]}" "$(goal_of "$c")" "$(verdict_of "$c")" "${R_DETAIL[$c]}"
done
if is_num "${R_SECS[user-full]:-}" && is_num "${R_SECS[peer]:-}" && is_num "${R_RSS[peer]:-}"; then
  echo
  awk -v a="${R_SECS[user-full]}" -v b="${R_SECS[peer]}" -v m="${R_RSS[user-full]}" -v n="${R_RSS[peer]}" \
    'BEGIN { printf "user-full / peer: wall %.2fx, peak memory %.2fx (measured in this run)\n", a / b, m / n }'
fi
echo
for c in "${ALL_CASES[@]}"; do
  [[ -n ${R_SECS[$c]+x} ]] || continue
  extra="cpu_s=${R_CPU[$c]} pss_MiB=${R_PSS[$c]} max1_MiB=${R_MAX1[$c]}"
  [[ -n ${R_DETAIL[$c]} ]] && extra+=" ${R_DETAIL[$c]}"
  echo "RESULT $c ${R_SECS[$c]} ${R_RSS[$c]} $extra"
done
((KEEP)) && echo "logs: $LOGS"
exit 0

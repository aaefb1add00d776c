#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang, ASan+UBSan, libraries compiled with
# coverage) and runs every target of fuzz/CMakeLists.txt, one at a time, under `nice -n 19`.
#
# Usage: scripts/fuzz.sh [--smoke] [--no-build] [TARGET...]   (TARGET: e.g. jws or jws_fuzz)
#
#   --smoke     each target for FUZZ_SMOKE_SECONDS (default 5) from its committed corpus; new
#               inputs go to a scratch directory, the committed corpus is not changed. For CI.
#   (default)   the campaign: each target to FUZZ_RUNS executions (default 10,000,000; slower
#               targets are listed in runs_for below with their reason), bounded by
#               FUZZ_MAX_TIME seconds per target (default 3600) as a safety net. Afterwards the
#               committed corpus and the new inputs are merged with -merge=1 (edge coverage) back
#               into fuzz/corpus/<name>/, keeping it small.
#   --no-build  use the binaries already in build/fuzz.
#
# Prints one line per target: executions, coverage (libFuzzer's final cov: and ft:), wall time,
# and the result; libFuzzer's log is kept in build/fuzz/logs/<name>.log and a finding's
# reproducer in build/fuzz/findings/<name>/. Exit status 1 if
# any target found something (crash, leak, sanitizer report, timeout, OOM), else 0.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

smoke=0
build=1
selected=()
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    --no-build) build=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "fuzz.sh: unknown option $arg" >&2
      exit 2
      ;;
    *) selected+=("${arg%_fuzz}") ;;
  esac
done

build_dir="$root/build/fuzz"
smoke_seconds="${FUZZ_SMOKE_SECONDS:-5}"
default_runs="${FUZZ_RUNS:-10000000}"
max_time="${FUZZ_MAX_TIME:-3600}"

# Every target declared in fuzz/CMakeLists.txt, without the _fuzz suffix.
mapfile -t all < <(sed -n 's/^portcullis_add_fuzzer(\([a-z0-9_]*\)_fuzz\( .*\)\{0,1\}$/\1/p' fuzz/CMakeLists.txt)
if [ ${#selected[@]} -eq 0 ]; then selected=("${all[@]}"); fi
for t in "${selected[@]}"; do
  if ! printf '%s\n' "${all[@]}" | grep -qx "$t"; then
    echo "fuzz.sh: no fuzz target '$t' (known: ${all[*]})" >&2
    exit 2
  fi
done

# Executions for the campaign. Every target reaches the default; lower it here (with the reason)
# for one whose inputs are inherently slow (signature verification, password hashing).
runs_for() {
  case "$1" in
    *) echo "$default_runs" ;;
  esac
}

# Longest input for each target (libFuzzer -max_len); requests and config files are longer than
# libFuzzer's default guess from the seed sizes.
max_len_for() {
  case "$1" in
    http_request | config | import) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

if [ "$build" -eq 1 ]; then
  nice -n 19 cmake --preset fuzz >/dev/null
  nice -n 19 cmake --build "$build_dir" -j2 --target "${selected[@]/%/_fuzz}"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

printf '%-14s %12s %8s %8s %8s  %s\n' target executions cov ft seconds result
failed=0
for t in "${selected[@]}"; do
  bin="$build_dir/fuzz/${t}_fuzz"
  corpus="$root/fuzz/corpus/$t"
  findings="$build_dir/findings/$t"
  new="$work/$t.new"
  log="$work/$t.log"
  mkdir -p "$corpus" "$findings" "$new"
  args=(-workers=1 -jobs=1 -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -max_len="$(max_len_for "$t")" -artifact_prefix="$findings/")
  if [ -f "fuzz/$t.dict" ]; then args+=(-dict="$root/fuzz/$t.dict"); fi
  if [ "$smoke" -eq 1 ]; then
    args+=(-max_total_time="$smoke_seconds")
  else
    args+=(-runs="$(runs_for "$t")" -max_total_time="$max_time")
  fi

  start=$(date +%s)
  rc=0
  # New inputs go to $new (the first directory); the committed corpus is only read.
  # Run from $work: with -jobs libFuzzer writes its fuzz-<job>.log into the current directory.
  (cd "$work" && nice -n 19 "$bin" "${args[@]}" "$new" "$corpus" >"$log" 2>&1) || rc=$?
  if [ -f "$work/fuzz-0.log" ]; then cat "$work/fuzz-0.log" >>"$log" && rm "$work/fuzz-0.log"; fi
  seconds=$(($(date +%s) - start))

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  status_line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status_line")
  result=ok
  if [ "$rc" -ne 0 ] || grep -qE '^(==[0-9]+==ERROR|SUMMARY: (Address|Undefined|Leak)Sanitizer)|runtime error:' "$log"; then
    result="FINDING (exit $rc): $(grep -m1 -E '^SUMMARY|runtime error:' "$log" || echo 'see the log')"
    cp "$log" "$findings/last.log"
    failed=1
  elif [ "$smoke" -eq 0 ]; then
    # Minimize the committed corpus and the new inputs together by edge coverage (-use_counters=0:
    # hit counts would keep thousands of files). Hand-written seeds and past findings (any name
    # that is not libFuzzer's 40-hex-digit SHA-1) always stay; the SHA-1-named rest is replaced.
    merged="$work/$t.merged"
    mkdir -p "$merged"
    (cd "$work" && nice -n 19 "$bin" -merge=1 -use_counters=0 -max_len="$(max_len_for "$t")" \
      "$merged" "$corpus" "$new" >>"$log" 2>&1)
    find "$corpus" -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
    kept=$(find "$corpus" -type f -exec sha1sum {} + | cut -d' ' -f1)
    for f in "$merged"/*; do
      [ -f "$f" ] || continue
      grep -qx "$(basename "$f")" <<<"$kept" || cp "$f" "$corpus/"
    done
    files=$(find "$corpus" -type f | wc -l)
    result="ok, corpus $files files"
    if [ "$files" -gt 300 ]; then result="$result (over 300: minimize it)"; fi
  fi
  mkdir -p "$build_dir/logs" && cp "$log" "$build_dir/logs/$t.log"
  printf '%-14s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$seconds" "$result"
done
exit "$failed"

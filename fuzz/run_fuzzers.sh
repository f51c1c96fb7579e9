#!/bin/sh
# Bounded libFuzzer runs, one target at a time.
#
#   fuzz/run_fuzzers.sh TARGET_DIR SECONDS [NAME...]
#
# TARGET_DIR holds the fuzz_<name> binaries and corpus/<name>/ seeds (the build directory of
# fuzz/, e.g. build/fuzz; `ctest -R fuzz_corpus` writes the seeds). Each run starts from a
# copy of the seeds in TARGET_DIR/work/<name>/corpus, writes crash-*, leak-*, timeout-* and
# oom-* files to TARGET_DIR/work/<name>/, and its log to TARGET_DIR/work/<name>/log.txt.
# Without NAMEs every target runs. Prints one line per target: executions and findings.
# Exit status 1 when any run found something.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 TARGET_DIR SECONDS [NAME...]" >&2
  exit 2
fi
dir=$1
seconds=$2
shift 2
names=${*:-"sstable bundle snappy checkpoint_state object_graph text_format tfrecord v1"}
status=0
for name in $names; do
  bin="$dir/fuzz_$name"
  if [ ! -x "$bin" ]; then
    echo "$name: no binary $bin (configure with clang and -DWARMSTART_FUZZ=ON)" >&2
    status=1
    continue
  fi
  work="$dir/work/$name"
  mkdir -p "$work/corpus"
  if [ -d "$dir/corpus/$name" ]; then cp -R "$dir/corpus/$name/." "$work/corpus/"; fi
  "$bin" "$work/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/" >"$work/log.txt" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt" | tail -1)
  found=$(ls "$work" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' || true)
  echo "$name: ${seconds}s, ${execs:-?} executions, exit $rc, $found artifact(s) in $work"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then status=1; fi
done
exit $status

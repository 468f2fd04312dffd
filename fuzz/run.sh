#!/usr/bin/env bash
# Coverage-guided fuzzing of one reader with libFuzzer, on the stable toolchain:
#   fuzz/run.sh TARGET [SECONDS]     (TARGET: expr values npy idx_images idx_labels params
#                                     checkpoint report; default 60 s)
# libFuzzer's instrumentation needs `-Z` flags, which a stable rustc takes with
# RUSTC_BOOTSTRAP=1 (the flags cargo-fuzz passes, without installing cargo-fuzz). Seeds are
# copied from tests/corpus/ into fuzz/corpus/TARGET (not committed), where libFuzzer keeps
# what it finds; crashes land in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?"usage: fuzz/run.sh TARGET [SECONDS]"}
seconds=${2:-60}
seed_dir=$(awk -F'\t' -v t="$target" '$1 == t && $2 !~ /^\// { split($2, p, "/"); print p[1]; exit }' ../tests/corpus/manifest.tsv)
mkdir -p "corpus/$target" "artifacts/$target"
[ -n "$seed_dir" ] && find "../tests/corpus/$seed_dir" -maxdepth 1 -type f -size -64k -exec cp -n {} "corpus/$target/" \;
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address -Cdebug-assertions"
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --target "$triple" --bin reader
SYMGRAD_FUZZ_TARGET=$target "target/$triple/release/reader" "corpus/$target" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
  -artifact_prefix="artifacts/$target/"

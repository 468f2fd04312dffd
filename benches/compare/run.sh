#!/usr/bin/env bash
# Workload W side by side: symgrad and hand-written numpy + OpenBLAS, alternating, 2 threads.
# Sets up its own Python venv (numpy, threadpoolctl) under target/. Prints each run's medians.
#
# Usage: bash benches/compare/run.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
venv=target/compare-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy threadpoolctl
fi
export RAYON_NUM_THREADS=2
cargo build -q --release --example bench_w
echo "# $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "# numpy $("$venv/bin/python" -c 'import numpy; print(numpy.__version__)'), rustc $(rustc --version | cut -d' ' -f2)"
for _ in $(seq "$rounds"); do
  target/release/examples/bench_w
  "$venv/bin/python" benches/compare/numpy_ae.py --threads 2
done

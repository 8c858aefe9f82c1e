#!/usr/bin/env bash
# Rerun the timing benchmarks one after another and write their outputs to docs/benchmarks/ (each file: the command
# after "$ ", then what it printed; a file's runs in the order below). Run from the repository root, on a machine
# with nothing else running: `bash benchmarks/regenerate.sh [NAME ...]` (names: the files' stems below; none: all),
# with PYTHON naming the interpreter to use if not `python` (for example PYTHON=.venv/bin/python; torch and
# threadpoolctl must be installed there: the test extra has both).
# The preset logs (paper_preset, quick_preset) and harness_tolerances are made by their own commands, not here.
set -euo pipefail
PY=${PYTHON:-python}
if [[ "$PY" == */* ]]; then PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"; fi   # the scripts run in benchmarks/
cd "$(dirname "$0")/.."
declare -A RUNS=(
  [image_step_time]="image_step_time.py --repeat 7 --threads 1|image_step_time.py --repeat 7 --threads 2"
  [mlp_throughput]="mlp_throughput.py --threads 1|mlp_throughput.py --threads 2"
  [mlp_step_parts]="mlp_step_parts.py --batch 32|mlp_step_parts.py --batch 128"
  [step_time]="step_time.py --repeat 15|step_time.py --repeat 15 --threads 2 --check-sizes|step_time.py --repeat 15 --glibc-defaults --check-sizes"
  [conv_input_grad]="conv_input_grad.py|conv_input_grad.py --threads 2"
  [torch_port]="torch_port.py --repeat 15 --epoch-repeat 3|torch_port.py --repeat 15 --epoch-repeat 3 --threads 2"
  [relu_maximum]="relu_maximum.py --threads 1"
)
ORDER=(image_step_time mlp_throughput mlp_step_parts step_time conv_input_grad torch_port relu_maximum)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${ORDER[@]}")
for name in "${names[@]}"; do
  [ -n "${RUNS[$name]:-}" ] || { echo "unknown benchmark file: $name (one of: ${ORDER[*]})" >&2; exit 2; }
  out="docs/benchmarks/$name.txt"
  tmp="$(mktemp)"
  IFS='|' read -ra cmds <<< "${RUNS[$name]}"
  first=1
  for cmd in "${cmds[@]}"; do
    [ $first -eq 1 ] || echo >> "$tmp"
    first=0
    echo "\$ python benchmarks/$cmd" >> "$tmp"
    (cd benchmarks && $PY $cmd) >> "$tmp"
  done
  mv "$tmp" "$out"
  echo "wrote $out" >&2
done

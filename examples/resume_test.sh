#!/usr/bin/env bash
# mlp_digits: 40 steps straight == 20 steps + checkpoint + (new process) --resume to 40 steps.
set -euo pipefail
exe=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# (the schedule depends on --steps only after the warmup, so both runs warm up past step 40)
common=(--device cpu --print-every 1000 --save-every 0 --warmup 60)
straight=$("$exe" "${common[@]}" --steps 40 --checkpoint "$tmp/a" | tail -1)
"$exe" "${common[@]}" --steps 20 --checkpoint "$tmp/b" > /dev/null
resumed=$("$exe" "${common[@]}" --steps 40 --checkpoint "$tmp/b" --resume | tail -1)
echo "straight: $straight"
echo "resumed:  $resumed"
[ "$straight" = "$resumed" ]
# the final checkpoints hold bit-identical training states
cmp <(tail -c +65 "$tmp/a/mlp_digits.ckpt") <(tail -c +65 "$tmp/b/mlp_digits.ckpt")

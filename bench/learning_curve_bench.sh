#!/usr/bin/env bash
# Learning curves (issue 6): uncertainty (mnlp, least confidence) against random routing, 3 seeds, F1 on each
# domain's test split after 50/100/200/400 oracle-corrected segments, fine-tuned from the
# shipped default model. The pool is the train split (crossner_politics: train + dev, as its
# train split has only 200 sentences). Writes bench-out/<domain>/results.json and learning_curve.png.
#   [SEEDS=3] [THREADS=2] [STRATEGIES="mnlp least_confidence random"] bench/learning_curve_bench.sh [../shared/data]
set -euo pipefail
DATA=${1:-../shared/data}
mkdir -p bench-out
STRAT=()
for s in ${STRATEGIES:-mnlp least_confidence random}; do STRAT+=(--strategy "$s"); done
cat "$DATA/adapt/crossner_politics/train.jsonl" "$DATA/adapt/crossner_politics/dev.jsonl" > bench-out/politics_pool.jsonl
.venv/bin/nerdesk simulate bench-out/politics_pool.jsonl "$DATA/adapt/crossner_politics/test.jsonl" \
  "${STRAT[@]}" --sizes 50,100,200,400 --seeds "${SEEDS:-3}" --threads "${THREADS:-2}" --out bench-out/crossner_politics
.venv/bin/nerdesk simulate "$DATA/adapt/ncbi_disease/train.jsonl" "$DATA/adapt/ncbi_disease/test.jsonl" \
  "${STRAT[@]}" --sizes 50,100,200,400 --seeds "${SEEDS:-3}" --threads "${THREADS:-2}" --out bench-out/ncbi_disease

#!/usr/bin/env bash
# The vocabulary loss of `loupe finetune` (src/train/vocab_loss.h: CE of N
# rows against gpt2-demo's unembedding, with the gradients of the rows and
# of the unembedding) against the machine's sgemm rate measured in the same
# run (tools/vocab_loss_rate: each round times one sgemm of the logits'
# shape, then the loss; medians of ROUNDS rounds). A ratio of 1 is the cost
# of three products of the logits' shape (logits, d_rows, d_unembedding) at
# the sgemm rate. The rows are those of one training step at batch 8 x 256
# tokens: 2048 at lambda = 0 (the final rows), 14336 at lambda = 1 (the
# 7 rows 0 .. 6 of each position).
#
#   bench/vocab_loss.sh   # ROUNDS=3 THREADS=2 ROWS="2048 14336"
source "$(dirname "$0")/common.sh"
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
rows=${ROWS:-2048 14336}
export OMP_NUM_THREADS=$threads
bench_build_targets vocab_loss_rate sgemm_rate
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $rows; do
  "$build"/vocab_loss_rate "$n" 192 50257 "$rounds"
done

#!/usr/bin/python3
"""PyTorch's cost for the part of a fine-tuning step that src/train/vocab_loss.h
does: the cross-entropy of N rows (already through the final norm) against
gpt2-demo's tied unembedding (V = 50257, C = 192), forward and backward, with
the gradients of the rows and the unembedding. The counterpart of
tools/vocab_loss_rate (bench/vocab_loss.sh); float32, no autocast.
Prints the median seconds (wall clock and CPU) of STEPS calls after a warm-up.

usage: /usr/bin/python3 bench/vocab_loss_torch.py [N] [STEPS] [THREADS]
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.set_num_threads(threads)
C, V = 192, 50257
torch.manual_seed(0)
rows = (torch.rand(N, C) * 3.4 - 1.7).requires_grad_()
unembedding = (torch.rand(V, C) * 0.34 - 0.17).requires_grad_()
targets = torch.randint(0, V, (N,))


def call():
    rows.grad = None
    unembedding.grad = None
    F.cross_entropy(rows @ unembedding.t(), targets).backward()


call()
walls, cpus = [], []
for _ in range(steps):
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
print("pytorch %s vocab loss N=%d C=%d V=%d, %d threads, %d calls (median): %.4f s wall %.4f s cpu"
      % (torch.__version__, N, C, V, threads, steps, statistics.median(walls), statistics.median(cpus)))

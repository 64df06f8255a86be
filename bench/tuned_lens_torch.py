#!/usr/bin/python3
"""PyTorch's step of tuned-lens training, for the throughput comparison with
`loupe train-lens` (docs/TUNED_LENS.md, docs/PERFORMANCE.md).

The lens part of tuned-lens's train_loop on one batch of hidden states of
the embedded model's shape: per layer, translator, final LayerNorm,
unembedding, log-softmax, KL to the final distribution, backward; then
clip_grad_norm_ and torch.optim.SGD (Nesterov) as tuned-lens configures it.
The model's forward pass is left out (loupe's timing includes its own), so
the comparison favours PyTorch. Prints positions per CPU-second.

usage: /usr/bin/python3 bench/tuned_lens_torch.py [TOKENS] [STEPS] [THREADS]
"""
import sys
import time

import torch

tokens = int(sys.argv[1]) if len(sys.argv) > 1 else 256
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
L, C, V = 6, 192, 50257  # gpt2-demo
torch.manual_seed(0)
hidden = [torch.randn(tokens, C) for _ in range(L)]
final_log_p = torch.randn(tokens, V).log_softmax(-1)
unembedding = torch.randn(V, C) * 0.02
ln = torch.nn.LayerNorm(C)
translators = torch.nn.ModuleList([torch.nn.Linear(C, C) for _ in range(L)])
for t in translators:
    torch.nn.init.zeros_(t.weight)
    torch.nn.init.zeros_(t.bias)
optimizer = torch.optim.SGD(translators.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)


def step():
    optimizer.zero_grad()
    for i, translator in enumerate(translators):
        h = hidden[i]
        log_q = (ln(h + translator(h)) @ unembedding.T).log_softmax(-1)
        torch.sum(final_log_p.exp() * (final_log_p - log_q), dim=-1).mean().backward()
    torch.nn.utils.clip_grad_norm_(translators.parameters(), 1.0)
    optimizer.step()


step()  # warm-up
cpu, wall = time.process_time(), time.perf_counter()
for _ in range(steps):
    step()
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print("pytorch %s: %d steps of %d positions, %d threads: %.1f positions per CPU-second, %.1f per second"
      % (torch.__version__, steps, tokens, threads, steps * tokens / cpu, steps * tokens / wall))

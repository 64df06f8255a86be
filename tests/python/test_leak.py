"""No leak: 2000 lens calls in a loop keep the process's resident memory
flat. Each call allocates the C result (rows x positions cells and their
top tokens), the (R, T, C) taps, the lens's sweep state and the numpy
copies; any of them never freed would grow RSS by at least its size per
call. The loop runs on the tiny GPT-2 of tests/data (8 positions: the
result alone is about 4 KB and the taps 5 KB, so either leaked grows RSS by
8 MB or more over the loop), then 150 calls on the demo model with its
tokenizer and the JSON writer (each document 10 KB, the taps 16 KB: either
leaked grows RSS by 1.5 MB or more)."""
import gc
import os
import resource

import loupe
from conftest import DATA

CALLS = 2000
BOUND_MB = 2.0
DEMO_CALLS, DEMO_BOUND_MB = 150, 1.0


def resident_mb():
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def measure(calls, run, warm_up):
    for _ in range(warm_up):  # the allocator's arenas and OpenMP's threads
        run()
    gc.collect()
    before = resident_mb()
    samples = []
    for call in range(calls):
        run()
        if call % (calls // 4) == calls // 4 - 1:
            gc.collect()
            samples.append(resident_mb())
    return before, samples


def report(name, calls, before, samples, bound):
    growth = samples[-1] - before
    print(f"\n{name}: RSS after warm-up {before:.1f} MB; after each quarter of {calls} lens calls: "
          + ", ".join(f"{s:.1f}" for s in samples) + f" MB; growth {growth:+.2f} MB (bound {bound} MB)")
    return growth


def test_two_thousand_lens_calls_keep_rss_flat():
    model = loupe.Model(os.path.join(DATA, "gpt2-tiny-gelu"))
    ids = list(range(1, 9))

    def run():
        result = model.lens(ids)
        assert result.kl_final.shape == (4, 8)

    before, samples = measure(CALLS, run, 50)
    assert report("gpt2-tiny-gelu, 8 positions", CALLS, before, samples, BOUND_MB) < BOUND_MB


def test_lens_calls_with_tokens_and_json_keep_rss_flat(demo):
    def run():
        result = demo.lens("And God said")
        assert result.tokens == ["And", " God", " said"] and len(result.to_json()) > 1000

    before, samples = measure(DEMO_CALLS, run, 20)
    assert report("gpt2-demo, 3 positions, to_json", DEMO_CALLS, before, samples, DEMO_BOUND_MB) < DEMO_BOUND_MB

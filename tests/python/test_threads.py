"""Long calls release the GIL, and a Model used from several threads gives
each thread the result it gives alone."""
import threading
import time

import numpy as np

TEXT = "And God said, Let there be light: and there was light. " * 3


def test_a_lens_call_releases_the_gil(demo):
    start = time.perf_counter()
    demo.lens(TEXT)
    alone = time.perf_counter() - start
    stamps = []
    worker = threading.Thread(target=demo.lens, args=(TEXT,))
    worker.start()
    while worker.is_alive():
        stamps.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    gaps = np.diff(stamps)
    print(f"\nlens alone {alone * 1e3:.0f} ms; the other thread ran {len(stamps)} times meanwhile, "
          f"longest wait {gaps.max() * 1e3 if gaps.size else 0:.0f} ms")
    # holding the GIL through the call would stall this thread for the whole call
    assert len(stamps) >= 5 and gaps.max() < alone / 2


def test_threads_get_their_own_results(demo):
    texts = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light",
             "def add(a, b): return a + b", "It is a truth universally acknowledged"]
    alone = [demo.lens(text, topk=3).kl_final for text in texts]
    together = [None] * len(texts)

    def run(index):
        together[index] = demo.lens(texts[index], topk=3).kl_final

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for expected, actual in zip(alone, together):
        np.testing.assert_array_equal(actual, expected)

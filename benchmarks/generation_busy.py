"""One generation while other threads keep Python busy, on PyTorch and on ONNX Runtime.

    python benchmarks/generation_busy.py [--model zh-char-gpt] [--busy 0,4] [--tokens 40]

A server's sessions are threads of one Python process. PyTorch lets go of Python's GIL during every operation of a
forward pass and takes it back afterwards; when other threads want it, each take-back waits. A generation is dozens
of small passes of many operations, so it is the request that suffers most. This times one greedy generation of the
model (trained here, in the cache) alone and beside N threads running plain Python, on PyTorch and on the ONNX
Runtime export LM Lab generates with (core.tasks.lm_onnx), and checks that both write the same text.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _busy(stop: threading.Event) -> None:
    total = 0
    while not stop.is_set():
        for i in range(1000):
            total += i * i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zh-char-gpt")
    parser.add_argument("--busy", default="0,4", help="comma-separated numbers of busy Python threads")
    parser.add_argument("--tokens", type=int, default=40)
    args = parser.parse_args()
    from core import catalog
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.get_spec(args.model))
    prompt = "中国人民" if args.model.startswith("zh") else "The government said"
    model.generate(prompt, max_new_tokens=4, seed=0)  # exports on first use
    onnx = model._next_token
    if onnx is None:
        sys.exit(f"{args.model} generates on PyTorch here: {model.generation_note}")
    texts = {}
    for busy in [int(part) for part in args.busy.split(",")]:
        for runtime, runner in (("ONNX Runtime", onnx), ("PyTorch", None)):
            model._next_token = runner
            stop = threading.Event()
            threads = [threading.Thread(target=_busy, args=(stop,)) for _ in range(busy)]
            for thread in threads:
                thread.start()
            started = time.perf_counter()
            made = model.generate(prompt, max_new_tokens=args.tokens, temperature=0.0, seed=0)
            seconds = time.perf_counter() - started
            stop.set()
            for thread in threads:
                thread.join()
            texts[runtime] = made.text
            print(f"{busy} busy threads, {runtime:12s}: {len(made.steps)} tokens in {seconds:7.2f} s", flush=True)
    model._next_token = onnx
    print("the same text on both:", texts["ONNX Runtime"] == texts["PyTorch"])


if __name__ == "__main__":
    main()

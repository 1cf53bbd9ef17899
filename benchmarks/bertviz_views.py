"""Time and size of the offline bertviz head and model views for a 128-token input on MiniLM.

    python benchmarks/bertviz_views.py [--repeats 5]

Times only the HTML building (the attention is extracted once, as the page does before drawing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LMLAB_OFFLINE", "1")

from core import catalog, settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    settings.decide_mode()
    from core.attention import AttentionModel
    from core.viz import bertviz_html

    model = AttentionModel(catalog.MINILM)
    words = ("the film moves slowly but every scene earns its place and the cast is superb " * 20).split()
    text = " ".join(words[: args.tokens - 2])
    attention = model.attend(text).window(0, args.tokens)
    print(f"input: {len(attention.tokens)} tokens, weights {attention.weights.shape}")
    for name, build in (("head view", bertviz_html.head_view), ("model view", bertviz_html.model_view)):
        build(attention.weights, attention.tokens)  # warm-up (reads d3 and jQuery once)
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            html = build(attention.weights, attention.tokens)
            times.append(time.perf_counter() - started)
        print(
            f"{name}: median {1000 * statistics.median(times):.1f} ms over {args.repeats} runs, {len(html) / 1e6:.2f} MB"
        )


if __name__ == "__main__":
    main()

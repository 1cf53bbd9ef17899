"""A class on several classifier pages at once: how often the shared classifiers are loaded again.

    python benchmarks/model_churn.py [--models sentiment-minilm,topic-minilm,sentiment-minilm-skewed,sentiment-zh-pieces]
        [--rounds 5]

The server keeps its loaded classifiers in Streamlit's resource cache (ui/models.py): three MiniLM-sized ones, and
the small ones (under 12 MB on disk: the Chinese BERT classifiers trained here, the tiny English ones; VADER) in a
cache of their own. This asks each model in turn
for one answer, round after round, as students on the English Sentiment, Topic and Bias pages and the Chinese
Sentiment page do, and prints the time of the rounds after the first (every model loaded once) and the process's
resident memory. The models must be trained (``python -m core.train --all``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEXTS = {"zh": "这本书写得很好，孩子每天晚上都要我读给他听。", "en": "The film was great."}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="sentiment-minilm,topic-minilm,sentiment-minilm-skewed,sentiment-zh-pieces")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # Streamlit's "no script run context" warnings, outside a server
    warnings.filterwarnings("ignore")

    from core import catalog
    from ui import models

    specs = [catalog.get_spec(key) for key in args.models.split(",")]
    times: list[float] = []
    started = time.perf_counter()
    for _round in range(args.rounds):
        for spec in specs:
            asked = time.perf_counter()
            models.predictor(spec).predict(TEXTS["zh" if "zh" in spec.languages else "en"])
            times.append(time.perf_counter() - asked)
    later = times[len(specs):]
    print(f"{len(times)} answers from {len(specs)} classifiers, {args.rounds} rounds: {time.perf_counter() - started:.1f} s; "
          f"the rounds after the first {sum(later):.1f} s, slowest answer {max(later, default=0):.2f} s; "
          f"resident memory {psutil.Process().memory_info().rss / 1e6:.0f} MB")


if __name__ == "__main__":
    main()

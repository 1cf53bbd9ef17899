"""The article's plain fine-tuning setup against LM Lab's, on the same data, model and machine.

    python benchmarks/train_speed.py [--seeds 42,43,44]

Plain (the article's `TrainingArguments("test")`): learning rate 5e-5, batch 8, 3 epochs, no warmup,
no weight decay, every sentence padded to 128 tokens. LM Lab's recipe (sentiment-minilm): dynamic
padding with batches grouped by length, max length 64, batch 16, learning rate 2e-4 with 10 % warmup,
3 epochs.
Both fine-tune the packaged MiniLM on the 150 polarity training sentences and are scored on the same
50 held-out ones. Prints wall time of training and held-out accuracy with its 95 % CI.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LMLAB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="42,43,44", help="one run per seed for each setup")
    args = parser.parse_args()
    from core import settings

    settings.decide_mode()
    from core.training.recipes import get_recipe
    from core.training.runner import train_into

    app = get_recipe("sentiment-minilm")
    plain = app.with_overrides({"learning_rate": 5e-5, "batch_size": 8, "epochs": 3, "warmup_ratio": 0.0,
                                "weight_decay": 0.0, "max_length": 128, "padding": "max_length",
                                "group_by_length": False})  # fmt: skip
    seeds = [int(seed) for seed in args.seeds.split(",")]
    summary = {}
    for name, recipe in (("plain (article)", plain), ("LM Lab", app)):
        times, accuracies = [], []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as folder:
                meta = train_into(recipe.with_overrides({"seed": seed}), Path(folder), report=lambda _: None,
                                   should_stop=lambda: False)  # fmt: skip
            accuracy = meta["metrics"]["accuracy"]
            times.append(meta["train_seconds"])
            accuracies.append(accuracy["value"])
            print(f"{name:16s} seed {seed}: train {meta['train_seconds']:6.1f} s, held-out accuracy "
                  f"{100 * accuracy['value']:.1f} % (95 % CI {100 * accuracy['low']:.0f}–{100 * accuracy['high']:.0f})",
                  flush=True)  # fmt: skip
        summary[name] = (sum(times) / len(times), sum(accuracies) / len(accuracies))
    (plain_s, plain_acc), (app_s, app_acc) = summary["plain (article)"], summary["LM Lab"]
    print(f"mean: plain {plain_s:.1f} s at {100 * plain_acc:.1f} %, LM Lab {app_s:.1f} s at {100 * app_acc:.1f} % — "
          f"{plain_s / app_s:.1f}× faster, {100 * (app_acc - plain_acc):+.1f} points")  # fmt: skip


if __name__ == "__main__":
    main()

"""The article's plain fine-tuning setup against LM Lab's, on the same data, model and machine.

    python benchmarks/train_speed.py [--repeats 1]

Plain (the article's `TrainingArguments("test")`): learning rate 5e-5, batch 8, 3 epochs, no warmup,
no weight decay, every sentence padded to 128 tokens. LM Lab's recipe: dynamic padding with batches
grouped by length, max length 64, batch 16, learning rate 1e-4 with 10 % warmup, 8 epochs.
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
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from core import settings

    settings.decide_mode()
    from core.training.recipes import get_recipe
    from core.training.runner import _train_into

    app = get_recipe("sentiment-minilm").with_overrides({"group_by_length": True})
    plain = app.with_overrides({"learning_rate": 5e-5, "batch_size": 8, "epochs": 3, "warmup_ratio": 0.0,
                                "weight_decay": 0.0, "max_length": 128, "padding": "max_length",
                                "group_by_length": False})  # fmt: skip
    for name, recipe in (("plain (article)", plain), ("LM Lab", app)):
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as folder:
                meta = _train_into(recipe, Path(folder), report=lambda _: None, should_stop=lambda: False)
            accuracy = meta["metrics"]["accuracy"]
            print(f"{name:16s} train {meta['train_seconds']:6.1f} s   held-out accuracy {100 * accuracy['value']:.1f} % "
                  f"(95 % CI {100 * accuracy['low']:.0f}–{100 * accuracy['high']:.0f})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

"""What pretraining buys when labels are few: the Chinese BERT pretrained here against the same BERT from random
weights, fine-tuned on a few hundred to a few thousand of the Chinese reviews.

    python benchmarks/pretraining_curve.py [--sizes 250,1000,4000] [--steps 250] [--force]

With all 15,358 training reviews the two score the same (README, Numbers). A learning curve asks the question
where pretraining is known to matter: each size trains both recipes (``sentiment-zh-bert`` and
``sentiment-zh-scratch``, their own learning rates) on the same labelled sample (``examples``: each label keeping
its share, a smaller sample inside every larger one), for at least ``--steps`` optimiser steps (small samples get
more epochs, the same for both models), then benchmarks them on the 2,000 held-out reviews with the paired test
against the one from random weights (``python -m core.bench``). The pretraining read the text of every training
review (not its label) beside People's Daily, so the curve measures in-domain pretraining on unlabelled text with few
labels; both recipes' learning rates were chosen on the whole training split. The runs stay in the cache as
``sentiment-zh-bert-n<size>`` and ``sentiment-zh-scratch-n<size>``; the pretrained BERT (``zh-bert-mlm``) is trained
first when it is missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAIR = ("sentiment-zh-bert", "sentiment-zh-scratch")


def recipe_for(key: str, size: int, steps: int):
    """``key``'s recipe on ``size`` labelled reviews, for at least ``steps`` optimiser steps."""
    from core.training.recipes import RECIPES

    base = RECIPES[key]
    epochs = min(200, max(base.epochs, math.ceil(steps * base.batch_size / size)))  # a recipe allows 200 at most
    return dataclasses.replace(base, key=f"{key}-n{size}", title=f"{base.title} ({size} labelled reviews)",
                               examples=size, epochs=epochs).validated()  # fmt: skip


def train(recipe, force: bool) -> float:
    """Seconds spent training ``recipe`` here (0 when the cache already holds this very recipe)."""
    from core.catalog import read_metadata
    from core.training import jobs

    card = read_metadata(recipe.key)
    if card is not None and not force and card.recipe == recipe.to_json():
        return 0.0
    started = time.perf_counter()
    jobs.run_here(recipe.key, recipe=recipe)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250,1000,4000", help="labelled reviews per run, comma-separated")
    parser.add_argument("--steps", type=int, default=250, help="at least this many optimiser steps per run")
    parser.add_argument("--force", action="store_true", help="train again even when the cache holds the run")
    args = parser.parse_args()
    from core.catalog import read_metadata
    from core.training import jobs

    if read_metadata("zh-bert-mlm") is None:
        print("pretraining zh-bert-mlm first", flush=True)
        jobs.run_here("zh-bert-mlm")
    for size in (int(part) for part in args.sizes.split(",")):
        keys = []
        for key in PAIR:
            recipe = recipe_for(key, size, args.steps)
            seconds = train(recipe, args.force)
            print(f"{recipe.key}: {recipe.epochs:g} epochs, {seconds:.0f} s of training here", flush=True)
            keys.append(recipe.key)
        subprocess.run([sys.executable, "-m", "core.bench", "--task", "sentiment-zh", "--models", ",".join(keys),
                        "--baseline", keys[1], "--repeats", "5"], check=True, cwd=ROOT)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

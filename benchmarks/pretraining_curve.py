"""What pretraining buys when labels are few: the Chinese BERT pretrained here against the same BERT from random
weights, fine-tuned on a few hundred to a few thousand of the Chinese reviews.

    python benchmarks/pretraining_curve.py [--sizes 250,1000,4000] [--steps 250] [--learning-rate LR] [--force]
    python benchmarks/pretraining_curve.py --probe 4000   # what the frozen features know, before any fine-tuning

With all 15,358 training reviews the two score the same (README, Numbers). A learning curve asks the question
where pretraining is known to matter: each size trains both recipes (``sentiment-zh-bert`` and
``sentiment-zh-scratch``, their own learning rates) on the same labelled sample (``examples``: each label keeping
its share, a smaller sample inside every larger one), for at least ``--steps`` optimiser steps (small samples get
more epochs, the same for both models), then benchmarks them on the 2,000 held-out reviews with the paired test
against the one from random weights (``python -m core.bench``). The pretraining read the text of every training
review (not its label) beside People's Daily, so the curve measures in-domain pretraining on unlabelled text with few
labels; both recipes' learning rates were chosen, on all the training reviews, by their held-out accuracy. The runs stay in the cache as
``sentiment-zh-bert-n<size>`` and ``sentiment-zh-scratch-n<size>`` (``-lr<rate>`` added with ``--learning-rate``, which
gives both models that one rate, so that pretraining is the only difference); the pretrained BERT (``zh-bert-mlm``) is trained
first when it is missing.

``--probe N`` asks what each starting point knows before fine-tuning: every review read by the frozen model (the
pretrained one, and the same architecture with random weights), its last layer averaged over the review's tokens,
then a logistic regression trained on N of those vectors (the same sample as a run on N labels) and scored on the
2,000 held-out reviews.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def train(recipe, force: bool) -> float:
    """Seconds the job took here, loading and saving included (0 when the cache already holds this very recipe,
    started from the pretraining in the cache now)."""
    from core.catalog import read_metadata
    from core.training import jobs
    from core.training.recipe import complete
    from core.training.runner import pretrained_from

    card = read_metadata(recipe.key)
    same_start = card is not None and card.get("base_sha256") == pretrained_from(recipe).get("base_sha256")
    if card is not None and not force and complete(card.recipe) == recipe.to_json() and same_start:
        return 0.0
    started = time.perf_counter()
    jobs.run_here(recipe.key, recipe=recipe)
    return time.perf_counter() - started


def features(base: str, texts: list[str]):
    """Each text's last hidden layer averaged over its tokens, from the frozen Chinese BERT (``zh-bert``: pretrained
    here; ``zh-scratch``: random weights, seed 42)."""
    import numpy as np
    import torch

    from core.training.prepare import _chinese_base
    from core.training.recipes import RECIPES

    recipe = RECIPES["sentiment-zh-bert" if base == "zh-bert" else "sentiment-zh-scratch"]
    torch.manual_seed(recipe.seed)
    tokenizer, model = _chinese_base(recipe, {"num_labels": 2}, {})
    encoder = model.base_model.eval()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = tokenizer(texts[start : start + 64], truncation=True, max_length=recipe.max_length, padding=True,
                              return_tensors="pt")  # fmt: skip
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            rows.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(rows)


def probe(size: int) -> None:
    """A logistic regression on each frozen starting point's features of ``size`` labelled reviews."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from core.data import reviews_zh
    from core.stats import accuracy_with_ci
    from core.training.prepare import sample_indices

    split = reviews_zh.split()
    chosen = [split.train[i] for i in sample_indices([e.label for e in split.train], size, 42)]
    for base in ("zh-bert", "zh-scratch"):
        started = time.perf_counter()
        train, test = features(base, [e.text for e in chosen]), features(base, [e.text for e in split.test])
        scaler = StandardScaler().fit(train)
        fitted = LogisticRegression(max_iter=2000).fit(scaler.transform(train), [e.label for e in chosen])
        found = accuracy_with_ci(list(fitted.predict(scaler.transform(test))), [e.label for e in split.test])
        print(f"frozen {base}, linear probe on {size} labels: {100 * found.value:.1f} % "
              f"[{100 * found.low:.1f}, {100 * found.high:.1f}] ({time.perf_counter() - started:.0f} s)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250,1000,4000", help="labelled reviews per run, comma-separated")
    parser.add_argument("--steps", type=int, default=250, help="at least this many optimiser steps per run")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="one learning rate for both models (default: each recipe's own)")
    parser.add_argument("--probe", type=int, default=0, metavar="N",
                        help="instead: a linear probe of the frozen starting points on N labelled reviews")
    parser.add_argument("--force", action="store_true", help="train again even when the cache holds the run")
    args = parser.parse_args()
    from core.catalog import read_metadata
    from core.training import curve, jobs

    if read_metadata("zh-bert-mlm") is None:
        print("pretraining zh-bert-mlm first", flush=True)
        jobs.run_here("zh-bert-mlm")
    if args.probe:
        probe(args.probe)
        return 0
    for size in (int(part) for part in args.sizes.split(",")):
        keys = []
        for key in curve.PAIR:
            recipe = curve.recipe_for(key, size, args.steps, args.learning_rate)
            seconds = train(recipe, args.force)
            print(f"{recipe.key}: {recipe.epochs:g} epochs, {seconds:.0f} s for the job here", flush=True)
            keys.append(recipe.key)
        subprocess.run([sys.executable, "-m", "core.bench", "--task", "sentiment-zh", "--models", ",".join(keys),
                        "--baseline", keys[1], "--repeats", "5"], check=True, cwd=ROOT)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

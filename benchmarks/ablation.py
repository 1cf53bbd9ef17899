"""Head sweeps on the models of the cache, as the Ablate page runs them: time, and the costliest heads.

    python benchmarks/ablation.py [--models sentiment-minilm,topic-minilm,translate-en-zh,translate-zh-en] [--mean]
    python benchmarks/ablation.py --gpt2-shaped [--threads 1]

For each model (trained first with its default recipe when absent): every head switched off alone, scored on
the held-out texts of its data — Δ accuracy for a classifier, Δ mean sentence chrF for a translation model —
with the paired 95 % bootstrap CI the page shows. Prints the wall time of the sweep on this machine, the whole
model's score, the three costliest heads, and how many heads have a CI that excludes 0 and an exact (McNemar / sign
test) p below 0.05, neither adjusted for the number of heads. ``--mean``: the heads are switched off by mean
ablation instead of zeros — a classifier's by their mean output over the first 4,096 held-out tokens ([CLS] apart),
a translation model's by their mean over the same held-out pairs read teacher-forced.

``--gpt2-shaped`` times what a language model's sweep costs at LM Lab's cap (``core.tasks.ablation.sweep_plan``) for
a model of GPT-2 small's shape (12 layers × 12 heads, 124 M weights), built here with random weights (the Hub's
GPT-2 is not reachable offline; the arithmetic is the same), on 30 documents of 100–500 random tokens (too many for
the cap: it reads blocks of them), with the torch threads the server gives a shared run (1 by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ensure(key: str) -> None:
    from core.catalog import read_metadata
    from core.training import jobs

    if read_metadata(key) is None:
        print(f"training {key} first (its default recipe)…", flush=True)
        jobs.run_here(key)


def _classifier(spec, mean: bool = False) -> tuple[dict, list[str], float]:
    from core import catalog
    from core.tasks import ablation_classifier
    from core.tasks.base import get_task, own_dataset
    from core.tasks.classify import TransformerClassifier

    classifier = TransformerClassifier(spec, runtime="torch")
    split, _labels = get_task(spec.task).held_out(own_dataset(spec))
    index = classifier.model.config.label2id
    held_out = ([e.text for e in split.test], [index[e.label] for e in split.test])
    card = catalog.read_metadata(spec.key)
    found = ablation_classifier.classifier_sweep(classifier, held_out, max_length=card.recipe.get("max_length"),
                                                 version=card.sha256, mean=mean)  # fmt: skip
    rows = [f"L{n}" for n in range(found["delta"].shape[0])]
    return {**found, "delta": 100 * found["delta"], "low": 100 * found["low"], "high": 100 * found["high"]}, rows, 100 * float(found["base"])


def _translation(spec, mean: bool = False) -> tuple[dict, list[str], float]:
    from core import catalog
    from core.tasks import ablation_translation
    from core.tasks.translate import Translator

    found = ablation_translation.translation_sweep(Translator(spec), ablation_translation.held_out_pairs(spec),
                                                   version=catalog.read_metadata(spec.key).sha256, mean=mean)  # fmt: skip
    return found, found["rows"], float(found["base"])


def _gpt2_shaped(threads: int) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from core.tasks import ablation
    from core.tasks.lm_scoring import documents_nll

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    rng = np.random.default_rng(0)
    # 30 documents of 100–500 tokens, like the 30 held-out Lee articles a Hub GPT-2 is swept on
    available = [[50256, *rng.integers(0, 50000, int(rng.integers(100, 500))).tolist()] for _ in range(30)]
    layers, heads = ablation.shape(model)
    weights = sum(p.numel() for p in model.parameters())
    documents, _cut = ablation.sweep_plan(layers * heads, weights, available, mlps=layers)  # heads, then MLPs

    def score(chosen, mlps=()) -> list[tuple[float, int]]:
        with ablation.ablated(model, chosen, mlps):
            return documents_nll(model, documents, ablation.SWEEP_BLOCK)

    started = time.perf_counter()
    found = ablation.sweep(score, layers, heads, mlps=True)
    print(f"GPT-2-shaped ({weights / 1e6:.0f} M weights, {layers * heads} heads, {threads} thread(s)): "
          f"{len(documents)} blocks of {ablation.SWEEP_BLOCK} tokens from {len(available)} documents at the cap, sweep in {time.perf_counter() - started:.0f} s; "
          f"{int(np.isfinite(found['delta']).sum())} heads and {len(found['mlp_delta'])} MLPs ranked", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="sentiment-minilm,topic-minilm,translate-en-zh,translate-zh-en")
    parser.add_argument("--gpt2-shaped", action="store_true", help="time a GPT-2-small-shaped language model's sweep")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for --gpt2-shaped")
    parser.add_argument("--mean", action="store_true", help="switch heads off by their mean output, not zeros")
    args = parser.parse_args()
    if args.gpt2_shaped:
        _gpt2_shaped(args.threads)
        return
    from core import catalog

    for key in args.models.split(","):
        _ensure(key)
        spec = catalog.get_spec(key)
        started = time.perf_counter()
        found, rows, base = (_classifier if spec.task.startswith(("sentiment", "topic")) else _translation)(spec, args.mean)
        seconds = time.perf_counter() - started
        finite = np.isfinite(found["delta"])
        cells = sorted(zip(*np.nonzero(finite), strict=True), key=lambda cell: found["delta"][cell])
        costliest = ", ".join(f"{rows[r]} H{h} {found['delta'][r, h]:+.1f} [{found['low'][r, h]:+.1f}, "
                              f"{found['high'][r, h]:+.1f}]" for r, h in cells[:3])  # fmt: skip
        excluding = int(((found["high"] < 0) | (found["low"] > 0))[finite].sum())
        exact = int((found["p"] < 0.05)[finite].sum())
        how = "mean ablation" if args.mean else "zero ablation"
        print(f"{key} ({how}): {int(finite.sum())} heads in {seconds:.1f} s; whole model {base:.1f}; costliest {costliest}; "
              f"{excluding} heads with a CI excluding 0, {exact} with exact p < 0.05 (unadjusted)", flush=True)


if __name__ == "__main__":
    main()

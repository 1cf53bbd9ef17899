"""The benchmark of the masked language model: the share of hidden characters it fills in correctly on held-out
People's Daily paragraphs (the same 15 % hidden for every model, by seed), paired on paragraphs."""

from __future__ import annotations

import time

import numpy as np

from core.bench.scoring import HeldOut, Scored, Scoring, described, spec_and_variant, timed
from core.device import precision_of
from core.tasks.fill_mask import HELD_OUT_PARAGRAPHS


def _data(task: str) -> HeldOut:
    from core.data import peoples_daily

    paragraphs = peoples_daily.held_out_sample(HELD_OUT_PARAGRAPHS)
    return HeldOut(task, paragraphs, paragraphs, f"{peoples_daily.DATASET}, {len(paragraphs)} held-out paragraphs", [])


def _share(stats: np.ndarray) -> float:
    return float(stats[:, 0].sum() / max(stats[:, 1].sum(), 1))


def _score(model_id: str, held_out: HeldOut, repeats: int, seed: int) -> Scored:
    from core.tasks.fill_mask import FillMask, mask_counts, share_with_ci

    spec, variant = spec_and_variant(model_id, held_out.task)
    filler = FillMask(spec)
    texts = held_out.texts
    started = time.perf_counter()
    counts = mask_counts(filler.model, filler.tokenizer, texts)  # the positions the model card's number hid
    throughput = len(texts) / (time.perf_counter() - started)
    timings, text = timed(lambda text: filler.fill(text[:20] + "＿" + text[21:60]), [t for t in texts if len(t) > 30], repeats)
    return Scored(**described(spec, filler.model), outputs=[], per_item=counts, quality=share_with_ci(counts, seed=seed),
                  throughput=throughput, timings=timings, timed_text=text, precision=precision_of(filler.model),
                  extras={"decoding": "15 % of the first 62 tokens hidden at once"})  # fmt: skip


FILL_MASK = Scoring(_data, _score, _share)

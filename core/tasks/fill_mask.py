"""A masked language model, BERT's pretraining task made visible: hide characters, ask for them back.

``FillMask`` answers a text with [MASK] in it (or ＿ / _ where a character is hidden) with the model's top
guesses and their probabilities. ``mask_counts`` is the held-out measurement the trainer and the benchmark
share: a fixed 15 % of each paragraph's tokens hidden (the same positions for every model, by seed), and how
many the model gets back.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.catalog import ModelSpec
from core.errors import InputError
from core.messages import Message
from core.stats import Estimate
from core.tasks.inputs import FairLock, check_text, follows_inputs, inference_gate

MASK_SHARE = 0.15  # BERT's share of hidden tokens, in training and in the held-out measurement
HELD_OUT_TOKENS = 64  # the measurement reads each paragraph's first 62 tokens (the pretraining's block length)
MASK_SEED = 0  # the hidden positions of the measurement: the same for every model and every run
HELD_OUT_PARAGRAPHS = 400  # held-out People's Daily paragraphs the measurement reads
PLACEHOLDERS = ("＿",)  # what a student may type for a hidden character, besides [MASK] ("_" is in code and names)
MAX_MASKS = 16
MAX_CONTINUED = 20  # tokens the masked model is made to write, one forward pass each


@dataclass(frozen=True)
class Guess:
    position: int  # the token's index in ``tokens``
    candidates: list[tuple[str, float]]  # (token, probability), best first


@dataclass(frozen=True)
class Filled:
    tokens: list[str]
    guesses: list[Guess]


def masked_positions(n_tokens: int, seed: int) -> list[int]:
    """Which of a text's ``n_tokens`` inner tokens (special tokens excluded) the measurement hides: 15 %, at least one."""
    if n_tokens <= 0:
        return []
    count = max(1, round(MASK_SHARE * n_tokens))
    return sorted(random.Random(seed).sample(range(n_tokens), count))


def mask_counts(model, tokenizer, texts: Sequence[str], *, seed: int = MASK_SEED,
                max_length: int = HELD_OUT_TOKENS) -> np.ndarray:  # fmt: skip
    """(texts, 2) rows of [tokens guessed right, tokens hidden]: each text's fixed positions hidden at once."""
    import torch

    follows_inputs(model)  # a model pretraining left on a GPU answers there
    rows = []
    for index, text in enumerate(texts):
        ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
        inner = list(range(1, len(ids) - 1))  # [CLS] … [SEP]
        hidden = [inner[i] for i in masked_positions(len(inner), seed * 1_000_003 + index)]
        if not hidden:
            continue
        masked = list(ids)
        for position in hidden:
            masked[position] = tokenizer.mask_token_id
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([masked])).logits[0]
        guesses = logits[hidden].argmax(dim=-1).tolist()
        rows.append([sum(g == ids[p] for g, p in zip(guesses, hidden, strict=True)), len(hidden)])
    return np.array(rows, dtype=float).reshape(-1, 2)


def share_with_ci(counts: np.ndarray, *, seed: int = 0, n_resamples: int = 1000) -> dict:
    """Right / hidden over all texts, with a 95 % bootstrap CI that resamples whole texts."""
    if counts.size == 0 or counts[:, 1].sum() <= 0:
        raise ValueError("the measurement needs at least one text with a hidden token")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(counts), size=(n_resamples, len(counts)))
    values = counts[index, 0].sum(axis=1) / np.maximum(counts[index, 1].sum(axis=1), 1)
    low, high = np.quantile(values, [0.025, 0.975])
    return Estimate(float(counts[:, 0].sum() / counts[:, 1].sum()), float(low), float(high), len(counts)).as_dict()


class FillMask:
    """One shared masked language model; thread-safe (a fair lock around tokenize + forward)."""

    def __init__(self, spec: ModelSpec):
        from core import loading

        self.spec = spec
        self.tokenizer, self.model = loading.load_masked_lm(spec)
        self.max_tokens = loading.token_limit(self.tokenizer, self.model)
        self._lock = FairLock()

    def fill(self, text: str, k: int = 5) -> Filled:
        """The top ``k`` guesses for every hidden token of ``text`` ([MASK], ＿ or _), at most MAX_MASKS."""
        import torch

        cleaned = check_text(text)
        mask = self.tokenizer.mask_token
        for placeholder in PLACEHOLDERS:
            cleaned = cleaned.replace(placeholder, f" {mask} ")
        asked = cleaned.count(mask)  # counted before tokenizing: a thousand placeholders cost nothing to refuse
        if asked > MAX_MASKS:
            raise InputError(Message("At most {most} hidden characters at once; you hid {count}.",
                                     most=MAX_MASKS, count=asked))  # fmt: skip
        with self._lock, inference_gate():
            batch = self.tokenizer(cleaned, truncation=True, max_length=self.max_tokens, return_tensors="pt")
            ids = batch["input_ids"][0].tolist()
            hidden = [i for i, token in enumerate(ids) if token == self.tokenizer.mask_token_id]
            if not asked:
                raise InputError(Message("Hide at least one character: type [MASK] or ＿ in its place."))
            if len(hidden) < asked:
                raise InputError(Message("Hide characters within the first {most} tokens: the model reads no further.",
                                         most=self.max_tokens))  # fmt: skip
            with torch.inference_mode():
                logits = self.model(**batch).logits[0, hidden].float()
        probabilities = torch.softmax(logits, dim=-1)
        top = probabilities.topk(min(k, probabilities.shape[-1]), dim=-1)
        guesses = [Guess(position, [(self.tokenizer.convert_ids_to_tokens(int(i)), float(p))
                                    for p, i in zip(values.tolist(), indices.tolist(), strict=True)])
                   for position, values, indices in zip(hidden, top.values, top.indices, strict=True)]  # fmt: skip
        return Filled(self.tokenizer.convert_ids_to_tokens(ids), guesses)

    def continue_text(self, prompt: str, steps: int = MAX_CONTINUED) -> list[tuple[str, float]]:
        """The masked language model made to write, greedily: a [MASK] after the text (then [SEP]), its likeliest
        token that is no special token appended, ``steps`` times (fewer where the text and they would pass the
        64-token blocks it was pretrained on). Each token with the probability the model gave it.
        BERT was pretrained to fill a hidden token from both sides, inside a text; here nothing is on the right."""
        import torch

        cleaned = check_text(prompt)
        token = self.tokenizer
        written = []
        with self._lock, inference_gate(), torch.inference_mode():  # the shared tokenizer too: one caller at a time
            ids = token(cleaned, add_special_tokens=False)["input_ids"]
            room = min(self.max_tokens, HELD_OUT_TOKENS) - 3  # [CLS], [MASK], [SEP]; pretrained on 64-token blocks
            if len(ids) >= room:
                raise InputError(Message("At most {most} tokens of text before the model writes; this one has "
                                         "{count}.", most=room - 1, count=len(ids)))  # fmt: skip
            steps = max(1, min(steps, MAX_CONTINUED, room - len(ids)))  # fewer when the text fills the model's length
            special = sorted(set(token.all_special_ids))
            follows_inputs(self.model)
            for _ in range(steps):
                batch = torch.tensor([[token.cls_token_id, *ids, token.mask_token_id, token.sep_token_id]])
                logits = self.model(input_ids=batch.to(self.model.device)).logits[0, -2].float().cpu()
                probabilities = torch.softmax(logits, dim=-1)  # the model's own, over its whole vocabulary
                logits[special] = float("-inf")
                best = int(logits.argmax())  # the likeliest token that is no special token
                ids.append(best)
                written.append((token.convert_ids_to_tokens(best), float(probabilities[best])))
        return written

    def lens(self, text: str):
        """The masked-LM lens over ``text`` (``core.tasks.lens.read_masked_lens``); [MASK] or ＿ hides a character."""
        from core.tasks.lens import read_masked_lens

        cleaned = check_text(text)
        for placeholder in PLACEHOLDERS:
            cleaned = cleaned.replace(placeholder, f" {self.tokenizer.mask_token} ")
        from core.tasks.lens import MAX_TOKENS

        with self._lock, inference_gate():
            ids = self.tokenizer(cleaned, truncation=True, max_length=self.max_tokens)["input_ids"]
            if len(ids) > MAX_TOKENS:  # cut, the text would lose its [SEP] and any [MASK] after the cut: refused
                raise InputError(Message("The text has {count} tokens; the lens reads at most {most} ([CLS] and [SEP] "
                                         "included). Shorten it.", count=len(ids), most=MAX_TOKENS))  # fmt: skip
            return read_masked_lens(self.model, self.tokenizer, ids)

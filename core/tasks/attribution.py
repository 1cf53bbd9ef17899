"""Which words pushed a classifier's prediction, and which way — by three methods.

* **Gradient × input** (Shrikumar et al., 2016; Baehrens et al., 2010): the gradient of the
  target class's log-odds with respect to each token's input embedding, dotted with that
  embedding. First-order: how the output would move if the token's embedding shrank to zero.
* **Integrated gradients** (Sundararajan et al., 2017): the gradient averaged along the straight
  path from a baseline (every word piece replaced by [PAD]; [CLS] and [SEP] kept) to the real
  input, times the difference.
  Gradient × input is a local, first-order estimate: where the output is not linear in a word's
  embedding (the usual case inside a Transformer) it can misjudge that word. Integrated gradients
  follow the whole path instead, and their scores add up to the change in the output between
  baseline and input (completeness; the Riemann sum makes it approximate).
* **Occlusion** (leave one word out; Zeiler & Fergus, 2014; Li et al., 2016): the drop in the
  target class's log-odds when the word is deleted from the text. Model-agnostic, one forward
  pass per word.

All three are measured in log-odds, log p/(1 − p), rather than probability: a confident model's
probability barely moves (0.990 → 0.985), its log-odds still do, so the scores do not vanish.

Word pieces are merged back into the whitespace-separated words a reader sees; positive scores
support the target class, negative ones speak against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.data.text import HAN_RANGES
from core.device import precision_of
from core.errors import InputError
from core.messages import Message
from core.tasks.classify import TransformerClassifier
from core.tasks.inputs import check_text, inference_gate

MAX_WORDS = 60  # occlusion costs one forward pass per word
# Integrated gradients run IG_STEPS + 2 copies of the input forward and backward: memory and time grow
# with steps × tokens. 128 tokens keeps one explanation under ~2 s and ~300 MB on 2 CPU cores.
MAX_TOKENS = 128
IG_CHUNK = 8  # path points per forward/backward pass: bounds peak memory whatever the step count


@dataclass(frozen=True)
class WordScore:
    word: str
    start: int  # character span in the cleaned text
    end: int
    gradient_x_input: float
    integrated_gradients: float
    occlusion: float


@dataclass(frozen=True)
class Explanation:
    text: str
    target: str  # the class the scores are about
    probability: float  # the model's probability of that class for the full text
    words: list[WordScore]  # scores in log-odds of the target class
    baseline_log_odds: float  # the output for the all-[PAD] baseline (integrated gradients start here)
    log_odds: float  # the output for the text
    integrated_total: float = 0.0  # integrated gradients of every token, words or not (punctuation is no word)
    precision: str = "fp32"  # of the weights the gradients ran through (bf16 or fp16 where the server runs so)


def _log_odds(logits, index: int):
    """log p/(1 − p) for class ``index``: its logit minus the log-sum-exp of the other logits."""
    import torch

    others = torch.cat([logits[..., :index], logits[..., index + 1 :]], dim=-1)
    return logits[..., index] - torch.logsumexp(others, dim=-1)


# A Chinese character is a word of its own here (Chinese is written without spaces); full-width punctuation is
# no word (，。！ would otherwise use up the word cap of a Chinese review); other runs of non-space characters
# are words as in English.
_WORD = re.compile(rf"[{HAN_RANGES}]|[^\s{HAN_RANGES}\u3000-\u303f\uff00-\uffef]+")


def _words(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def _joined(spans: list[tuple[int, int]], offsets: list) -> list[tuple[int, int]]:
    """Neighbouring words joined where one token covers both: a model that reads multi-character pieces (很好) has
    one score per piece, which belongs to all its characters, and leaving the piece out removes all of them."""
    tokens = [(start, end) for start, end in offsets if end > start]
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and any(first < joined[-1][1] and last > start for first, last in tokens):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


IG_STEPS = 32  # midpoint Riemann sum; the tests check, on the tiny keyword model, that the scores add up to
# the change in log-odds within 5 % or 0.05 (whichever is larger); the page shows the gap for every text


def _integrated_gradients(classifier: TransformerClassifier, batch, special, pad_id: int, target_index: int):
    """Gradient × input at the text, integrated gradients from the all-[PAD] baseline, and the baseline's
    log-odds; the model is taken one chunk of the path at a time."""
    import torch

    from core.tasks.inputs import inputs_for

    model = classifier.model
    batch = inputs_for(model, dict(batch))  # the embedding layer is called directly: the inputs go to its device
    special = special.to(batch["input_ids"].device)
    extra = {k: v for k, v in batch.items() if k != "input_ids"}
    with torch.no_grad():  # the path is built in fp32 whatever the model computes in; each chunk is cast for it
        embeddings = model.get_input_embeddings()(batch["input_ids"]).detach().float()  # (1, T, d)
        # the baseline keeps [CLS]/[SEP] and replaces every real token by [PAD]
        pad_ids = torch.where(special, batch["input_ids"][0], pad_id)
        baseline = model.get_input_embeddings()(pad_ids[None]).detach().float()  # (1, T, d)
    dtype = model.get_input_embeddings().weight.dtype
    alphas = (torch.arange(IG_STEPS, dtype=embeddings.dtype, device=embeddings.device) + 0.5) / IG_STEPS  # (m,)
    path = baseline + alphas[:, None, None] * (embeddings - baseline)  # (m, T, d)
    points = torch.cat([path, embeddings, baseline])  # (m + 2, T, d)
    odds_parts, gradient_parts = [], []
    for chunk in points.split(IG_CHUNK):  # bounded memory: a few path points at a time
        with classifier._lock, inference_gate(), torch.enable_grad():
            chunk = chunk.to(dtype).clone().requires_grad_(True)
            repeat = {k: v.expand(len(chunk), -1) for k, v in extra.items()}
            # the traced pass once built (also by another request meanwhile), else the eager model
            logits = classifier.traced_pass.on_batch(
                repeat, lambda rows=chunk, rest=repeat: model(inputs_embeds=rows, **rest).logits,
                first=lambda rows=chunk: rows)  # fmt: skip
            chunk_odds = _log_odds(logits.float(), target_index)
            (chunk_gradient,) = torch.autograd.grad(chunk_odds.sum(), chunk)
        odds_parts.append(chunk_odds.detach())
        gradient_parts.append(chunk_gradient.float())
    odds, gradient = torch.cat(odds_parts), torch.cat(gradient_parts)  # (m + 2,), (m + 2, T, d)
    # gradient × input at the real input; integrated gradients along the path
    per_token = (gradient[IG_STEPS] * embeddings[0]).sum(-1).tolist()  # (T,)
    integrated = ((gradient[:IG_STEPS].mean(0) * (embeddings[0] - baseline[0])).sum(-1)).tolist()  # (T,)
    return per_token, integrated, float(odds[-1].detach())


def explain(classifier: TransformerClassifier, text: str, target: str | None = None) -> Explanation:
    import torch

    cleaned = check_text(text)
    spans = _words(cleaned)
    tokenizer, model = classifier.tokenizer, classifier.model
    if target is not None and target not in classifier.labels:
        raise InputError(f"Unknown class {target!r}; choose one of {list(classifier.labels)}.")
    classifier.traced_pass.get()  # traced once (the GIL is taken once per pass), the model taken step by step
    # The model lock and an inference slot are taken one step at a time (the first forward pass, each chunk
    # of the integrated-gradients path, the occlusion batch): another student's request on the same model
    # waits for one step, not for the whole explanation.
    with classifier._lock, inference_gate():
        n_tokens = len(tokenizer(cleaned)["input_ids"])  # the whole text: a cut-off one is refused too
        if n_tokens > MAX_TOKENS:
            raise InputError(
                Message("Explanations take at most {most} tokens (integrated gradients run the model {passes} times "
                        "forward and backward); your text has {count}. Shorten it.", most=MAX_TOKENS,
                        passes=IG_STEPS + 2, count=n_tokens)
            )
        batch = tokenizer(cleaned, truncation=True, max_length=classifier.max_tokens, return_tensors="pt",
                          return_offsets_mapping=True)  # fmt: skip
        offsets = batch.pop("offset_mapping")[0].tolist()
        spans = _joined(spans, offsets)  # a piece such as 很好 is one word: its score cannot be split
        if len(spans) > MAX_WORDS:
            raise InputError(
                Message("Explanations take at most {most} words (one model call per word); yours has {count}.",
                        most=MAX_WORDS, count=len(spans))
            )
        special = torch.tensor(tokenizer.get_special_tokens_mask(batch["input_ids"][0].tolist(),
                                                                 already_has_special_tokens=True)).bool()  # fmt: skip
        pad_id = tokenizer.pad_token_id or 0
        variants = [" ".join((cleaned[:start] + cleaned[end:]).split()) or "." for start, end in spans]
        occluded = tokenizer(variants, truncation=True, max_length=classifier.max_tokens, padding=True,
                             return_tensors="pt")  # fmt: skip
        with torch.no_grad():
            logits = _logits(classifier, batch)[0].float()
            probabilities = torch.softmax(logits, dim=-1)
        target_index = classifier.labels.index(target) if target is not None else int(probabilities.argmax())

    # 1) gradients on the token embeddings (only the embeddings get a gradient, never the shared weights)
    per_token, integrated, baseline_odds = _integrated_gradients(classifier, batch, special, pad_id, target_index)

    # 2) occlusion: the same text with one word removed, all variants in one batch
    with classifier._lock, inference_gate(), torch.no_grad():
        occluded_odds = _log_odds(_logits(classifier, occluded).float(), target_index).tolist()
    base_odds = float(_log_odds(logits, target_index))

    words = _word_scores(cleaned, spans, offsets, per_token, integrated, [base_odds - o for o in occluded_odds])
    base = float(probabilities[target_index])
    return Explanation(cleaned, classifier.labels[target_index], base, words, baseline_odds, base_odds,
                       float(sum(integrated)), precision_of(model))  # special tokens add 0: the baseline keeps them


def _logits(classifier: TransformerClassifier, batch):
    """The model's logits for a tokenized batch: through the traced pass where there is one (the same numbers), else
    the eager model. The caller holds the model."""
    model = classifier.model
    return classifier.traced_pass.on_batch(batch, lambda: model(**batch).logits,
                                           first=lambda: model.get_input_embeddings()(batch["input_ids"]))  # fmt: skip


def _word_scores(text: str, spans: list[tuple[int, int]], offsets: list, per_token, integrated,
                 occlusion: list[float]) -> list[WordScore]:  # fmt: skip
    """Token scores summed into the words they belong to (a token belongs to the word whose span holds its
    first character; special tokens have the span (0, 0) and belong to none)."""
    words = []
    for index, (start, end) in enumerate(spans):
        inside = [position for position, (token_start, token_end) in enumerate(offsets)
                  if token_end > token_start and start <= token_start < end]  # fmt: skip
        words.append(WordScore(text[start:end], start, end, float(sum(per_token[p] for p in inside)),
                               float(sum(integrated[p] for p in inside)), occlusion[index]))  # fmt: skip
    return words

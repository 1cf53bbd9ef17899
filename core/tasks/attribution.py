"""Which words pushed a classifier's prediction, and which way — by two independent methods.

* **Gradient × input** (Shrikumar et al., 2016; Simonyan et al., 2014): the gradient of the
  target class's log-odds with respect to each token's input embedding, dotted with that
  embedding. First-order: how the output would move if the token's embedding shrank to zero.
* **Occlusion** (leave one word out; Zeiler & Fergus, 2014; Li et al., 2016): the drop in the
  target class's log-odds when the word is deleted from the text. Model-agnostic, one forward
  pass per word.

Both are measured in log-odds, log p/(1 − p), rather than probability: a confident model's
probability barely moves (0.990 → 0.985), its log-odds still do, so the scores do not vanish.

Word pieces are merged back into the whitespace-separated words a reader sees; positive scores
support the target class, negative ones speak against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InputError
from core.tasks.classify import TransformerClassifier
from core.tasks.inputs import check_text

MAX_WORDS = 60  # occlusion costs one forward pass per word


@dataclass(frozen=True)
class WordScore:
    word: str
    start: int  # character span in the cleaned text
    end: int
    gradient_x_input: float
    occlusion: float


@dataclass(frozen=True)
class Explanation:
    text: str
    target: str  # the class the scores are about
    probability: float  # the model's probability of that class for the full text
    words: list[WordScore]  # scores in log-odds of the target class


def _log_odds(logits, index: int):
    """log p/(1 − p) for class ``index``: its logit minus the log-sum-exp of the other logits."""
    import torch

    others = torch.cat([logits[..., :index], logits[..., index + 1 :]], dim=-1)
    return logits[..., index] - torch.logsumexp(others, dim=-1)


def _words(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def explain(classifier: TransformerClassifier, text: str, target: str | None = None) -> Explanation:
    import torch

    cleaned = check_text(text)
    spans = _words(cleaned)
    if len(spans) > MAX_WORDS:
        raise InputError(
            f"Explanations take at most {MAX_WORDS} words (one model call per word); yours has {len(spans)}."
        )
    tokenizer, model = classifier.tokenizer, classifier.model
    with classifier._lock:
        batch = tokenizer(cleaned, truncation=True, max_length=classifier.max_tokens, return_tensors="pt",
                          return_offsets_mapping=True)  # fmt: skip
        offsets = batch.pop("offset_mapping")[0].tolist()
        with torch.inference_mode():
            logits = model(**batch).logits[0].float()
            probabilities = torch.softmax(logits, dim=-1)
        target_index = classifier.labels.index(target) if target is not None else int(probabilities.argmax())
        if target is not None and target not in classifier.labels:
            raise InputError(f"Unknown class {target!r}; choose one of {classifier.labels}.")

        # 1) gradient × input on the token embeddings (only the embeddings get a gradient)
        with torch.enable_grad():
            embeddings = model.get_input_embeddings()(batch["input_ids"]).detach().requires_grad_(True)
            extra = {k: v for k, v in batch.items() if k != "input_ids"}
            log_probability = torch.log_softmax(model(inputs_embeds=embeddings, **extra).logits[0], dim=-1)[
                target_index
            ]
            (gradient,) = torch.autograd.grad(log_probability, embeddings)
        per_token = (gradient * embeddings).sum(-1)[0].detach().tolist()  # (T,)

        # 2) occlusion: the same text with one word removed, all variants in one batch
        variants = [" ".join((cleaned[:start] + cleaned[end:]).split()) or "." for start, end in spans]
        occluded = tokenizer(variants, truncation=True, max_length=classifier.max_tokens, padding=True,
                             return_tensors="pt")  # fmt: skip
        with torch.inference_mode():
            occluded_odds = _log_odds(model(**occluded).logits.float(), target_index).tolist()
        base_odds = float(_log_odds(logits, target_index))

    base = float(probabilities[target_index])
    words = []
    for index, (start, end) in enumerate(spans):
        # a token belongs to the word whose span holds its first character; special tokens have (0, 0)
        score = sum(
            value
            for value, (token_start, token_end) in zip(per_token, offsets, strict=True)
            if token_end > token_start and start <= token_start < end
        )
        words.append(
            WordScore(cleaned[start:end], start, end, float(score), base_odds - occluded_odds[index])
        )
    return Explanation(cleaned, classifier.labels[target_index], base, words)

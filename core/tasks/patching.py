"""Activation patching: which positions and layers carry the difference between two inputs.

Two inputs of the same length in tokens — a clean one ("The film was great.") and a corrupted one ("The film
was awful.") — give the model two answers. Run the corrupted input again, but copy one vector of the clean
run's residual stream into it (one position, after one layer), and measure how much of the clean answer
comes back:

    recovered = (m(patched) − m(corrupted)) / (m(clean) − m(corrupted))

where m is a logit difference: the clean answer's logit minus the corrupted answer's (a classifier's two
labels; a language model's two next tokens after the last position). 1 means that one vector alone carries
everything that made the answers differ; 0 means it carries nothing of it; the value can leave [0, 1] where a
patch overshoots or works against the clean answer. Rows are the stream entering the first block
("embeddings") and after each block; columns the positions. Hooks on the real model do it (Vig et al. 2020,
Meng et al. 2022 call it causal tracing / interchange intervention); nothing is copied or retrained.

Checked on every run: patching every position of a layer gives the clean run's logits, and patching nothing
gives the corrupted run's (both to rounding), as they must.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import CoreError, InputError
from core.messages import Message
from core.tasks.inputs import inputs_for, to_cpu

MAX_TOKENS = 32  # positions per input: one batched forward pass per layer, as many rows as positions
MIN_GAP = 1e-3  # m(clean) − m(corrupted) below this: the answers are tied, there is nothing to recover


@dataclass(frozen=True)
class Patching:
    clean_tokens: list[str]
    corrupted_tokens: list[str]
    layers: list[str]  # "embeddings", "block 1", …, "block n": where the stream is read and patched
    recovered: np.ndarray  # (layers, positions): share of m(clean) − m(corrupted) that one patched vector restores
    clean_answer: str  # what the model answers to the clean input (a label, or the next token)
    corrupted_answer: str  # what it answers to the corrupted one (never the same: that is refused)
    clean_metric: float  # m on the clean input: logit(clean answer) − logit(corrupted answer)
    corrupted_metric: float
    all_patched_difference: float  # max |logits with every position of a layer patched − clean logits|, all layers
    none_patched_difference: float  # max |logits of the batch row with no patch − corrupted logits|

    def strongest(self, count: int = 5) -> list[tuple[int, int, float]]:
        """The cells that restore the most, as (layer, position, recovered), largest first."""
        order = np.argsort(-self.recovered.ravel(), kind="stable")[:count]
        width = self.recovered.shape[1]
        return [(int(i // width), int(i % width), float(self.recovered.ravel()[i])) for i in order]


def streams_of(model) -> tuple[object, list]:
    """(the module whose output is the stream entering the first block, the blocks) of a GPT-2-class language
    model or a BERT-class encoder (BERT, MiniLM, RoBERTa, DistilBERT), whatever head sits on top."""
    base = getattr(model, "base_model", model)
    if hasattr(base, "h") and hasattr(base, "drop"):  # GPT-2: dropout over token + position embeddings
        return base.drop, list(base.h)
    embeddings = getattr(base, "embeddings", None)
    stack = getattr(getattr(base, "encoder", None), "layer", None) or getattr(getattr(base, "transformer", None), "layer", None)
    if embeddings is None or stack is None:
        raise CoreError(Message("Activation patching reads GPT-2-class language models and BERT-class encoders; "
                                "{name} is neither.", name=type(model).__name__))  # fmt: skip
    return embeddings, list(stack)


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def _with_first(output, replaced):
    return (replaced, *output[1:]) if isinstance(output, tuple) else replaced


def _read_streams(model, run: Callable, batch: dict) -> tuple[list, object]:
    """The residual stream after the embeddings and after every block for ``batch``, and the logits."""
    import torch

    sources, blocks = streams_of(model)
    kept: list = []
    hooks = [module.register_forward_hook(lambda _m, _i, out: kept.append(_first(out).detach().clone()))
             for module in (sources, *blocks)]  # fmt: skip
    try:
        with torch.no_grad():
            logits = run(batch)
    finally:
        for hook in hooks:
            hook.remove()
    return kept, logits


def _patched_layer(model, run: Callable, corrupted: dict, clean_stream, layer: int):
    """Logits of ``positions + 2`` corrupted rows in one pass: row i has position i of the stream after
    ``layer`` replaced by the clean run's; the next row every position; the last none."""
    import torch

    sources, blocks = streams_of(model)
    module = [sources, *blocks][layer]
    width = clean_stream.shape[1]
    rows = width + 2
    batch = {name: value.repeat(rows, *[1] * (value.dim() - 1)) for name, value in corrupted.items()}

    def patch(_module, _inputs, output):
        stream = _first(output).clone()
        index = torch.arange(width, device=stream.device)
        stream[index, index] = clean_stream[0, index].to(stream.dtype)  # row i: position i
        stream[width] = clean_stream[0].to(stream.dtype)  # every position
        return _with_first(output, stream)

    hook = module.register_forward_hook(patch)
    try:
        with torch.no_grad():
            return run(batch)
    finally:
        hook.remove()


def patch(model, run: Callable, clean: dict, corrupted: dict, answer: Callable[[object], tuple[int, int]],
          names: Callable[[int], str], tokens: tuple[list[str], list[str]]) -> Patching:  # fmt: skip
    """The whole grid: ``run(batch)`` gives each row's logits for the metric (classes, or the last position's
    vocabulary), ``answer(clean_logits, corrupted_logits)`` picks the two answers compared, ``names`` writes
    one. One pass per layer, plus one for each input."""
    clean_streams, clean_logits = _read_streams(model, run, clean)
    _, corrupted_logits = _read_streams(model, run, corrupted)
    clean_logits, corrupted_logits = to_cpu(clean_logits[0]), to_cpu(corrupted_logits[0])
    good, bad = answer(clean_logits, corrupted_logits)
    if good == bad:  # then m compares an answer with itself: there is no difference to trace
        raise InputError(Message("Both texts get the same answer ({answer}): patching traces what makes two answers "
                                 "differ. Change a word that changes the answer.", answer=names(good)))  # fmt: skip

    def metric(logits) -> np.ndarray:
        return (logits[..., good] - logits[..., bad]).numpy()

    high, low = float(metric(clean_logits)), float(metric(corrupted_logits))
    if high - low < MIN_GAP:  # two answers tied on one of the inputs: the share would divide by almost nothing
        raise InputError(Message("The two answers ({clean}, {corrupted}) are tied on one of the texts: there is no "
                                 "difference to trace. Change a word that changes the answer more clearly.",
                                 clean=names(good), corrupted=names(bad)))  # fmt: skip
    rows, all_patched, none_patched = [], 0.0, 0.0
    for layer, stream in enumerate(clean_streams):
        logits = to_cpu(_patched_layer(model, run, corrupted, stream, layer))
        width = stream.shape[1]
        rows.append((metric(logits[:width]) - low) / (high - low))
        all_patched = max(all_patched, float((logits[width] - clean_logits).abs().max()))
        none_patched = max(none_patched, float((logits[width + 1] - corrupted_logits).abs().max()))
    count = len(clean_streams) - 1
    return Patching(clean_tokens=tokens[0], corrupted_tokens=tokens[1],
                    layers=["embeddings", *[f"block {n}" for n in range(1, count + 1)]], recovered=np.stack(rows),
                    clean_answer=names(good), corrupted_answer=names(bad), clean_metric=high, corrupted_metric=low,
                    all_patched_difference=all_patched, none_patched_difference=none_patched)  # fmt: skip


def _two_answers(clean_logits, corrupted_logits) -> tuple[int, int]:
    """The clean input's answer and the corrupted input's (their top logits)."""
    return int(clean_logits.argmax()), int(corrupted_logits.argmax())


def same_length(clean: Sequence, corrupted: Sequence, shown: Callable[[Sequence], str]) -> None:
    """Refuse, in words, two inputs whose token counts differ or exceed MAX_TOKENS."""
    if len(clean) != len(corrupted):
        raise InputError(Message("Patching copies one position into the same position of the other run, so both texts "
                                 "need the same number of tokens: the clean one has {clean} ({clean_tokens}), the "
                                 "corrupted one {corrupted} ({corrupted_tokens}). Swap words that are one token each.",
                                 clean=len(clean), corrupted=len(corrupted), clean_tokens=shown(clean),
                                 corrupted_tokens=shown(corrupted)))  # fmt: skip
    if len(clean) > MAX_TOKENS:
        raise InputError(Message("Each text has {count} tokens; patching reads at most {most}. Shorten both.",
                                 count=len(clean), most=MAX_TOKENS))  # fmt: skip


def patch_classifier(classifier, clean: str, corrupted: str) -> Patching:
    """The grid for a sequence classifier (``core.tasks.classify.TransformerClassifier``): m compares two labels."""
    model, tokenizer = classifier.model, classifier.tokenizer
    with classifier.exclusive():
        encoded = [dict(tokenizer(text, return_tensors="pt")) for text in (clean, corrupted)]
        ids = [batch["input_ids"][0].tolist() for batch in encoded]
        tokens = [tokenizer.convert_ids_to_tokens(row) for row in ids]
        same_length(tokens[0], tokens[1], " ".join)
        labels = model.config.id2label
        return patch(model, lambda batch: model(**inputs_for(model, batch)).logits.float(), encoded[0], encoded[1],
                     _two_answers, lambda index: str(labels[index]), (tokens[0], tokens[1]))  # fmt: skip


def patch_language_model(lm, clean: str, corrupted: str) -> Patching:
    """The grid for a causal language model (``core.tasks.generate``'s): m compares two next tokens after the last
    position."""
    import torch

    def shown(row) -> list[str]:
        return [lm.tokenizer.decode([i]).replace(" ", "␣") or "∅" for i in row]

    model = lm.model
    with lm.exclusive():  # the tokenizer too is used by one request at a time
        ids = [lm.token_ids(text) for text in (clean, corrupted)]
        tokens = [shown(row) for row in ids]
        same_length(tokens[0], tokens[1], " ".join)
        return patch(model, lambda batch: model(**inputs_for(model, batch)).logits[:, -1].float(),
                     {"input_ids": torch.tensor([ids[0]])}, {"input_ids": torch.tensor([ids[1]])}, _two_answers,
                     lambda index: shown([index])[0], (tokens[0], tokens[1]))  # fmt: skip

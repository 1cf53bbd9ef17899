"""Activation patching: which positions and layers carry the difference between two inputs.

Two inputs of the same length in tokens — a clean one ("The film was great.") and a corrupted one ("The film
was awful.") — give the model two answers. Run the corrupted input again, but copy one vector of the clean
run's residual stream into it (one position, after one layer), and measure how much of the clean answer
comes back:

    recovered = (m(patched) − m(corrupted)) / (m(clean) − m(corrupted))

where m is a logit difference: the clean answer's logit minus the corrupted answer's (a classifier's two
labels; a language model's two next tokens after the last position). A cell says whether that one vector,
with everything else still corrupted, is enough to restore the clean answer's lead: 1, all of it; 0, none of it
— which does not mean the information is absent there: it may be spread over several positions, none enough
alone. Values can leave [0, 1] where a patch overshoots or works against the clean answer. Rows are the hidden
state entering the first block ("embeddings") and after each block (in GPT-2 the residual stream itself; in
BERT-class encoders, which normalise after each block, the normalised hidden state the next block reads);
columns the positions. Hooks on the real model do it; nothing is copied or retrained. The set-up — a clean and
a corrupted prompt, a logit difference, patching one activation at a time — is that of Wang et al. (2022) and
of causal mediation analysis (Vig et al., 2020); Meng et al. (2022) corrupt with noise instead of a second text.

Checked on every run: patching every position of a layer gives the clean run's logits, and patching nothing
gives the corrupted run's (both to rounding), as they must: the two inputs have the same length and no padding,
so the masks and positions are the same, and the models run in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import CoreError, InputError
from core.messages import Message
from core.tasks.inputs import check_text, inputs_for, to_cpu

MAX_TOKENS = 32  # positions per input: one batched forward pass per layer, as many rows as positions
WORK_BUDGET = 3e11  # weights × tokens × rows of one request: MiniLM reads 32 tokens, GPT-2 small 8
MIN_GAP = 0.1  # m(clean) − m(corrupted) below this (logits): the answers are nearly tied, the shares meaningless


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
    tolerance: float = 1e-3  # what rounding may explain: 1e-3 of a logit in fp32, more in half precision
    heads: np.ndarray | None = None  # (blocks, heads): the share restored by one head's output, every position

    @property
    def checks_pass(self) -> bool:
        """Both checks within rounding: the hooks patched what they should, and nothing else."""
        return max(self.all_patched_difference, self.none_patched_difference) <= self.tolerance

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
    """The residual stream after the embeddings and after every block for ``batch``, and the logits (the caller
    holds the model: hooks on a shared model live only inside its lock)."""
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
          names: Callable[[int], str], tokens: tuple[list[str], list[str]], guard: Callable) -> Patching:  # fmt: skip
    """The whole grid: ``run(batch)`` gives each row's logits for the metric (classes, or the last position's
    vocabulary), ``answer(clean_logits, corrupted_logits)`` picks the two answers compared, ``names`` writes
    one, ``guard()`` holds the model for one pass. One pass per layer, plus one for each input."""
    with guard():
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
    if high - low < MIN_GAP:  # m(clean) ≥ 0 ≥ m(corrupted): a small gap means nearly tied on both texts
        raise InputError(Message("The two answers ({clean}, {corrupted}) are nearly tied on both texts (their logits "
                                 "differ by {gap} in all): the shares would divide by almost nothing. Change a word "
                                 "that changes the answer more clearly.", clean=names(good), corrupted=names(bad),
                                 gap=f"{high - low:.3f}"))  # fmt: skip
    rows, all_patched, none_patched = [], 0.0, 0.0
    for layer, stream in enumerate(clean_streams):
        with guard():  # the model is given back between layers: other sessions' requests get in
            logits = to_cpu(_patched_layer(model, run, corrupted, stream, layer))
        width = stream.shape[1]
        rows.append((metric(logits[:width]) - low) / (high - low))
        all_patched = max(all_patched, float((logits[width] - clean_logits).abs().max()))
        none_patched = max(none_patched, float((logits[width + 1] - corrupted_logits).abs().max()))
    count = len(clean_streams) - 1
    by_head = _head_grid(model, run, clean, corrupted, guard, metric)
    return Patching(heads=None if by_head is None else (by_head - low) / (high - low),
                    clean_tokens=tokens[0], corrupted_tokens=tokens[1],
                    layers=["embeddings", *[f"block {n}" for n in range(1, count + 1)]], recovered=np.stack(rows),
                    clean_answer=names(good), corrupted_answer=names(bad), clean_metric=high, corrupted_metric=low,
                    all_patched_difference=all_patched, none_patched_difference=none_patched,
                    tolerance=1e-3 if next(model.parameters()).dtype.itemsize >= 4 else 5e-2)  # fmt: skip


def _head_grid(model, run: Callable, clean: dict, corrupted: dict, guard: Callable, metric: Callable):
    """m (blocks, heads) of the corrupted input with one head's output — the head's slice of what enters W_O, at
    every position — taken from the clean run; one pass per block, a row per head, each pass reduced to m at once.
    None for a model whose heads LM Lab cannot reach."""
    import torch

    from core.tasks.ablation import head_inputs, shape

    try:
        modules, (_layers, count) = head_inputs(model), shape(model)
    except CoreError:
        return None
    kept: list = []
    with guard(), torch.no_grad():  # hooks only while the model is held: other sessions' passes never run through them
        hooks = [module.register_forward_pre_hook(lambda _m, inputs: kept.append(inputs[0].detach().clone()))
                 for module in modules]  # fmt: skip
        try:
            run(clean)
        finally:
            for hook in hooks:
                hook.remove()
    if len(kept) != len(modules):  # a W_O the model never called: no head grid rather than a wrong one
        return None
    width = kept[0].shape[-1] // count
    found = []
    for layer, module in enumerate(modules):
        batch = {name: value.repeat(count, *[1] * (value.dim() - 1)) for name, value in corrupted.items()}

        def patch(_module, inputs, layer=layer):
            merged = inputs[0].clone()
            for head in range(count):  # row h: head h's output from the clean run
                merged[head, :, head * width : (head + 1) * width] = kept[layer][0, :, head * width : (head + 1) * width]
            return (merged, *inputs[1:])

        with guard(), torch.no_grad():
            hook = module.register_forward_pre_hook(patch)
            try:
                found.append(metric(to_cpu(run(batch))))
            finally:
                hook.remove()
    return np.stack(found)


def _two_answers(clean_logits, corrupted_logits) -> tuple[int, int]:
    """The clean input's answer and the corrupted input's (their top logits)."""
    return int(clean_logits.argmax()), int(corrupted_logits.argmax())


def most_tokens(model) -> int:
    """The positions a grid may have on ``model``: MAX_TOKENS, fewer for a big model, so that one request (the
    position grid and the head grid) costs at most about WORK_BUDGET multiplications by a weight: weights × tokens ×
    rows, with (layers + 1) × (tokens + 2) rows for positions and layers × heads for heads."""
    from core.tasks.ablation import shape

    weights = sum(p.numel() for p in model.parameters())
    layers = len(streams_of(model)[1])
    try:
        heads = shape(model)[1]
    except CoreError:
        heads = 0
    fits = [n for n in range(4, MAX_TOKENS + 1) if weights * n * ((layers + 1) * (n + 2) + layers * heads) <= WORK_BUDGET]
    return fits[-1] if fits else 4


def same_length(clean: Sequence, corrupted: Sequence, shown: Callable[[Sequence], str], most: int = MAX_TOKENS) -> None:
    """Refuse, in words, two inputs whose token counts differ or exceed ``most``."""
    if len(clean) != len(corrupted):
        raise InputError(Message("Patching copies one position into the same position of the other run, so both texts "
                                 "need the same number of tokens: the clean one has {clean} ({clean_tokens}), the "
                                 "corrupted one {corrupted} ({corrupted_tokens}). Swap words that are one token each.",
                                 clean=len(clean), corrupted=len(corrupted), clean_tokens=shown(clean),
                                 corrupted_tokens=shown(corrupted)))  # fmt: skip
    if len(clean) > most:
        raise InputError(Message("Each text has {count} tokens; patching reads at most {most} on this model. Shorten "
                                 "both.", count=len(clean), most=most))  # fmt: skip


def patch_classifier(classifier, clean: str, corrupted: str) -> Patching:
    """The grid for a sequence classifier (``core.tasks.classify.TransformerClassifier``): m compares two labels."""
    model, tokenizer = classifier.model, classifier.tokenizer
    clean, corrupted = check_text(clean), check_text(corrupted)
    with classifier.exclusive():  # the shared tokenizer, like the model, serves one request at a time
        encoded = [dict(tokenizer(text, return_tensors="pt")) for text in (clean, corrupted)]
    tokens = [tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist()) for batch in encoded]
    same_length(tokens[0], tokens[1], " ".join, most_tokens(model))
    labels = model.config.id2label
    return patch(model, lambda batch: model(**inputs_for(model, batch)).logits.float(), encoded[0], encoded[1],
                 _two_answers, lambda index: str(labels[index]), (tokens[0], tokens[1]), classifier.exclusive)  # fmt: skip


def patch_language_model(lm, clean: str, corrupted: str) -> Patching:
    """The grid for a causal language model (``core.tasks.generate``'s): m compares two next tokens after the last
    position."""
    import torch

    def shown(row) -> list[str]:
        return [lm.tokenizer.decode([i]).replace(" ", "␣") or "∅" for i in row]

    def run(batch):  # the logits of the last position only: a 50,257-token vocabulary per row is not kept
        return model(**inputs_for(model, batch), logits_to_keep=1, use_cache=False).logits[:, -1].float().clone()

    model = lm.model
    with lm.exclusive():  # the shared tokenizer, like the model, serves one request at a time
        ids = [lm.token_ids(text) for text in (clean, corrupted)]
        tokens = [shown(row) for row in ids]
    same_length(tokens[0], tokens[1], " ".join, most_tokens(model))
    return patch(model, run, {"input_ids": torch.tensor([ids[0]])}, {"input_ids": torch.tensor([ids[1]])},
                 _two_answers, lambda index: shown([index])[0], (tokens[0], tokens[1]), lm.exclusive)  # fmt: skip

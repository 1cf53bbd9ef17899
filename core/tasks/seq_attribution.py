"""Which source words each translated token used: integrated gradients for an encoder-decoder, next to its
cross-attention.

For the translation the model itself produced (greedy), each target token's log-probability given the source
and the target tokens before it, log p(y_t | x, y_<t), is attributed to the source tokens with integrated
gradients (Sundararajan et al., 2017) over the encoder's input embeddings, teacher-forced on that output: the
gradient averaged along the straight path from a baseline (every source token but the special ones replaced by
the padding token) to the real source, times the difference, summed over the embedding. Rows are target tokens,
columns source tokens, in nats; positive scores raised that token's probability.

Completeness — each row sums to log p(y_t | x) − log p(y_t | baseline) — holds for the exact integral; the
Riemann sum makes it approximate, and every run reports how far off it is. Gradient × input (the gradient at
the real source times its embedding) comes along, and the cross-attention of the last decoder layer (mean over
heads) is returned for the same output so the two can be compared: attention says where a decoder looked,
attributions what changed its answer; the share of target tokens whose most-attributed source token is also
the most-attended one says how often they agree.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.catalog import HUB, weights_sha256
from core.errors import CoreError, InputError
from core.loading import eager_attention
from core.memo import Memo
from core.messages import Message
from core.tasks.inputs import check_text, inputs_for, refuse_other_language, to_cpu

IG_STEPS = 64  # midpoints of the path: enough for completeness within 1 % on the models trained here
MAX_TARGET = 32  # target tokens attributed (rows); a longer output is cut there, and the page says so
ROWS_PER_PASS = 64  # (path point × target token) rows per pass: 195 MB at most on the translation model, as fast as 256
_RUNNING = threading.Semaphore(1)  # attributions computing at once in the process
_MEMO = Memo(max_entry_bytes=1 << 20)  # results any session already got, by model, text and output


MIN_CHANGE = 0.1  # nats: a row whose inputs moved its log-probability less than this is not compared


@dataclass(frozen=True)
class Agreement:
    same: int  # rows whose most-attributed and most-attended input is the same token
    rows: int  # rows compared: those whose inputs changed the output by at least MIN_CHANGE
    chance: float  # the share a random pick among each row's candidate inputs would match


@dataclass(frozen=True)
class SourceAttribution:
    source_tokens: list[str]  # the inputs: the source sentence, or the text before each generated token
    target_tokens: list[str]  # the outputs attributed, at most MAX_TARGET
    integrated: np.ndarray  # (target, source): integrated gradients of log p(y_t | inputs, y_<t), nats
    gradient_x_input: np.ndarray  # (target, source): the gradient at the input times the input (baseline zero)
    attention: np.ndarray | None  # (target, source): last layer's attention where y_t is predicted, mean of heads
    output_change: np.ndarray  # (target,): log p(y_t | inputs) − log p(y_t | baseline), what each row should sum to
    completeness_error: float  # max over rows of |row sum − output_change|, nats
    cut: bool  # there were more outputs than MAX_TARGET (or than the model's window holds)
    kept: np.ndarray  # (source,) bool: inputs the baseline keeps as they are (special tokens): their score is 0
    reach: np.ndarray  # (target,): how many inputs (from the first) can affect each row: all, or those before it

    @property
    def relative_completeness_error(self) -> float:
        """The largest miss of a row's sum, as a share of that row's own change, over rows that changed by at
        least MIN_CHANGE (the others: as a share of MIN_CHANGE)."""
        misses = np.abs(self.integrated.sum(axis=1) - self.output_change)
        return float((misses / np.maximum(np.abs(self.output_change), MIN_CHANGE)).max())

    def top_agreement(self) -> Agreement | None:
        """How often the most-attributed input (largest |IG|) is the most-attended one, among the inputs that can
        matter (not those the baseline keeps, whose score is 0 by construction, nor later ones)."""
        if self.attention is None:
            return None
        same = rows = 0
        chance = 0.0
        for row in range(len(self.target_tokens)):
            candidates = np.flatnonzero(~self.kept[: self.reach[row]])
            if abs(self.output_change[row]) < MIN_CHANGE or len(candidates) == 0:
                continue
            rows += 1
            chance += 1 / len(candidates)
            attributed = candidates[np.abs(self.integrated[row, candidates]).argmax()]
            same += int(attributed == candidates[self.attention[row, candidates].argmax()])
        return Agreement(same=same, rows=rows, chance=chance / rows if rows else 0.0)


def _translation_objective(model, mask, decoder, labels, body):
    """Row r's value: log p(labels[t] | source row r, decoder tokens before t), t = r % T. Only the row's own
    position goes through the output layer: never a (rows × T × vocabulary) tensor. ``body(rows, mask, decoder)``
    is the model's pass before the output layer (traced: ``core.tasks.traced``; None: the eager one)."""
    import torch

    def objective(rows):
        count = len(rows)
        masks, decoders = mask.expand(count, -1), decoder.expand(count, -1)
        hidden = (model.base_model(inputs_embeds=rows, attention_mask=masks, decoder_input_ids=decoders).last_hidden_state
                  if body is None else body(rows, masks, decoders))  # (rows, T, d)  # fmt: skip
        index = torch.arange(count, device=hidden.device)
        position = index % labels.shape[0]
        logits = model.lm_head(hidden[index, position]) + getattr(model, "final_logits_bias", 0)
        return torch.log_softmax(logits.float(), dim=-1)[index, labels[position]]

    return objective


def _generation_objective(model, ids, positions, body):
    """Row r's value: log p(ids[p] | ids before p) at p = positions[r % len(positions)] of a GPT-2-class model;
    ``body(rows)`` is its body's pass from input embeddings, after the final norm (traced: ``core.tasks.traced``;
    None: the eager body)."""
    import torch

    def objective(rows):
        count = len(rows)
        eager = body is None or body.traced is None  # None: being built; .traced None: refused (its reason logged)
        hidden = model.transformer(inputs_embeds=rows).last_hidden_state if eager else body(rows)  # (rows, n, d)
        index = torch.arange(count, device=hidden.device)
        at = positions[index % len(positions)]
        logits = model.lm_head(hidden[index, at - 1])  # the prediction for position p is read at p − 1
        return torch.log_softmax(logits.float(), dim=-1)[index, ids[at]]

    return objective


def _integrals(objective, source, baseline, targets: int, dtype, guard):
    """Each target's value at the input and at the baseline, its integrated gradients (IG_STEPS midpoints of the
    path) and its gradient × input, reduced chunk by chunk so that no (points × targets × inputs × width) tensor
    is ever kept; ``guard()`` holds the model for one batch of rows (other requests get in between batches)."""
    import torch

    alphas = (torch.arange(IG_STEPS, dtype=source.dtype, device=source.device) + 0.5) / IG_STEPS
    points = torch.cat([baseline + alphas[:, None, None] * (source - baseline), source, baseline])  # (m + 2, S, d)
    difference = (source - baseline)[0]
    values, summed, times_input, offset = [], 0.0, None, 0
    for chunk in points.split(max(1, ROWS_PER_PASS // targets)):
        rows = chunk.repeat_interleave(targets, dim=0).to(dtype).requires_grad_(True)  # (c · T, S, d)
        with guard(), torch.enable_grad():
            value = objective(rows)
            (gradient,) = torch.autograd.grad(value.sum(), rows)
        values.append(value.detach().float().view(len(chunk), targets))
        gradient = gradient.float().view(len(chunk), targets, *source.shape[1:])
        index = torch.arange(offset, offset + len(chunk), device=source.device)
        summed = summed + (gradient[index < IG_STEPS].sum(0) * difference).sum(-1)  # (T, S)
        if bool((index == IG_STEPS).any()):
            times_input = (gradient[int(IG_STEPS - offset)] * source[0]).sum(-1)
        offset += len(chunk)
        del gradient, rows
    return torch.cat(values), summed / IG_STEPS, times_input  # (m + 2, T), (T, S), (T, S)


def _check_inputs(own, through_embeddings, dtype, name: str) -> None:
    """The path's end point must be the model's own answer: its input embeddings are fed the way it reads them."""
    tolerance = 1e-3 if dtype.itemsize >= 4 else 5e-2  # half precision rounds more
    if float((own - through_embeddings).abs().max()) > tolerance:
        raise CoreError(Message("{name} does not take its input embeddings the way LM Lab feeds them; its "
                                "attributions cannot be computed here.", name=name))  # fmt: skip


def _only_one(compute):
    """One attribution at a time in the whole process (they need memory in proportion to their batch: a class
    clicking at once must not add it up); identical requests share one result (``_MEMO``)."""
    with _RUNNING:
        return compute()


def _refuse_hub(spec) -> None:
    if spec.source == HUB:  # sizes beyond what a class server should spend on one click
        raise CoreError(Message("Attributions are computed for the models trained here, not for {name} from the Hub.",
                                name=spec.title))  # fmt: skip


def _attribute_translation(translator, text: str, output: Sequence[int] = ()) -> SourceAttribution:
    """Integrated gradients of a translation of ``text`` onto its source tokens: of ``output`` (the ids the page
    shows, the decoder's start token first), else of the greedy translation (``translator`` is a
    ``core.tasks.translate.Translator`` of a model trained here)."""
    import torch

    text = check_text(text)
    refuse_other_language(text, translator.spec.languages, translator.spec.title)
    model, tokenizer = translator.model, translator.tokenizer
    body = translator.traced_pass.get()  # traced once: the GIL taken once per pass, not once per operation (None: eager)
    with translator.exclusive():
        encoded = inputs_for(model, dict(tokenizer(text, truncation=True, max_length=translator.max_source,
                                                   return_tensors="pt", return_token_type_ids=False)))  # fmt: skip
        if len(output) < 2:
            with torch.no_grad():
                output = model.generate(**encoded, num_beams=1, do_sample=False, max_new_tokens=translator.max_new)[0]
        output = torch.as_tensor(list(output), device=encoded["input_ids"].device)
        cut = len(output) - 1 > MAX_TARGET
        decoder, labels = output[:-1][None, :MAX_TARGET], output[1:][:MAX_TARGET]
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        embed = model.get_encoder().embed_tokens
        special = torch.tensor([i in set(tokenizer.all_special_ids) for i in ids[0].tolist()], device=ids.device)
        with torch.no_grad():
            source = embed(ids).float()  # (1, S, d)
            baseline = embed(torch.where(special, ids[0], tokenizer.pad_token_id or 0)[None]).float()
            plain = model(**encoded, decoder_input_ids=decoder, output_attentions=True)
    objective = _translation_objective(model, mask, decoder, labels, body)
    values, integrated, times_input = _integrals(objective, source, baseline, len(labels), embed.weight.dtype,
                                                 translator.exclusive)  # fmt: skip
    own = torch.log_softmax(plain.logits[0].float(), dim=-1)[torch.arange(len(labels)), labels]
    _check_inputs(own, values[IG_STEPS], embed.weight.dtype, translator.spec.title)
    change = values[IG_STEPS] - values[IG_STEPS + 1]
    attention = None
    if plain.cross_attentions:
        attention = to_cpu(plain.cross_attentions[-1][0].mean(0)).numpy()
    return SourceAttribution(
        source_tokens=tokenizer.convert_ids_to_tokens(ids[0].tolist()),
        target_tokens=tokenizer.convert_ids_to_tokens(labels.tolist()),
        integrated=to_cpu(integrated).numpy(), gradient_x_input=to_cpu(times_input).numpy(), attention=attention,
        output_change=to_cpu(change).numpy(), cut=cut, kept=to_cpu(special).numpy().astype(bool),
        reach=np.full(len(labels), ids.shape[1]), completeness_error=float((integrated.sum(-1) - change).abs().max()),
    )  # fmt: skip


def _attribute_generation(lm, ids, start: int) -> SourceAttribution:
    """Integrated gradients of each generated token of ``ids`` (from ``start`` on) onto every token before it, for a
    ``core.tasks.generate.LanguageModel``: the baseline sets every token's embedding to zero but the first (the
    boundary token), positions kept. Only generated tokens whose whole prefix fits the model's window are rows."""
    import torch

    ids = [int(i) for i in ids]
    rows = min(MAX_TARGET, len(ids) - start, lm.context - start)
    if start < 1 or rows < 1:
        raise InputError(Message("Nothing to attribute: generate at least one token after a prompt of at most "
                                 "{most} tokens (the model's window).", most=lm.context - 1))  # fmt: skip
    model = lm.model
    sequence = torch.tensor(ids[: start + rows], device=next(model.parameters()).device)
    positions = torch.arange(start, start + rows, device=sequence.device)
    embed = model.get_input_embeddings()
    with torch.no_grad():
        source = embed(sequence)[None].float()  # (1, n, d)
        baseline = torch.zeros_like(source)
        baseline[0, 0] = source[0, 0]  # the boundary token stays
    body = lm.traced_pass.get()  # traced once: the GIL taken once per pass, not once per operation (None: eager)
    with lm.exclusive(), torch.no_grad(), eager_attention(model):
        plain = model(input_ids=sequence[None], output_attentions=True)
    objective = _generation_objective(model, sequence, positions, body)
    values, integrated, times_input = _integrals(objective, source, baseline, rows, embed.weight.dtype, lm.exclusive)
    own = torch.log_softmax(plain.logits[0].float(), dim=-1)[positions - 1, sequence[positions]]
    _check_inputs(own, values[IG_STEPS], embed.weight.dtype, lm.spec.title)
    change = values[IG_STEPS] - values[IG_STEPS + 1]
    attention = None
    if plain.attentions and plain.attentions[-1] is not None:
        attention = to_cpu(plain.attentions[-1][0].mean(0)[positions - 1]).numpy()  # read where each is predicted

    def shown(token_id: int) -> str:
        return lm.tokenizer.decode([token_id]).replace(" ", "␣") or "∅"

    return SourceAttribution(
        source_tokens=[shown(i) for i in ids[: start + rows]], target_tokens=[shown(i) for i in ids[start : start + rows]],
        integrated=to_cpu(integrated).numpy(), gradient_x_input=to_cpu(times_input).numpy(),
        attention=attention, output_change=to_cpu(change).numpy(), cut=len(ids) - start > rows,
        completeness_error=float((integrated.sum(-1) - change).abs().max()),
        kept=np.arange(start + rows) == 0, reach=np.arange(start, start + rows),
    )  # fmt: skip


def attribute_translation(translator, text: str, output: Sequence[int] = ()) -> SourceAttribution:
    """Integrated gradients of a translation of ``text`` onto its source tokens: of ``output`` (the ids the page
    shows, the decoder's start token first), else of the greedy translation; one at a time in the process, and a
    request another session already made is answered from its result."""
    _refuse_hub(translator.spec)
    text = check_text(text)
    translator.traced_pass.get()  # built (or being built by another request) before the one-at-a-time turn
    key = ("translation", translator.spec.key, weights_sha256(translator.spec), id(translator.model), text,
           tuple(int(i) for i in output))  # fmt: skip
    return _MEMO.get(key, lambda: _only_one(lambda: _attribute_translation(translator, text, output)))


def attribute_generation(lm, ids, start: int) -> SourceAttribution:
    """Integrated gradients of each generated token of ``ids`` (from ``start`` on) onto every token before it; one
    at a time in the process, shared with a session that asked the same."""
    _refuse_hub(lm.spec)
    lm.traced_pass.get()  # built (or being built by another request) before the one-at-a-time turn: none waits for it
    key = ("generation", lm.spec.key, weights_sha256(lm.spec), id(lm.model), tuple(int(i) for i in ids), int(start))
    return _MEMO.get(key, lambda: _only_one(lambda: _attribute_generation(lm, ids, start)))

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

from dataclasses import dataclass

import numpy as np

from core.errors import CoreError
from core.messages import Message
from core.tasks.inputs import check_text, inputs_for, refuse_other_language, to_cpu

IG_STEPS = 64  # midpoints of the path: enough for completeness within 1 % on the models trained here
MAX_TARGET = 32  # target tokens attributed (rows); a longer output is cut there, and the page says so
ROWS_PER_PASS = 256  # (path point × target token) rows per forward and backward pass: bounds memory


@dataclass(frozen=True)
class SourceAttribution:
    source_tokens: list[str]
    target_tokens: list[str]  # the output's tokens, the end token included, at most MAX_TARGET
    integrated: np.ndarray  # (target, source): integrated gradients of log p(y_t | x, y_<t), nats
    gradient_x_input: np.ndarray  # (target, source)
    attention: np.ndarray | None  # (target, source): last decoder layer's cross-attention, mean over heads
    output_change: np.ndarray  # (target,): log p(y_t | x) − log p(y_t | baseline), what each row should sum to
    completeness_error: float  # max over rows of |row sum − output_change|, nats
    cut: bool  # the output had more than MAX_TARGET tokens

    @property
    def relative_completeness_error(self) -> float:
        """The largest row error over the largest change: the share of the output the sum misses at worst."""
        return self.completeness_error / max(float(np.abs(self.output_change).max()), 1e-9)

    def top_agreement(self) -> float | None:
        """The share of target tokens whose most-attributed source token (by |IG|) is the most-attended one."""
        if self.attention is None:
            return None
        return float(np.mean(np.abs(self.integrated).argmax(axis=1) == self.attention.argmax(axis=1)))


def _rows(model, embeddings, mask, decoder, labels):
    """log p(label_t | …) for each row: embeddings (rows, S, d), the row's target position = row % T."""
    import torch

    logits = model(inputs_embeds=embeddings, attention_mask=mask.expand(len(embeddings), -1),
                   decoder_input_ids=decoder.expand(len(embeddings), -1)).logits.float()  # fmt: skip
    logprobs = torch.log_softmax(logits, dim=-1)  # (rows, T, V)
    index = torch.arange(len(embeddings), device=logits.device)
    position = index % labels.shape[0]
    return logprobs[index, position, labels[position]]


def _path_gradients(model, source, baseline, mask, decoder, labels):
    """Each target token's log-probability and its gradient at IG_STEPS path points, the source and the baseline."""
    import torch

    targets = labels.shape[0]
    alphas = (torch.arange(IG_STEPS, dtype=source.dtype, device=source.device) + 0.5) / IG_STEPS
    points = torch.cat([baseline + alphas[:, None, None] * (source - baseline), source, baseline])  # (m + 2, S, d)
    values, gradients = [], []
    per_pass = max(1, ROWS_PER_PASS // targets)
    dtype = model.get_input_embeddings().weight.dtype
    for chunk in points.split(per_pass):
        rows = chunk.repeat_interleave(targets, dim=0).to(dtype).requires_grad_(True)  # (c · T, S, d)
        with torch.enable_grad():
            value = _rows(model, rows, mask, decoder, labels)
            (gradient,) = torch.autograd.grad(value.sum(), rows)
        values.append(value.detach().float().view(len(chunk), targets))
        gradients.append(gradient.float().view(len(chunk), targets, *source.shape[1:]))
    return torch.cat(values), torch.cat(gradients)  # (m + 2, T), (m + 2, T, S, d)


def attribute_translation(translator, text: str) -> SourceAttribution:
    """Integrated gradients of the greedy translation of ``text`` onto its source tokens (``translator`` is a
    ``core.tasks.translate.Translator`` of a model trained here)."""
    import torch

    text = check_text(text)
    refuse_other_language(text, translator.spec.languages, translator.spec.title)
    model, tokenizer = translator.model, translator.tokenizer
    with translator.exclusive():
        encoded = inputs_for(model, dict(tokenizer(text, truncation=True, max_length=translator.max_source,
                                                   return_tensors="pt", return_token_type_ids=False)))  # fmt: skip
        with torch.no_grad():
            output = model.generate(**encoded, num_beams=1, do_sample=False, max_new_tokens=translator.max_new)[0]
        cut = len(output) - 1 > MAX_TARGET
        decoder, labels = output[:-1][None, :MAX_TARGET], output[1:][:MAX_TARGET]
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        embed = model.get_encoder().embed_tokens
        special = torch.tensor([i in set(tokenizer.all_special_ids) for i in ids[0].tolist()], device=ids.device)
        with torch.no_grad():
            source = embed(ids).float()  # (1, S, d)
            baseline = embed(torch.where(special, ids[0], tokenizer.pad_token_id or 0)[None]).float()
            plain = model(**encoded, decoder_input_ids=decoder, output_attentions=True)
        values, gradients = _path_gradients(model, source, baseline, mask, decoder, labels)
    own = torch.log_softmax(plain.logits[0].float(), dim=-1)[torch.arange(len(labels)), labels]
    if float((own - values[IG_STEPS]).abs().max()) > 1e-3:  # the embeddings path must be the model's own input
        raise CoreError(Message("{name} does not take its input embeddings the way LM Lab feeds them; its "
                                "attributions cannot be computed here.", name=translator.spec.title))  # fmt: skip
    difference = (source - baseline)[0]  # (S, d)
    integrated = (gradients[:IG_STEPS].mean(0) * difference).sum(-1)  # (T, S)
    times_input = (gradients[IG_STEPS] * source[0]).sum(-1)
    change = values[IG_STEPS] - values[IG_STEPS + 1]
    attention = None
    if plain.cross_attentions:
        attention = to_cpu(plain.cross_attentions[-1][0].mean(0)).numpy()
    return SourceAttribution(
        source_tokens=tokenizer.convert_ids_to_tokens(ids[0].tolist()),
        target_tokens=tokenizer.convert_ids_to_tokens(labels.tolist()),
        integrated=to_cpu(integrated).numpy(), gradient_x_input=to_cpu(times_input).numpy(), attention=attention,
        output_change=to_cpu(change).numpy(), cut=cut,
        completeness_error=float((integrated.sum(-1) - change).abs().max()),
    )  # fmt: skip

"""Machine translation with an encoder-decoder: greedy or beam search, scores, and cross-attention alignment."""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass

import numpy as np

from core.catalog import HUB, ModelSpec
from core.data.text import join_cjk
from core.messages import Message
from core.stats import Estimate
from core.tasks import lm_onnx, seq2seq_onnx, traced
from core.tasks.batching import Coalescer
from core.tasks.inputs import (
    FairLock,
    check_text,
    follows_inputs,
    inference_gate,
    inputs_for,
    refuse_other_language,
    to_cpu,
)

# Generated sentences are at most ~15 English words; 64 tokens keep any sentence of the grammar whole.
MAX_SOURCE_TOKENS = 64
MAX_NEW_TOKENS = 64


@dataclass(frozen=True)
class Translation:
    source: str
    text: str
    source_tokens: list[str]
    target_tokens: list[str]
    decoding: str  # "greedy", or the Message "beam search ({beams} beams)"
    latency_ms: float
    truncated: bool
    # cross-attention (target × source), averaged over the heads of the last decoder layer; None for Hub models
    alignment: np.ndarray | None = None
    # every layer: (layers, heads, target, source); encoder (layers, heads, source, source); decoder
    # (layers, heads, target, target) — what the bertviz encoder-decoder view draws
    cross_attentions: np.ndarray | None = None
    encoder_attentions: np.ndarray | None = None
    decoder_attentions: np.ndarray | None = None
    output_ids: tuple[int, ...] = ()  # the decoder's start token, then the output's tokens (what attributions read)
    runtime: str = ""  # what decoded: "ONNX Runtime fp32" or "PyTorch <precision>"
    runtime_note: str = ""  # why PyTorch did, where it did (core.tasks.seq2seq_onnx's notes)
    device: str = "cpu"


def corpus_scores(hypotheses: list[str], references: list[str], *, n_bootstrap: int = 1000) -> dict:
    """chrF and BLEU (sacrebleu; Chinese tokenised by character for BLEU) with 95 % bootstrap intervals."""
    from sacrebleu.metrics import BLEU, CHRF

    if not hypotheses or len(hypotheses) != len(references):
        raise ValueError("corpus_scores needs as many hypotheses as references, at least one.")
    found = {}
    for name, metric in (("chrf", CHRF()), ("bleu", BLEU(tokenize="zh"))):
        score = metric.corpus_score(hypotheses, [references], n_bootstrap=n_bootstrap)
        half = float(getattr(score, "_ci", 0.0) or 0.0)
        value = float(score.score)
        found[name] = Estimate(
            value, max(0.0, value - half), min(100.0, value + half), len(hypotheses)
        ).as_dict()
    return found


ZH_EN = "translation-zh-en"  # the task that reads the Chinese side and writes the English one


def direction(task: str):
    """(source, target) of a pair for a translation task: English → Chinese, or Chinese → English for ``ZH_EN``."""
    if task == ZH_EN:
        return (lambda pair: pair.chinese), (lambda pair: pair.english)
    return (lambda pair: pair.english), (lambda pair: pair.chinese)


class Translator:
    """A seq2seq model (trained here, or a Hub Marian model) behind one lock, like every shared predictor."""

    def __init__(self, spec: ModelSpec, tokenizer=None, model=None, *, onnx: bool = True):
        from core.catalog import weights_sha256

        self.spec = spec
        # before loading: a retrain while this loads must not be exported as it (a model handed over has no version)
        self._fingerprint = weights_sha256(spec) if model is None and spec.trained_here else ""
        if model is None:
            from core.loading import load_seq2seq

            tokenizer, model = load_seq2seq(spec, eager_attention=spec.source != HUB)
        self.tokenizer, self.model = tokenizer, follows_inputs(model)
        # never ask for positions the model has no embedding for
        positions = int(getattr(model.config, "max_position_embeddings", 1024) or 1024)
        self.max_source = min(MAX_SOURCE_TOKENS, positions)
        self.max_new = min(MAX_NEW_TOKENS, positions - 1)
        self._lock = FairLock()  # first come, first served: an attribution's passes alternate with translations
        # the pass attributions run, from the source's embeddings to the decoder's output (core.tasks.traced), built
        # by the first one; no reference back
        self.traced_pass = traced.OnePass.of(spec, self._lock, traced.seq2seq_hidden_from_embeddings, self.model)
        # ONNX Runtime's greedy decoding, opened (exported once per version) before any page has the model, with a
        # tokenizer of its own (batches pad it; pages read the other); or None and why PyTorch decodes
        self._greedy: seq2seq_onnx.GreedyDecoder | None = None
        self._greedy_tokenizer, self.runtime_note = None, seq2seq_onnx.NOT_ASKED
        if onnx:
            self._greedy, self.runtime_note = seq2seq_onnx.for_model(spec, self.model, self._fingerprint,
                                                                     max_new=self.max_new)  # fmt: skip
            if self._greedy is not None:
                try:
                    self._greedy_tokenizer = copy.deepcopy(tokenizer)
                except Exception:  # noqa: BLE001 - a tokenizer that cannot be copied: PyTorch decodes, said so
                    self._greedy, self.runtime_note = None, seq2seq_onnx.NO_COPY
        # greedy requests from every session, decoded together by whoever takes the next turn: on PyTorch that turn
        # is the model's lock; on ONNX Runtime a lock of its own, so inspections of the model never hold it up
        self.coalescer = Coalescer(self._lock if self._greedy is None else FairLock(), self._greedy_group, max_batch=32)

    def _greedy_group(self, items: list[tuple[str, bool]]) -> list[dict]:
        """Greedy decoding of the texts in one padded batch, then, for those that asked, their attention maps from a
        pass over the chosen outputs (PyTorch: one teacher-forced pass; ONNX Runtime: the decoder's last pass).
        Per text: its source ids, its output ids cut after the end token, the milliseconds of the passes, its
        attention maps cut to its own lengths (padding is masked, so they are those of a pass alone) and the runtime."""
        texts, wanted = [text for text, _ in items], any(asked for _, asked in items)
        decoder, note = self._greedy, ""
        if decoder is not None:
            with inference_gate():
                started = time.perf_counter()
                encoded = self._greedy_tokenizer(texts, truncation=True, max_length=self.max_source, padding=True,
                                                 return_tensors="np", return_token_type_ids=False)  # fmt: skip
                ids, mask = encoded["input_ids"].astype(np.int64), encoded["attention_mask"].astype(np.int64)
                try:
                    rows, attentions = decoder(ids, mask, max_new=self.max_new,
                                               maps=wanted and self._greedy_tokenizer.padding_side == "right")  # fmt: skip
                except Exception as error:  # noqa: BLE001 - ONNX Runtime failed on this batch: PyTorch answers it
                    rows, note = None, seq2seq_onnx.SHORT if lm_onnx.passing(error) else lm_onnx.NOT_FAITHFUL
                    if note == lm_onnx.NOT_FAITHFUL:  # not a failure of the moment: PyTorch from now on, said so
                        self._greedy, self.runtime_note = None, note
                milliseconds = 1000 * (time.perf_counter() - started)
            if rows is not None:
                return self._answers(items, rows, attentions, ids.tolist(), mask, milliseconds, "ONNX Runtime fp32",
                                     self._greedy_tokenizer.padding_side)  # fmt: skip
        with contextlib.nullcontext() if self.coalescer.lock is self._lock else self._lock:
            return [answer | {"note": note} for answer in self._torch_group(items, texts, wanted)]

    def _torch_group(self, items, texts: list[str], wanted: bool) -> list[dict]:
        import torch

        with inference_gate():
            started = time.perf_counter()
            encoded = self.tokenizer(texts, truncation=True, max_length=self.max_source, padding=True,
                                     return_tensors="pt", return_token_type_ids=False)  # fmt: skip
            with torch.no_grad():
                output = self.model.generate(**inputs_for(self.model, encoded), num_beams=1, do_sample=False,
                                             max_new_tokens=self.max_new)  # fmt: skip
            ends = seq2seq_onnx.end_tokens(self.model)
            rows = [seq2seq_onnx.cut_after_end(row, ends) for row in output.tolist()]
            attentions = None
            if wanted and self.spec.source != HUB:
                attentions = self._attention_pass(encoded, rows)
            milliseconds = 1000 * (time.perf_counter() - started)
        return self._answers(items, rows, attentions, encoded["input_ids"].tolist(), encoded["attention_mask"].numpy(),
                             milliseconds, lm_onnx.title(self.model, None), self.tokenizer.padding_side)  # fmt: skip

    @staticmethod
    def _answers(items, rows, attentions, ids, mask, milliseconds: float, runtime: str, side: str) -> list[dict]:
        found = []
        for i, ((_, wanted), row) in enumerate(zip(items, rows, strict=True)):
            source = int(mask[i].sum())
            source_ids = ids[i][:source] if side == "right" else ids[i][len(ids[i]) - source :]
            maps = None
            if wanted and attentions is not None:
                target = len(row) - 1
                maps = tuple(np.stack([layer[i, :, :size_q, :size_k] for layer in group]) for group, size_q, size_k
                             in ((attentions[0], target, source), (attentions[1], source, source), (attentions[2], target, target)))  # fmt: skip
            found.append({"source_ids": source_ids, "ids": row, "ms": milliseconds, "attentions": maps,
                          "runtime": runtime})  # fmt: skip
        return found

    def _attention_pass(self, encoded, rows: list[list[int]]):
        """Cross, encoder and decoder attention of every layer for the padded batch (numpy, batch first)."""
        import torch

        if self.tokenizer.padding_side != "right":  # the cuts below assume real tokens first
            return None
        longest = max(len(row) - 1 for row in rows)
        pad = self.model.config.pad_token_id or 0
        decoder = torch.tensor([row[:-1] + [pad] * (longest - len(row) + 1) for row in rows])
        mask = torch.tensor([[1] * (len(row) - 1) + [0] * (longest - len(row) + 1) for row in rows])
        with torch.no_grad():
            forward = self.model(**encoded, decoder_input_ids=decoder, decoder_attention_mask=mask, output_attentions=True)
        if not forward.cross_attentions:
            return None
        return tuple([to_cpu(layer).numpy() for layer in group]
                     for group in (forward.cross_attentions, forward.encoder_attentions, forward.decoder_attentions))  # fmt: skip

    @contextlib.contextmanager
    def exclusive(self):
        """The model to oneself for a moment (an inspection's hooks or gradients): its lock and one inference slot."""
        with self._lock, inference_gate():
            yield self.model

    def decode(self, ids) -> str:
        """Output ids as text (special tokens dropped, no spaces between Chinese characters)."""
        return join_cjk(self.tokenizer.decode(ids, skip_special_tokens=True))

    def translate(self, text: str, *, beams: int = 1, with_attention: bool = True) -> Translation:
        import torch

        text = check_text(text)
        refuse_other_language(text, self.spec.languages, self.spec.title)  # it translates from English only
        if not 1 <= beams <= 8:
            raise ValueError("beams must be 1–8")
        attentions = encoder_attentions = decoder_attentions = None
        if beams == 1:  # shared with the other sessions' greedy requests of the moment: one generate for all
            answer = self.coalescer.submit((text, with_attention))
            generated, latency, source_ids = torch.tensor(answer["ids"]), answer["ms"], answer["source_ids"]
            runtime = answer["runtime"]
            note = (answer.get("note") or self.runtime_note) if runtime.startswith("PyTorch") else ""
            if answer["attentions"] is not None:
                attentions, encoder_attentions, decoder_attentions = answer["attentions"]
        else:
            with self._lock, inference_gate():
                encoded = self.tokenizer(
                    text, truncation=True, max_length=self.max_source, return_tensors="pt",
                    return_token_type_ids=False,
                )  # fmt: skip
                started = time.perf_counter()
                with torch.no_grad():
                    output = self.model.generate(
                        **inputs_for(self.model, encoded), num_beams=beams, do_sample=False,
                        max_new_tokens=self.max_new, early_stopping=True,
                    )  # fmt: skip
                generated = output[0].cpu()
                if with_attention and self.spec.source != HUB:
                    # one teacher-forced pass over the chosen output gives its cross-attention exactly
                    found = self._attention_pass(encoded, [generated.tolist()])
                    if found is not None:
                        attentions, encoder_attentions, decoder_attentions = (
                            np.stack([layer[0] for layer in group]) for group in found)  # fmt: skip
                latency = 1000 * (time.perf_counter() - started)
            source_ids = encoded["input_ids"][0].tolist()
            runtime, note = lm_onnx.title(self.model, None), seq2seq_onnx.BEAMS
        source_tokens = self.tokenizer.convert_ids_to_tokens(source_ids)
        target_tokens = self.tokenizer.convert_ids_to_tokens(generated[1:].tolist())
        return Translation(
            source=text,
            text=self.decode(generated),
            source_tokens=source_tokens,
            target_tokens=target_tokens,
            decoding="greedy" if beams == 1 else Message("beam search ({beams} beams)", beams=beams),
            latency_ms=latency,
            # the shared tokenizer is used only under the model's lock (the batch changes its settings): a source
            # that fills the whole window is taken as cut
            truncated=len(source_ids) >= self.max_source,
            alignment=None if attentions is None else attentions[-1].mean(axis=0),
            cross_attentions=attentions,
            encoder_attentions=encoder_attentions,
            decoder_attentions=decoder_attentions,
            output_ids=tuple(int(i) for i in generated.tolist()),
            runtime=runtime,
            runtime_note=note,
            device="cpu" if runtime.startswith("ONNX") else next(self.model.parameters()).device.type,
        )

    def unseen_words(self, text: str) -> list[str]:
        """Words of ``text`` that are not whole entries of the vocabulary (for a model trained here: never seen);
        for a model that reads Chinese, its characters."""
        import re

        with self._lock:
            vocabulary = self.tokenizer.get_vocab()
        if "zh" in self.spec.languages:  # every character of the text the vocabulary lacks (Chinese, "…", emoji)
            return sorted({char for char in text if not char.isspace() and char not in vocabulary
                           and char.lower() not in vocabulary})  # fmt: skip
        words = re.findall(r"[A-Za-z]+", text)
        return sorted({w for w in words if w.lower() not in vocabulary})

    def translate_batch(self, texts: list[str], *, beams: int = 1, batch_size: int = 64) -> list[str]:
        """The texts translated in padded batches: greedy on ONNX Runtime where this translator decodes there (one
        batch at a time with the class's requests), else (and for beam search) PyTorch's ``generate``."""
        import torch

        found: list[str] = []
        if beams == 1 and self._greedy is not None:
            for start in range(0, len(texts), batch_size):
                with self.coalescer.lock:
                    answers = self._greedy_group([(text, False) for text in texts[start : start + batch_size]])
                found += [self.decode(answer["ids"]) for answer in answers]
            return found
        with self._lock, inference_gate():
            for start in range(0, len(texts), batch_size):
                encoded = self.tokenizer(
                    texts[start : start + batch_size], truncation=True, max_length=self.max_source,
                    padding=True, return_tensors="pt", return_token_type_ids=False,
                )  # fmt: skip
                with torch.no_grad():
                    output = self.model.generate(
                        **inputs_for(self.model, encoded), num_beams=beams, do_sample=False,
                        max_new_tokens=self.max_new,
                    )  # fmt: skip
                found += [self.decode(ids) for ids in output.cpu()]
        return found

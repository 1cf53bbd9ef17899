"""A translation model's greedy decoding on ONNX Runtime: what the Translate page decodes with on the CPU.

Greedy decoding is a pass of the decoder per output token, and PyTorch hands Python's GIL back at every operation of
a pass (``core.tasks.lm_onnx`` says why that hurts a busy server). Measured on 2 cores, one Chinese → English
sentence of 10 tokens with its attention maps (``benchmarks/generation_busy.py --translation``): 0.03 s alone and
17.5 s beside two threads running plain Python in PyTorch, 0.01 s and 0.12 s in ONNX Runtime.

A model trained here (BART's family) is exported once per version of its weights into ``<cache>/onnx/<key>/``: its
encoder (ids and mask in; the states and each layer's self-attention out) and its decoder (the output so far, the
encoder's states and the source mask in; the next token's logits and each layer's cross- and self-attention out). It
is checked against PyTorch on a padded batch of two sources and on one source alone, at three output lengths up to the
longest a translation may be, before it is kept. The decoding is Hugging Face's greedy ``generate``: the most likely
token each step (the first of equals), padding after a row's end token, until every row has ended or the limit. The
attention maps are those of a last decoder pass over the chosen output, as PyTorch's teacher-forced pass gives them
(the decoder is causal, so a row's padding changes nothing before it). Beam search, models from the Hub, generation settings beyond plain greedy decoding
and the reasons of ``lm_onnx.for_model`` keep PyTorch. No cache of keys and values: each step runs the decoder over
the whole output so far, which costs more than PyTorch's cached decoding where outputs run long (the README measures
it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import CoreError
from core.messages import N_
from core.tasks import lm_onnx
from core.tasks.traced import TRACING  # the exporter's tracer and torch.jit.trace share state

NOT_BART = N_("only BART's family is exported")
BEAMS = N_("beam search decodes on PyTorch")
NOT_ASKED = N_("the caller asked for PyTorch")
NO_COPY = N_("its tokenizer could not be copied for ONNX Runtime")
SHORT = N_("ONNX Runtime ran short of memory for this batch")
SETTINGS = N_("its generation settings do more than greedy decoding")
NOTES = (*lm_onnx.NOTES, NOT_BART, SETTINGS)
# generate's settings that change what greedy decoding writes, each with the values that leave it plain
_PLAIN = {"forced_bos_token_id": (None,), "forced_eos_token_id": (None,), "min_length": (None, 0),
          "min_new_tokens": (None, 0), "no_repeat_ngram_size": (None, 0), "encoder_no_repeat_ngram_size": (None, 0),
          "repetition_penalty": (None, 1.0), "encoder_repetition_penalty": (None, 1.0), "bad_words_ids": (None,),
          "suppress_tokens": (None,), "begin_suppress_tokens": (None,), "sequence_bias": (None,),
          "exponential_decay_length_penalty": (None,), "forced_decoder_ids": (None,),
          "stop_strings": (None,), "max_time": (None,), "guidance_scale": (None, 1.0),
          "watermarking_config": (None,)}
_SOURCE_LENGTHS = (5, 9)  # the check batch: two sources, the shorter padded


@dataclass
class GreedyDecoder:
    """The exported encoder and decoder of one model. Thread-safe."""

    encoder: object
    decoder: object
    start: int  # the decoder's first input
    ends: frozenset[int]
    pad: int

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        found = self.encoder.run(None, {"input_ids": ids, "attention_mask": mask})
        return found[0], found[1:]

    def step(self, output: np.ndarray, states: np.ndarray, mask: np.ndarray, *, maps: bool = False) -> list[np.ndarray]:
        """The next token's logits (batch × vocabulary), then, with ``maps``, the decoder layers' cross-attention and
        self-attention (each batch × heads × output × …)."""
        feeds = {"decoder_input_ids": output, "encoder_hidden_states": states, "attention_mask": mask}
        return self.decoder.run(None if maps else ["logits"], feeds)

    def __call__(self, ids: np.ndarray, mask: np.ndarray, *, max_new: int, maps: bool):
        """Greedy outputs of a right-padded batch (each row from the start token, cut after its end token), and, with
        ``maps``, (cross, encoder, decoder) attention as lists over layers of batch-first arrays, else None."""
        states, encoder_maps = self.encode(ids, mask)
        output = np.full((len(ids), 1), self.start, dtype=np.int64)
        going = np.ones(len(ids), dtype=bool)
        ends = np.asarray(sorted(self.ends), dtype=np.int64)
        for _ in range(max_new):
            chosen = self.step(output, states, mask)[0].argmax(axis=-1)
            chosen = np.where(going, chosen, self.pad)
            output = np.concatenate([output, chosen[:, None]], axis=1)
            going &= ~np.isin(chosen, ends)
            if not going.any():
                break
        rows = [cut_after_end(row, self.ends) for row in output.tolist()]
        if not maps:
            return rows, None
        layers = (len(self.decoder.get_outputs()) - 1) // 2
        found = self.step(output[:, :-1], states, mask, maps=True)
        return rows, (found[1 : 1 + layers], encoder_maps, found[1 + layers :])


def for_model(spec, model, fingerprint: str, *, max_new: int) -> tuple[GreedyDecoder | None, str]:
    """The greedy decoder a translation of ``model`` (at most ``max_new`` tokens) uses, or None and why PyTorch
    decodes instead (one of the notes above). No other page may have the model (its hooks would be traced): the
    Translator opens it as the model loads."""

    def open_it() -> GreedyDecoder:
        lm_onnx.refuse_unless_exportable(model, fingerprint, family="bart", other_family=NOT_BART)
        for config in (model.generation_config, model.config):
            if any(getattr(config, name, None) not in plain for name, plain in _PLAIN.items()):
                raise CoreError(SETTINGS)
        start, pad = model.generation_config.decoder_start_token_id, model.config.pad_token_id or 0

        def opened(paths: list[Path]) -> GreedyDecoder:
            found = GreedyDecoder(lm_onnx.open_session(paths[0]), lm_onnx.open_session(paths[1]), start,
                                  end_tokens(model), pad)  # fmt: skip
            _check(found, model, max_new)
            return found

        return lm_onnx.exported(spec.key, fingerprint, ["encoder", "decoder"], lambda paths: _export(model, paths),
                                opened)  # fmt: skip

    return lm_onnx.opened_or_why(spec, fingerprint, NOTES, open_it)


def end_tokens(model) -> frozenset[int]:
    """The ids that end a generated output (``generate``'s end token, one or several)."""
    end = model.generation_config.eos_token_id
    return frozenset(end if isinstance(end, list) else [end] if end is not None else [])


def cut_after_end(row: list[int], ends: frozenset[int]) -> list[int]:
    """An output from its start token up to and with its first end token (what follows is padding)."""
    return row[: next((i + 1 for i, token in enumerate(row[1:], 1) if token in ends), len(row))]


def _modules(model):
    """(encoder, decoder) modules with the exported inputs and outputs (attention as plain operations)."""
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            found = self.model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True)
            return (found.last_hidden_state, *found.attentions)

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, decoder_input_ids, encoder_hidden_states, attention_mask):
            found = self.model.model(attention_mask=attention_mask, encoder_outputs=(encoder_hidden_states,),
                                     decoder_input_ids=decoder_input_ids, output_attentions=True, use_cache=False)  # fmt: skip
            # the output layer on the last position alone (as BartForConditionalGeneration computes it for all)
            logits = self.model.lm_head(found.last_hidden_state[:, -1, :]) + self.model.final_logits_bias
            return (logits, *found.cross_attentions, *found.decoder_attentions)

    return Encoder().eval(), Decoder().eval()


def _sample(model, lengths: tuple[int, ...]):
    """A right-padded batch of source ids (inside the vocabulary, past the special tokens) and its mask."""
    import torch

    vocabulary, longest = model.config.vocab_size, max(lengths)
    ids = torch.tensor([[4 + (7 * i + 3 * row) % (vocabulary - 4) if i < size else model.config.pad_token_id or 0
                         for i in range(longest)] for row, size in enumerate(lengths)])  # fmt: skip
    mask = torch.tensor([[1] * size + [0] * (longest - size) for size in lengths])
    return ids, mask


def _export(model, paths: list[Path]) -> None:
    import os
    import warnings

    import torch

    from core.io import temporary_name
    from core.loading import eager_attention

    encoder, decoder = _modules(model.eval())
    ids, mask = _sample(model, _SOURCE_LENGTHS)
    layers = model.config.decoder_layers
    temporaries = [temporary_name(path) for path in paths]
    try:
        with TRACING, warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), eager_attention(model):
            warnings.simplefilter("ignore")  # the exporter's tracer warnings say nothing a user can act on
            states = encoder(ids, mask)[0]
            maps = [f"encoder_{i}" for i in range(model.config.encoder_layers)]
            torch.onnx.export(encoder, (ids, mask), str(temporaries[0]), input_names=["input_ids", "attention_mask"],
                              output_names=["states", *maps], opset_version=17, dynamo=False,
                              dynamic_axes={"input_ids": {0: "batch", 1: "source"}, "attention_mask": {0: "batch", 1: "source"},
                                            "states": {0: "batch", 1: "source"},
                                            **{name: {0: "batch", 2: "source", 3: "source"} for name in maps}})  # fmt: skip
            output = torch.full((len(ids), 3), model.generation_config.decoder_start_token_id)
            cross, own = [f"cross_{i}" for i in range(layers)], [f"decoder_{i}" for i in range(layers)]
            torch.onnx.export(decoder, (output, states, mask), str(temporaries[1]),
                              input_names=["decoder_input_ids", "encoder_hidden_states", "attention_mask"],
                              output_names=["logits", *cross, *own], opset_version=17, dynamo=False,
                              dynamic_axes={"decoder_input_ids": {0: "batch", 1: "output"},
                                            "encoder_hidden_states": {0: "batch", 1: "source"},
                                            "attention_mask": {0: "batch", 1: "source"}, "logits": {0: "batch"},
                                            **{name: {0: "batch", 2: "output", 3: "source"} for name in cross},
                                            **{name: {0: "batch", 2: "output", 3: "output"} for name in own}})  # fmt: skip
        for temporary, path in zip(temporaries, paths, strict=True):
            os.replace(temporary, path)
    finally:
        model.eval()  # served in evaluation mode whatever the exporter did
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


def _check(found: GreedyDecoder, model, max_new: int) -> None:
    """CoreError unless the export gives PyTorch's next-token probabilities and attention maps on a padded batch of
    two sources and on one source alone, at output lengths of 1, 3 and the longest a translation may be."""
    for lengths in (_SOURCE_LENGTHS, (3,)):  # the traced batch, and one source of another length alone
        _check_batch(found, model, max_new, lengths)


def _check_batch(found: GreedyDecoder, model, max_new: int, lengths: tuple[int, ...]) -> None:
    import torch

    ids, mask = _sample(model, lengths)
    states, encoder_maps = found.encode(ids.numpy(), mask.numpy())
    start, vocabulary = model.generation_config.decoder_start_token_id, model.config.vocab_size
    for length in (1, 3, max_new):
        output = torch.tensor([[start] + [4 + i % (vocabulary - 4) for i in range(length - 1)]] * len(ids))
        with torch.no_grad():
            expected = model(input_ids=ids, attention_mask=mask, decoder_input_ids=output, output_attentions=True,
                             use_cache=False)  # fmt: skip
        got = found.step(output.numpy(), states, mask.numpy(), maps=True)
        moved = float(np.abs(lm_onnx.softmax(got[0]) - torch.softmax(expected.logits[:, -1].float(), -1).numpy()).max())
        theirs = (*expected.cross_attentions, *expected.decoder_attentions, *expected.encoder_attentions)
        for mine, reference in zip([*got[1:], *encoder_maps], theirs, strict=True):
            moved = max(moved, float(np.abs(mine - reference.numpy()).max()))
        if not moved <= lm_onnx.TOLERANCE:  # nan fails too
            raise CoreError(f"the export's probabilities differ from PyTorch's by {moved:.1e}")

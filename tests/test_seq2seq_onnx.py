"""Greedy translation on ONNX Runtime (core.tasks.seq2seq_onnx): PyTorch's outputs and attention maps, exported once
per version, PyTorch where it cannot be used, and a translation that stays fast while other threads keep Python
busy."""

from __future__ import annotations

import numpy as np
import pytest

from core import catalog
from core.tasks import lm_onnx, seq2seq_onnx

from conftest import beside_busy_python

SPEC = "translate-en-zh"


def _sources(count: int = 40) -> list[str]:
    from core.data import translation

    return [pair.english for pair in translation.corpus(train_size=0).test][:count]


def test_a_translation_model_trained_here_decodes_on_onnx_runtime_as_pytorch_does(translate_tiny_model, monkeypatch):
    from core.tasks.translate import Translator

    translator = Translator(catalog.get_spec(SPEC))
    sources = _sources()
    on_onnx = [translator.translate(text) for text in sources]
    assert {(one.runtime, one.runtime_note, one.device) for one in on_onnx} == {("ONNX Runtime fp32", "", "cpu")}
    exported = sorted(p.name for p in lm_onnx.onnx_runtime.folder_of(SPEC).glob("*.onnx"))
    prefix = catalog.weights_sha256(catalog.get_spec(SPEC))[:16]
    assert exported == [f"{prefix}-decoder.onnx", f"{prefix}-encoder.onnx"]
    monkeypatch.setenv("LMLAB_SERVING", "torch")
    torch_translator = Translator(catalog.get_spec(SPEC))
    on_torch = [torch_translator.translate(text) for text in sources]
    assert {(one.runtime, one.runtime_note) for one in on_torch} == {("PyTorch fp32", lm_onnx.TORCH_ASKED)}
    for mine, theirs in zip(on_onnx, on_torch, strict=True):
        assert (mine.text, mine.output_ids, mine.source_tokens) == (theirs.text, theirs.output_ids, theirs.source_tokens)
        for group in ("cross_attentions", "encoder_attentions", "decoder_attentions"):
            assert np.allclose(getattr(mine, group), getattr(theirs, group), atol=1e-5), group
    assert not translator.model.training  # the export left the served model in evaluation mode
    monkeypatch.delenv("LMLAB_SERVING")
    stamps = {p: p.stat().st_mtime_ns for p in lm_onnx.onnx_runtime.folder_of(SPEC).glob("*.onnx")}
    again = Translator(catalog.get_spec(SPEC)).translate(sources[0])
    assert again.text == on_onnx[0].text and again.runtime == "ONNX Runtime fp32"
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # opened, not exported again


def test_pytorch_decodes_beams_handed_over_models_and_after_a_damaged_export(translate_tiny_model):
    from core.loading import load_seq2seq
    from core.tasks.translate import Translator

    text = _sources(1)[0]
    beams = Translator(catalog.get_spec(SPEC)).translate(text, beams=2)
    assert (beams.runtime, beams.runtime_note) == ("PyTorch fp32", seq2seq_onnx.BEAMS)
    handed = Translator(catalog.get_spec(SPEC), *load_seq2seq(catalog.get_spec(SPEC), eager_attention=True))
    assert handed.translate(text).runtime_note == lm_onnx.NO_VERSION  # as training hands a model over
    Translator(catalog.get_spec(SPEC)).translate(text)  # the export is there
    path = next(lm_onnx.onnx_runtime.folder_of(SPEC).glob("*-decoder.onnx"))
    path.write_bytes(b"not a model")  # a damaged file: PyTorch this time, removed, exported afresh next time
    damaged = Translator(catalog.get_spec(SPEC)).translate(text)
    assert (damaged.runtime, damaged.runtime_note) == ("PyTorch fp32", lm_onnx.NOT_FAITHFUL) and not path.exists()
    fresh = Translator(catalog.get_spec(SPEC)).translate(text)
    assert fresh.runtime == "ONNX Runtime fp32" and path.is_file() and fresh.text == damaged.text


def test_an_unfaithful_export_is_noted_and_not_tried_again(translate_tiny_model, monkeypatch):
    from core.tasks.translate import Translator

    for made_before in lm_onnx.onnx_runtime.folder_of(SPEC).glob("*"):
        made_before.unlink()
    monkeypatch.setattr(lm_onnx, "TOLERANCE", -1.0)  # no export can pass
    found = Translator(catalog.get_spec(SPEC)).translate(_sources(1)[0])
    assert (found.runtime, found.runtime_note) == ("PyTorch fp32", lm_onnx.NOT_FAITHFUL)
    notes = list(lm_onnx.onnx_runtime.folder_of(SPEC).glob("*"))
    assert [p.suffix for p in notes] == [".failed"] and "differ from PyTorch's" in notes[0].read_text()
    monkeypatch.setattr(lm_onnx, "TOLERANCE", 1e-4)  # the note stands for this version: not exported again
    assert Translator(catalog.get_spec(SPEC)).translate(_sources(1)[0]).runtime == "PyTorch fp32"
    notes[0].unlink()
    assert Translator(catalog.get_spec(SPEC)).translate(_sources(1)[0]).runtime == "ONNX Runtime fp32"


@pytest.mark.timed
def test_a_translation_stays_fast_while_other_threads_keep_python_busy(translate_tiny_model):
    """Beside two threads running plain Python, one sentence of the Chinese → English model with its attention maps
    took 17.5 s in PyTorch (0.03 s alone), 0.12 s in ONNX Runtime."""
    from core.tasks.translate import Translator

    translator = Translator(catalog.get_spec(SPEC))
    text = _sources(1)[0]
    assert translator.translate(text).runtime == "ONNX Runtime fp32"
    found, seconds = beside_busy_python(lambda: translator.translate(text))
    assert found.text and found.cross_attentions is not None and seconds < 3, seconds


def test_a_batch_onnx_runtime_fails_on_is_answered_by_pytorch(translate_tiny_model):
    from core.tasks.translate import Translator

    translator = Translator(catalog.get_spec(SPEC))
    text, decoder = _sources(1)[0], translator._greedy
    expected = translator.translate(text)

    def short_of_memory(*_args, **_kwargs):
        raise MemoryError

    translator._greedy = short_of_memory  # a failure of the moment: PyTorch answers, ONNX Runtime stays
    found = translator.translate(text)
    assert (found.text, found.runtime, found.runtime_note) == (expected.text, "PyTorch fp32", seq2seq_onnx.SHORT)
    assert translator._greedy is short_of_memory and translator.translate(text).runtime_note == seq2seq_onnx.SHORT
    translator._greedy = lambda *_args, **_kwargs: 1 / 0  # anything else: PyTorch from now on, said so
    found = translator.translate(text)
    assert (found.text, found.runtime, found.runtime_note) == (expected.text, "PyTorch fp32", lm_onnx.NOT_FAITHFUL)
    assert translator._greedy is None and translator.translate(text).runtime == "PyTorch fp32"
    assert decoder is not None


def test_a_model_whose_generation_settings_change_greedy_decoding_keeps_pytorch(translate_tiny_model):
    from core.loading import load_seq2seq

    spec = catalog.get_spec(SPEC)
    _tokenizer, model = load_seq2seq(spec, eager_attention=True)
    fingerprint = catalog.weights_sha256(spec)
    assert seq2seq_onnx.for_model(spec, model, fingerprint, max_new=8)[0] is not None
    for name, value in (("no_repeat_ngram_size", 2), ("forced_eos_token_id", 0), ("repetition_penalty", 1.2)):
        setattr(model.generation_config, name, value)
        assert seq2seq_onnx.for_model(spec, model, fingerprint, max_new=8) == (None, seq2seq_onnx.SETTINGS), name
        setattr(model.generation_config, name, None)

"""Generation on ONNX Runtime (core.tasks.lm_onnx): the same texts as PyTorch, exported once per version, PyTorch
where it cannot be used, and a generation that stays fast while other threads keep Python busy."""

from __future__ import annotations

import threading
import time

import pytest

from core import catalog
from core.tasks import lm_onnx

from conftest import beside_busy_python


def _generations(model, seeds=range(6)) -> list[str]:
    return [model.generate("The government", max_new_tokens=16, temperature=1.0, seed=seed).text for seed in seeds]


def test_a_gpt_trained_here_generates_on_onnx_runtime_the_texts_pytorch_writes(lm_tiny_model):
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.LM_LEE)
    found = model.generate("The government", max_new_tokens=8, seed=0)
    assert found.runtime == "ONNX Runtime fp32" and found.runtime_note == "" and found.device == "cpu"
    exported = sorted(lm_onnx.onnx_runtime.folder_of("lm-lee-gpt").glob("*-next-token.onnx"))
    assert len(exported) == 1 and exported[0].name.startswith(catalog.weights_sha256(catalog.LM_LEE)[:16])
    on_onnx = _generations(model)
    runner, model._next_token = model._next_token, None  # the same model on PyTorch
    try:
        assert _generations(model) == on_onnx
        assert not model.model.training  # the export left the served model in evaluation mode
    finally:
        model._next_token = runner
    stamp = exported[0].stat().st_mtime_ns
    again = LanguageModel(catalog.LM_LEE)
    assert _generations(again) == on_onnx and exported[0].stat().st_mtime_ns == stamp  # opened, not exported again


def test_pytorch_generates_where_asked_or_where_the_export_is_unusable(lm_tiny_model, monkeypatch):
    from core.loading import load_causal_lm
    from core.tasks.generate import LanguageModel

    monkeypatch.setenv("LMLAB_SERVING", "torch")
    found = LanguageModel(catalog.LM_LEE).generate("The government", max_new_tokens=4, seed=0)
    assert (found.runtime, found.runtime_note) == ("PyTorch fp32", lm_onnx.TORCH_ASKED)
    monkeypatch.delenv("LMLAB_SERVING")
    handed = LanguageModel(catalog.LM_LEE, *load_causal_lm(catalog.LM_LEE))  # as training hands a model over
    assert handed.generate("The government", max_new_tokens=4, seed=0).runtime_note == lm_onnx.NO_VERSION
    path = next(lm_onnx.onnx_runtime.folder_of("lm-lee-gpt").glob("*-next-token.onnx"))
    path.write_bytes(b"not a model")  # a damaged file: PyTorch this time, the file removed, exported afresh next time
    damaged = LanguageModel(catalog.LM_LEE).generate("The government", max_new_tokens=4, seed=0)
    assert (damaged.runtime, damaged.runtime_note) == ("PyTorch fp32", lm_onnx.NOT_FAITHFUL) and not path.exists()
    assert LanguageModel(catalog.LM_LEE).generate("The government", max_new_tokens=4, seed=0).runtime == (
        "ONNX Runtime fp32") and path.is_file()


@pytest.mark.timed
def test_a_generation_stays_fast_while_other_threads_keep_python_busy(lm_tiny_model):
    """PyTorch takes Python's GIL back after every operation of every pass: beside four threads running plain Python,
    40 tokens of the Chinese character GPT took 96.8 s in PyTorch (0.05 s alone), 1.5 s in ONNX Runtime."""
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.LM_LEE)
    model.generate("The government", max_new_tokens=4, seed=0)
    assert model._next_token is not None
    made, seconds = beside_busy_python(lambda: model.generate("The government", max_new_tokens=20, temperature=0.0, seed=0))
    assert len(made.steps) >= 1 and seconds < 10, seconds


def test_the_export_waits_while_another_page_holds_the_model_with_a_hook_on_it(lm_tiny_model):
    """Ablate and Patch hook the shared model while they hold it: an export traced (or checked) then would serve the
    class an ablated model, or note a faithful one as failed. The first generation exports only once it has the model."""
    import torch

    from core.tasks.generate import LanguageModel

    for made_before in lm_onnx.onnx_runtime.folder_of("lm-lee-gpt").glob("*-next-token.*"):
        made_before.unlink()  # so that the export itself (the trace, then the check) runs behind the holder
    model = LanguageModel(catalog.LM_LEE)
    held, released = threading.Event(), {}

    def ablate() -> None:
        with model.exclusive() as gpt:
            hook = gpt.transformer.h[0].register_forward_hook(
                lambda _m, _i, out: (torch.zeros_like(out[0]), *out[1:]) if isinstance(out, tuple) else out * 0)
            held.set()
            time.sleep(1.0)
            hook.remove()
            released["at"] = time.monotonic()

    holder = threading.Thread(target=ablate)
    holder.start()
    held.wait(10)
    made = model.generate("The government", max_new_tokens=8, seed=0)
    finished = time.monotonic()
    holder.join()
    assert made.runtime == "ONNX Runtime fp32", made.runtime_note
    assert finished > released["at"]
    runner, model._next_token = model._next_token, None
    try:
        assert model.generate("The government", max_new_tokens=8, seed=0).text == made.text  # the unhooked model's
    finally:
        model._next_token = runner

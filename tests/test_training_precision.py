"""Training precision on a CPU: fp32 by default; with LMLAB_TRAIN_PRECISION=bf16, bf16 mixed precision where the CPU
computes bf16 in hardware, for runs of up to CPU_BF16_MAX_LENGTH tokens, attention in plain operations while it
trains, and held-out scores in fp32, as the model is served.

Real training runs with Trainer; only the question "does this CPU compute bf16 in hardware?" is answered here, so that
the rule is tested on any machine (on a CPU without it, autocast's bf16 is emulated: slower, the same code path)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import pytest

from core import catalog, device
from core.data import polarity
from core.tasks import article_code
from core.tasks.classify import TransformerClassifier
from core.training import jobs

from conftest import ROOT


def _info(where: str, dtype: str) -> device.DeviceInfo:
    return dataclasses.replace(device.describe(), device=where, train_dtype=dtype)


def test_which_precision_a_run_trains_in(monkeypatch):
    assert isinstance(device.native_cpu_bf16(), bool)  # this machine's answer (from /proc/cpuinfo on Linux)
    bf16_cpu, longest = _info("cpu", "bf16"), device.CPU_BF16_MAX_LENGTH
    assert [device.training_precision(bf16_cpu, n) for n in (64, longest, longest + 1)] == ["bf16", "bf16", "fp32"]
    assert device.training_precision(_info("cpu", "fp32"), 64) == "fp32"
    assert longest == 128  # the number the Home page, the sidebar and the FAQ's caption name
    assert device.training_precision(_info("cuda", "bf16"), 512) == "bf16"  # a GPU's fused attention is not the issue
    assert device.mixed_precision_flags("bf16") == {"bf16": True, "fp16": False}
    assert device.mixed_precision_flags("fp32") == {"bf16": False, "fp16": False}
    monkeypatch.setenv("LMLAB_DEVICE", "cpu")
    monkeypatch.setattr(device, "native_cpu_bf16", lambda: True)
    monkeypatch.delenv("LMLAB_TRAIN_PRECISION", raising=False)
    assert device.describe().train_dtype == "fp32"  # the default, even on a CPU that computes bf16
    monkeypatch.setenv("LMLAB_TRAIN_PRECISION", "bf16")
    assert device.describe().train_dtype == "bf16"
    monkeypatch.setattr(device, "native_cpu_bf16", lambda: False)
    assert device.describe().train_dtype == "fp32"  # asked for, but emulated bf16 would be slower: fp32


def _watched(monkeypatch, seen: list, scored: set, bf16: bool) -> None:
    """Trainer as LM Lab builds it, watched: the attention implementation at each step, the mixed-precision flags,
    and the dtype of the first linear layer's outputs while the held-out texts are scored."""
    import torch
    from transformers import Trainer, TrainerCallback

    class Watch(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            seen.append(model.config._attn_implementation)

    original_init, original_predict = Trainer.__init__, Trainer.predict

    def with_watch(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.add_callback(Watch())
        assert self.args.bf16 == bf16 and not self.args.fp16

    def watched_predict(self, *args, **kwargs):
        linear = next(module for module in self.model.modules() if isinstance(module, torch.nn.Linear))
        hook = linear.register_forward_hook(lambda module, inputs, output: scored.add(str(output.dtype)))
        try:
            return original_predict(self, *args, **kwargs)
        finally:
            hook.remove()

    monkeypatch.setattr(Trainer, "__init__", with_watch)
    monkeypatch.setattr(Trainer, "predict", watched_predict)


@pytest.mark.parametrize(("max_length", "expected"), [(64, "bf16"), (256, "fp32")])
def test_bf16_on_the_cpu_trains_short_runs_in_it_and_scores_them_in_fp32(fresh_cache, monkeypatch, tmp_path,
                                                                         max_length, expected):  # fmt: skip
    monkeypatch.setenv("LMLAB_DEVICE", "cpu")
    monkeypatch.setenv("LMLAB_TRAIN_PRECISION", "bf16")
    monkeypatch.setattr(device, "native_cpu_bf16", lambda: True)
    seen: list[str] = []
    scored: set[str] = set()
    _watched(monkeypatch, seen, scored, expected == "bf16")
    jobs.run_here("sentiment-tiny", {"epochs": 2, "max_length": max_length})
    card = catalog.read_metadata("sentiment-tiny")
    assert card["precision"] == expected and card["device"] == "cpu"
    assert seen and set(seen) == {"eager" if expected == "bf16" else "sdpa"}  # switched for bf16's steps only
    assert scored == {"torch.float32"}  # scored in fp32: autocast's wrapper is gone
    served = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")  # PyTorch fp32, as served
    assert served.model.config._attn_implementation == "sdpa" and str(served.model.dtype) == "torch.float32"
    test = polarity.split().test
    answers = served.predict_batch([example.text for example in test])
    accuracy = sum(answer.label == example.label for answer, example in zip(answers, test, strict=True)) / len(test)
    assert accuracy == pytest.approx(card["metrics"]["accuracy"]["value"], abs=1e-9)  # the card's score is fp32's
    if expected != "bf16":
        return
    # the page's copyable script trains the same run again, in bf16 on the CPU, to the same held-out accuracy
    script = tmp_path / "train_again.py"
    script.write_text(article_code.training_script(card["recipe"], card["precision"], card["device"]), encoding="utf-8")
    assert "use_cpu=True" in script.read_text(encoding="utf-8") and "bf16=True" in script.read_text(encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    again = float(re.search(r"held-out accuracy: ([0-9.]+)", done.stdout).group(1))
    assert again == pytest.approx(card["metrics"]["accuracy"]["value"], abs=1e-9)


def test_a_bf16_cpu_runs_script_stays_on_the_cpu_also_when_its_batches_go_in_parts():
    from core.training.recipes import RECIPES

    recipe = {**RECIPES["sentiment-minilm"].to_json(), "step_tokens": 2048}  # a page's run: passes sized on the CPU
    script = article_code.training_script(recipe, "bf16", "cpu")
    compile(script, "train_again.py", "exec")
    assert script.count("use_cpu=") == 1 and "use_cpu=True" in script and "bf16=True" in script
    assert "passes(recipe, on_cpu=True)" in script and 'set_attn_implementation("eager")' in script
    on_gpu = article_code.training_script(recipe, "bf16", "cuda")  # a GPU run's script: mixed precision where there is one
    assert 'use_cpu=pick_device() == "cpu"' in on_gpu and "bf16=torch.cuda.is_available()" in on_gpu
    assert "eager" not in on_gpu


def test_after_mixed_precision_the_model_runs_its_own_forward_again():
    import torch
    from accelerate import Accelerator
    from transformers import BertConfig, BertForSequenceClassification

    from core.training.trainer import _without_autocast

    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=64))  # fmt: skip
    _without_autocast(model)  # never wrapped: nothing to do
    assert "forward" not in model.__dict__
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)  # as TrainingArguments does: an earlier run's state goes
    try:
        model = Accelerator(mixed_precision="bf16", cpu=True).prepare_model(model)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    ids = torch.tensor([[1, 5, 6, 2]])
    seen = set()
    model.bert.encoder.layer[0].attention.self.query.register_forward_hook(lambda m, i, o: seen.add(o.dtype))
    model(input_ids=ids)
    assert seen == {torch.bfloat16} and "_original_forward" in model.__dict__  # what Trainer's bf16 leaves behind
    seen.clear()
    _without_autocast(model)
    assert "forward" not in model.__dict__ and "_original_forward" not in model.__dict__
    assert model.forward.__func__ is type(model).forward  # the class's forward, transformers' decorators and all
    output = model(input_ids=ids, return_dict=False)  # a decorator of forward handles return_dict
    assert isinstance(output, tuple) and seen == {torch.float32}

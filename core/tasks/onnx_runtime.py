"""A classifier's forward pass on ONNX Runtime, the faster CPU runtime LM Lab serves with when it is installed.

The PyTorch model is exported once per version of its weights (``torch.onnx.export``, opset 17, batch and
length left free) into ``<cache>/onnx/``, checked against PyTorch on a sample before it is used, and run by
ONNX Runtime on the CPU. ``onnx-int8`` quantises the exported weights to int8 (ONNX Runtime's dynamic
quantisation, one scale per output channel): faster again, with answers that can differ slightly from fp32 — the benchmark's
``@onnx-int8`` row says by how much.

Which runtime serves is ``LMLAB_SERVING``: ``onnx-int8`` (the default), ``onnx`` (the same answers as
PyTorch, to about 1e-6 in the logits), or ``torch``. int8 serves a model only where it gives PyTorch's label
on at least 98 % of the task's held-out texts (measured once per export); elsewhere fp32 serves. A model that cannot be exported (an architecture the
exporter does not handle, no onnxruntime installed) is served by PyTorch, and the reason is kept.
Explanations, attention maps and training always use the PyTorch model.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from core import settings
from core.errors import CoreError

RUNTIMES = settings.RUNTIMES
AGREEMENT_TOLERANCE = 1e-3  # the most an fp32 export's logits may differ from PyTorch's on the check sample
# Two lengths, so the traced graph applies the attention mask: traced on one unpadded text, transformers could
# leave the mask out (an all-ones mask changes nothing) and the graph would then ignore padding for good.
_SAMPLE = ["A short sentence.", "A second, somewhat longer sentence to check the padded positions with."]
_export_lock = threading.Lock()  # one export at a time in this process (another process is kept apart by rename)


@dataclass
class OnnxClassifier:
    """An exported classifier: numpy inputs by name in, logits out. Thread-safe (ONNX Runtime's run is)."""

    path: Path
    runtime: str
    session: object
    inputs: list[str]

    def logits(self, batch) -> object:
        """Logits (a numpy array) for a tokenizer batch of torch tensors or numpy arrays."""
        feed = {name: _as_numpy(batch[name]) for name in self.inputs}
        return self.session.run(None, feed)[0]


def _as_numpy(value):
    return value.numpy() if hasattr(value, "numpy") else value


def load(model, tokenizer, *, key: str, fingerprint: str, runtime: str, threads: int) -> OnnxClassifier:
    """The exported (and, for ``onnx-int8``, quantised) model, exported now when this version has none yet.

    Raises CoreError when onnxruntime is missing or the export does not reproduce PyTorch's logits.
    """
    if runtime not in ("onnx", "onnx-int8"):
        raise CoreError(f"Unknown ONNX runtime {runtime!r}; choose 'onnx' or 'onnx-int8'.")
    if not settings.onnx_available():
        raise CoreError("ONNX Runtime is not installed (pip install -r requirements.txt).")
    import onnxruntime

    inputs = _inputs(model, tokenizer)
    folder = settings.cache_home() / "onnx"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{key}-{(fingerprint or 'packaged')[:16]}"
    fp32 = folder / f"{stem}.onnx"
    with _export_lock:
        if not fp32.is_file():
            forget(key)  # an earlier version's exports: this one replaces them
            _export(model, tokenizer, inputs, fp32)
        path = fp32
        if runtime == "onnx-int8":
            path = folder / f"{stem}-int8-per-channel.onnx"
            if not path.is_file():
                _quantise(fp32, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no graph-optimisation chatter in the server's log
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        found = OnnxClassifier(path, runtime, session, inputs)
        if runtime == "onnx":
            _check(found, model, tokenizer)
    except Exception as error:  # a damaged or unfaithful file: removed, so that the next load exports afresh
        for damaged in {path, fp32}:
            damaged.unlink(missing_ok=True)
        if isinstance(error, CoreError):
            raise
        raise CoreError(f"ONNX Runtime could not open the exported model: {str(error)[:300]}") from None
    return found


def _inputs(model, tokenizer) -> list[str]:
    """The tokenizer's outputs the model takes, in the order of ``forward``'s parameters: the exporter names
    the graph's inputs by position, so any other order would give the attention mask another input's name."""
    import inspect

    given = set(tokenizer.model_input_names)
    return [name for name in inspect.signature(model.forward).parameters
            if name in given and name in ("input_ids", "attention_mask", "token_type_ids")]  # fmt: skip


def forget(key: str) -> int:
    """Remove every export of the model ``key`` (all versions); returns how many files went."""
    import re

    folder = settings.cache_home() / "onnx"
    if not folder.is_dir():
        return 0
    mine = re.compile(rf"{re.escape(key)}-([0-9a-f]{{16}}|packaged)[.-]")  # not "KEY-2-…", another model's
    removed = 0
    for path in folder.iterdir():
        if mine.match(path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def agreement(found: OnnxClassifier, model, tokenizer, texts: list[str], max_tokens: int) -> tuple[int, int]:
    """On how many of ``texts`` the exported model gives PyTorch's label: (same, of). Measured once per export
    and kept next to it (a JSON file), so a restart does not measure again."""
    import json

    import numpy as np
    import torch

    record = found.path.with_suffix(".agreement.json")
    try:
        kept = json.loads(record.read_text(encoding="utf-8"))
        if kept.get("texts") == len(texts):
            return int(kept["same"]), len(texts)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    same = 0
    for text in texts:  # one at a time, as int8 serves (its activation scale is per pass)
        batch = tokenizer([text], truncation=True, max_length=max_tokens, return_tensors="pt")
        with torch.inference_mode():
            expected = int(model(**batch).logits.float().numpy().argmax(axis=1)[0])
        same += int(int(np.asarray(found.logits(batch)).argmax(axis=1)[0]) == expected)
    from core.io import write_json_atomic

    write_json_atomic(record, {"same": same, "texts": len(texts)})
    return same, len(texts)


def _export(model, tokenizer, inputs: list[str], target: Path) -> None:
    import torch

    sample = tokenizer(_SAMPLE, padding=True, return_tensors="pt")
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's tracer warnings say nothing a user can act on
            torch.onnx.export(model.eval(), (), str(temporary), kwargs={name: sample[name] for name in inputs},
                              input_names=inputs, output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}},
                              opset_version=17, dynamo=False)  # fmt: skip
        os.replace(temporary, target)
    except Exception as error:
        temporary.unlink(missing_ok=True)
        raise CoreError(f"Could not export the model to ONNX: {str(error)[:300]}") from None


def _quantise(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "consider running pre-processing": advice for vision models
    try:
        # per output channel: one scale per row of each weight matrix. Measured on the sentiment MiniLM's 200
        # polarity sentences, it agrees with fp32 on every label where one scale per matrix missed 2 of 200.
        quantize_dynamic(str(source), str(temporary), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(temporary, target)
    except Exception as error:
        temporary.unlink(missing_ok=True)
        raise CoreError(f"Could not quantise the ONNX model: {str(error)[:300]}") from None
    finally:
        quiet.setLevel(level)


def _check(found: OnnxClassifier, model, tokenizer) -> None:
    """An fp32 export must give PyTorch's logits on the sample, or it is not used."""
    import numpy as np
    import torch

    sample = tokenizer(_SAMPLE, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = model(**sample).logits.float().numpy()
    difference = float(np.abs(found.logits(sample) - expected).max())
    if not difference <= AGREEMENT_TOLERANCE:
        raise CoreError(f"The ONNX export's logits differ from PyTorch's by {difference:.2g}; serving with PyTorch.")

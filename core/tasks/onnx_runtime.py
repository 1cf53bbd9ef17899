"""A classifier's forward pass on ONNX Runtime, the faster CPU runtime LM Lab serves with when it is installed.

The PyTorch model is exported once per version of its weights (``torch.onnx.export``, opset 17, batch and
length left free, attention traced in plain operations rather than SDPA: a smaller, faster graph) into
``<cache>/onnx/<key>/``, checked against PyTorch's logits on three batch shapes before it is kept (and before it is
quantised), and run by ONNX Runtime on the CPU. ``onnx-int8``
quantises the exported weights to int8 (ONNX Runtime's dynamic quantisation, one scale per output
channel): faster again, with answers that can differ slightly from fp32 — the benchmark's ``@onnx-int8``
row says by how much.

Which runtime serves is ``LMLAB_SERVING``: ``onnx-int8`` (the default), ``onnx`` (PyTorch's logits to
within 1e-3, about 1e-6 measured) or ``torch``. int8 serves a model only where it gives PyTorch's label on
at least 98 % of its held-out texts (``onnx_agreement``; measured once per export, CPU and runtime version); elsewhere
fp32 serves. Where int8 serves, an answer whose top two classes are closer than twice the most int8 moved the
gap between a text's top class and another, on training texts never scored, is computed again in fp32
(``onnx_agreement.Agreement.recheck_below``), by the fp32 export (opened beside int8's; else by PyTorch): a close call is where int8
could change the label. A model that cannot be exported faithfully, a model from the Hub, a model over
``MAX_PARAMETERS``, or a machine without onnxruntime is served by PyTorch, and the reason is kept.
Explanations, attention maps and training always use the PyTorch model.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from core import settings
from core.errors import CoreError
from core.io import temporary_name
from core.tasks.traced import TRACING  # the exporter's tracer and torch.jit.trace share state

RUNTIMES = settings.RUNTIMES
AGREEMENT_TOLERANCE = 1e-3  # the most an fp32 export's logits may differ from PyTorch's on the check sample
# Two lengths, so the traced graph applies the attention mask: traced on one unpadded text, transformers could
# leave the mask out (an all-ones mask changes nothing) and the graph would then ignore padding for good.
_SAMPLE = ["A short sentence.", "A second, somewhat longer sentence to check the padded positions with."]
MAX_PARAMETERS = 150_000_000  # larger models stay on PyTorch: an export holds the weights a second time
# the fp32 export kept open beside int8's for its close calls holds them a third time (0.1 GB for a MiniLM); a larger
# model's close calls go to PyTorch
MAX_PARAMETERS_EXACT = 50_000_000
_locks: dict[str, threading.Lock] = {}  # per model key; another process is kept apart by atomic renames
_locks_guard = threading.Lock()


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

    Exports live in ``<cache>/onnx/<key>/``, named by the first 16 hex digits of the weights' sha256; a new
    version replaces the old ones. An export that failed leaves a note, so it is not tried again for that
    version. Raises CoreError when onnxruntime is missing, the model is too large to hold twice, or the
    export does not reproduce PyTorch's logits.
    """
    if runtime not in ("onnx", "onnx-int8"):
        raise CoreError(f"Unknown ONNX runtime {runtime!r}; choose 'onnx' or 'onnx-int8'.")
    if not settings.onnx_available():
        raise CoreError("ONNX Runtime is not installed (pip install -r requirements.txt).")
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise CoreError(f"models over {MAX_PARAMETERS // 10**6} M parameters are served by PyTorch (this one has "
                        f"{parameters / 1e6:.0f} M: an export would hold its weights in memory a second time)")  # fmt: skip
    inputs = _inputs(model, tokenizer)
    fp32, int8, failed = _paths(key, fingerprint)
    path = int8 if runtime == "onnx-int8" else fp32
    with _lock_for(key):
        if failed.is_file():
            raise CoreError(failed.read_text(encoding="utf-8", errors="replace")[:300])
        if not path.is_file():
            _build(model, tokenizer, inputs, fp32, int8 if path == int8 else None, failed)
    try:
        found = _open(path, runtime, inputs, threads)
        if runtime == "onnx":
            _check(found, model, tokenizer)
    except Exception as error:  # a damaged or unfaithful file: removed, so that the next load exports afresh
        with _lock_for(key):
            for damaged in {path, fp32}:
                damaged.unlink(missing_ok=True)
        if isinstance(error, CoreError):
            raise
        raise CoreError(f"ONNX Runtime could not open the exported model: {str(error)[:300]}") from None
    return found


def _paths(key: str, fingerprint: str) -> tuple[Path, Path, Path]:
    """A version's fp32 export, its int8 one and its failure note, named by the weights' sha256."""
    folder, stem = folder_of(key), (fingerprint or "packaged")[:16] + "-eager"  # an export traced through SDPA is older
    return folder / f"{stem}.onnx", folder / f"{stem}-int8-per-channel.onnx", folder / f"{stem}.failed"


def open_exact(model, tokenizer, *, key: str, fingerprint: str, threads: int) -> OnnxClassifier:
    """The fp32 export beside a served int8 one, for int8's close calls: opened and checked against PyTorch, never
    exported or removed here (int8's files stay as they are). CoreError where it is missing, unfaithful, or the model
    is over MAX_PARAMETERS_EXACT."""
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS_EXACT:
        raise CoreError(f"models over {MAX_PARAMETERS_EXACT // 10**6} M parameters compute int8's close calls in PyTorch")
    path = _paths(key, fingerprint)[0]
    if not path.is_file():
        raise CoreError("the fp32 export is missing")
    found = _open(path, "onnx", _inputs(model, tokenizer), threads)
    _check(found, model, tokenizer)
    return found


def _build(model, tokenizer, inputs: list[str], fp32: Path, int8: Path | None, failed: Path) -> None:
    """Export (checked against PyTorch before it is kept) and quantise; a failure is noted in ``failed``."""
    from core.io import write_text_atomic

    try:
        if not fp32.is_file():
            for older in fp32.parent.iterdir():  # an earlier version's exports: this one replaces them
                if older.is_file():
                    older.unlink(missing_ok=True)
            _export(model, tokenizer, inputs, fp32)
            try:
                _check(_open(fp32, "onnx", inputs, 1), model, tokenizer)
            except Exception:
                fp32.unlink(missing_ok=True)
                raise
        if int8 is not None:
            _quantise(fp32, int8)
    except CoreError as error:
        write_text_atomic(failed, str(error))
        raise
    except Exception as error:  # noqa: BLE001 - noted like the others: an exporter's odd failure is not retried
        write_text_atomic(failed, f"Could not export the model to ONNX: {str(error)[:300]}")
        raise CoreError(failed.read_text(encoding="utf-8")) from None


def _open(path: Path, runtime: str, inputs: list[str], threads: int) -> OnnxClassifier:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no graph-optimisation chatter in the server's log
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return OnnxClassifier(path, runtime, session, inputs)


def folder_of(key: str) -> Path:
    """Where the exports of the model ``key`` live (created on first use)."""
    from core.catalog import validate_key

    folder = settings.cache_home() / "onnx" / validate_key(key)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _lock_for(key: str) -> threading.Lock:
    """One lock per model: exporting one model never holds up another model's load."""
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _inputs(model, tokenizer) -> list[str]:
    """The tokenizer's outputs the model takes, in the order of ``forward``'s parameters: the exporter names
    the graph's inputs by position, so any other order would give the attention mask another input's name."""
    import inspect

    given = set(tokenizer.model_input_names)
    return [name for name in inspect.signature(model.forward).parameters
            if name in given and name in ("input_ids", "attention_mask", "token_type_ids")]  # fmt: skip


def forget(key: str) -> bool:
    """Remove every export of the model ``key`` (all versions); True when there were any."""
    import shutil

    folder = settings.cache_home() / "onnx" / key
    with _lock_for(key):
        if not folder.is_dir():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True


def _export(model, tokenizer, inputs: list[str], target: Path) -> None:
    import torch

    from core.loading import eager_attention

    sample, temporary = tokenizer(_SAMPLE, padding=True, return_tensors="pt"), temporary_name(target)
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    try:
        # attention traced in plain ops: the sentiment MiniLM's int8 pass 2.11 ms, 2.21 through SDPA (fp32 5.53, 5.76)
        with TRACING, warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), eager_attention(model):
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

    temporary = temporary_name(target)
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

    named = [entry.name for entry in found.session.get_inputs()]
    if named != found.inputs:
        raise CoreError(f"The ONNX export takes {named}, not {found.inputs}; PyTorch serves.")
    difference = 0.0
    # the traced shape, one text alone, and three texts at another padded length: the free axes are free
    for texts in (_SAMPLE, _SAMPLE[1:], [*_SAMPLE, "A third one, longer than the other two, with a few more words in it."]):
        sample = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.inference_mode():
            expected = model(**sample).logits.float().numpy()
        difference = max(difference, float(np.abs(found.logits(sample) - expected).max()))
    if not difference <= AGREEMENT_TOLERANCE:
        raise CoreError(f"The ONNX export's logits differ from PyTorch's by {difference:.2g}; PyTorch serves.")

"""A small GPT's next-token pass on ONNX Runtime: what generation runs on the CPU when ``LMLAB_SERVING`` allows it.

A generation is dozens of small forward passes, one per token. PyTorch hands Python's GIL back at every operation
of a pass and must take it again afterwards; on a server whose sessions keep Python busy, every take-back waits its
turn. Measured on 2 cores with the Chinese character GPT, 40 greedy tokens (``benchmarks/generation_busy.py``): 0.07 s
alone and 100.1 s beside four threads running plain Python in PyTorch, 0.03 s and 2.08 s in ONNX Runtime, which lets
go of the GIL once per pass (``benchmarks/classroom.py``: Generate was the class's slowest page). The probabilities
differ from PyTorch's by about 1e-7, so a seed draws the same tokens unless a draw falls that close to the edge
between two of them.

The pass (token ids in, the last position's logits out; length left free, one text at a time, attention traced in
plain operations) is exported once per version of the weights into ``<cache>/onnx/<key>/`` beside the classifiers'
exports, checked against PyTorch (on four window lengths, from 1 token to the model's context) before it is kept, and opened
with the server's serving threads. The caller holds the model while it exports (hooks and the attention switch of
other pages must not be traced). A model that cannot be exported faithfully, one with no fixed version (from the Hub,
or handed over by training), one over ``onnx_runtime.MAX_PARAMETERS``, one on a GPU or in reduced precision, a
machine without onnxruntime, or ``LMLAB_SERVING=torch`` keeps PyTorch, and the reason is kept.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import settings
from core.errors import CoreError
from core.io import temporary_name
from core.messages import N_
from core.tasks import onnx_runtime
from core.tasks.traced import TRACING  # the exporter's tracer and torch.jit.trace share state

# Why PyTorch generates, as the Generate page says it (translated)
TORCH_ASKED = N_("LMLAB_SERVING=torch")
NO_ONNX = N_("ONNX Runtime is not installed")
NO_VERSION = N_("the model has no fixed version to export")
ON_GPU = N_("the model runs on a GPU")
REDUCED = N_("the model runs in reduced precision (LMLAB_PRECISION)")
NOT_GPT2 = N_("only GPT-2's family is exported")
TOO_LARGE = N_("larger models stay on PyTorch")
RETRAINED = N_("the model was trained again since it loaded")
NOT_FAITHFUL = N_("its ONNX export failed or did not give PyTorch's probabilities")
NOTES = (TORCH_ASKED, NO_ONNX, NO_VERSION, ON_GPU, REDUCED, NOT_GPT2, TOO_LARGE)
TOLERANCE = 1e-4  # the most an export's probabilities may differ from PyTorch's on the check windows
_CHECK = ([0], [0, 1, 2], list(range(3, 40)))  # with the model's whole context: four lengths, the axis must stay free


@dataclass
class NextToken:
    """The exported pass: a window of ids in, the next-token distribution (float64) out. Thread-safe."""

    path: Path
    session: object

    def __call__(self, window: list[int]) -> np.ndarray:
        ids = np.asarray([window], dtype=np.int64)
        return softmax(self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities (float64) over the last axis of an export's logits."""
    shifted = np.exp(logits.astype(np.float64) - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def title(model, runner: NextToken | None) -> str:
    """What generates: 'ONNX Runtime fp32' where the export does, else 'PyTorch fp32' (or the model's precision)."""
    from core.device import precision_of

    return "ONNX Runtime fp32" if runner is not None else f"PyTorch {precision_of(model)}"


def for_model(spec, model, fingerprint: str) -> tuple[NextToken | None, str]:
    """The pass a generation of ``model`` uses, or None and why PyTorch generates instead (one of the notes above).
    The caller holds the model."""
    return opened_or_why(spec, fingerprint, NOTES, lambda: open_next_token(model, key=spec.key, fingerprint=fingerprint))


def opened_or_why(spec, fingerprint: str, notes: tuple[str, ...], open_it):
    """``(open_it(), "")``, or ``(None, why)`` with one of ``notes`` (or NOT_FAITHFUL) where the export cannot serve:
    the weights changed since ``fingerprint`` was read, or opening failed in any way."""
    from core.catalog import weights_sha256

    try:
        if fingerprint and weights_sha256(spec) != fingerprint:
            return None, RETRAINED
        return open_it(), ""
    except Exception as error:  # noqa: BLE001 - any failure (a full disk, a read-only cache) leaves PyTorch, said so
        reason = str(error) if isinstance(error, CoreError) else ""
        return None, reason if reason in notes else NOT_FAITHFUL


def open_next_token(model, *, key: str, fingerprint: str) -> NextToken:
    """The exported next-token pass of ``model`` (exported now when this version has none). CoreError says why not."""
    refuse_unless_exportable(model, fingerprint, family="gpt2", other_family=NOT_GPT2)

    def opened(paths: list[Path]) -> NextToken:
        found = _open(paths[0])
        _check(found, model)
        return found

    return exported(key, fingerprint, ["next-token"], lambda paths: _export(model, paths[0]), opened)


def exported(key: str, fingerprint: str, kinds: list[str], export, opened):
    """``opened(paths)`` of this version's exports ``<cache>/onnx/<key>/<fingerprint>-<kind>.onnx``, after
    ``export(paths)`` where they are missing. ``opened`` opens and checks them (CoreError where they do not give
    PyTorch's numbers). A damaged or unfaithful file is removed, so that the next load exports afresh; a version whose
    export failed (noted in ``-<first kind>.failed``) is not exported again."""
    folder = onnx_runtime.folder_of(key)
    paths = [folder / f"{fingerprint[:16]}-{kind}.onnx" for kind in kinds]
    failed = folder / f"{fingerprint[:16]}-{kinds[0]}.failed"
    with onnx_runtime._lock_for(key):
        if failed.is_file():
            raise CoreError(failed.read_text(encoding="utf-8", errors="replace")[:300])
        if not all(path.is_file() for path in paths):
            return build_checked(paths, failed, lambda: export(paths), lambda: opened(paths))  # checked just now
    try:
        return opened(paths)
    except Exception as error:
        for path in paths:
            path.unlink(missing_ok=True)
        if isinstance(error, CoreError):
            raise
        raise CoreError(f"ONNX Runtime could not open the exported model: {str(error)[:300]}") from None


def refuse_unless_exportable(model, fingerprint: str, *, family: str, other_family: str) -> None:
    """CoreError with the note that says why ``model`` generates on PyTorch, if anything does."""
    import torch

    if not settings.onnx_available():
        raise CoreError(NO_ONNX)
    if settings.serving_runtime() == "torch":
        raise CoreError(TORCH_ASKED)
    if not fingerprint:
        raise CoreError(NO_VERSION)
    if next(model.parameters()).device.type != "cpu":
        raise CoreError(ON_GPU)
    if next(model.parameters()).dtype != torch.float32:
        raise CoreError(REDUCED)
    if model.config.model_type != family:
        raise CoreError(other_family)
    if sum(p.numel() for p in model.parameters()) > onnx_runtime.MAX_PARAMETERS:
        raise CoreError(TOO_LARGE)


def build_checked(paths: list[Path], failed: Path, export, opened):
    """``export()`` writes ``paths``; ``opened()`` opens and checks them (CoreError where they do not give PyTorch's
    numbers) and is returned. An earlier version's files beside them are removed first; a failure of the model (an
    unfaithful export, an exporter's error) is noted in ``failed`` and not tried again for this version, a failure of
    the moment (a full disk, no memory) is not noted. Where anything fails, ``paths`` are removed."""
    from core.io import write_text_atomic

    kinds = {path.name[17:] for path in [*paths, failed]}  # "<fingerprint[:16]>-<kind>"
    try:
        for older in failed.parent.iterdir():
            if older.name[17:] in kinds and older not in paths:  # this version replaces them
                older.unlink(missing_ok=True)
        export()
        try:
            return opened()
        except Exception:
            for path in paths:
                path.unlink(missing_ok=True)
            raise
    except CoreError as error:  # the export does not give PyTorch's numbers: noted, not tried again
        write_text_atomic(failed, str(error))
        raise
    except Exception as error:
        if not passing(error):  # an exporter's failure: noted, not retried for this version
            write_text_atomic(failed, f"Could not export the model to ONNX: {str(error)[:300]}")
            raise CoreError(failed.read_text(encoding="utf-8")) from None
        raise CoreError(f"Could not export the model to ONNX: {str(error)[:300]}") from None  # tried again next time


def passing(error: BaseException) -> bool:
    """A failure of the moment (a full disk, no memory: PyTorch and ONNX Runtime say so in a RuntimeError), not of
    the model: not noted, so the next instance tries again."""
    words = str(error).lower()
    return isinstance(error, OSError | MemoryError) or any(
        sign in words for sign in ("can't allocate memory", "not enough memory", "failed to allocate", "bad_alloc"))


def _last_logits(model):
    """A module giving ``model``'s logits at the last position of one unpadded window."""
    import torch

    class LastLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):  # the mask (all ones) keeps the traced positions plain
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits[:, -1, :]

    return LastLogits().eval()  # a new module is in training mode, and the exporter restores the mode it found


def _export(model, path: Path) -> None:
    import torch

    from core.loading import eager_attention

    temporary, sample = temporary_name(path), torch.tensor([_window(model, _CHECK[1])])
    try:
        with TRACING, warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), eager_attention(model):
            warnings.simplefilter("ignore")  # the exporter's tracer warnings say nothing a user can act on
            torch.onnx.export(_last_logits(model.eval()), (sample, torch.ones_like(sample)), str(temporary),
                              input_names=["input_ids", "attention_mask"], output_names=["logits"],
                              dynamic_axes={"input_ids": {1: "tokens"}, "attention_mask": {1: "tokens"}},
                              opset_version=17, dynamo=False)  # fmt: skip
        os.replace(temporary, path)
    finally:
        model.eval()  # served in evaluation mode whatever the exporter did
        temporary.unlink(missing_ok=True)


def _window(model, ids: list[int]) -> list[int]:
    """``ids`` as a window the model (a GPT-2) can read: ids inside its vocabulary, no longer than its context."""
    return [i % model.config.vocab_size for i in ids][: model.config.n_positions]


def _open(path: Path) -> NextToken:
    return NextToken(path, open_session(path))


def open_session(path: Path):
    """An ONNX Runtime session of ``path`` on the CPU, with the server's serving threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = settings.serving_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _check(found: NextToken, model) -> None:
    """CoreError unless the export gives PyTorch's distribution on windows of four lengths, the model's whole context
    the last."""
    import torch

    for ids in (*_CHECK, list(range(model.config.n_positions))):
        window = _window(model, ids)
        with torch.no_grad():
            expected = torch.softmax(model(input_ids=torch.tensor([window])).logits[0, -1].float(), -1).numpy()
        moved = float(np.abs(found(window) - expected).max())
        if not moved <= TOLERANCE:  # nan fails too
            raise CoreError(f"the export's probabilities differ from PyTorch's by {moved:.1e}")

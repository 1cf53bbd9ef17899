"""How far int8 may be trusted for one exported classifier: its labels against PyTorch fp32's on held-out texts, and
the most it moves the gap between two classes on training texts never scored (which sets when an answer is a close
call, computed again in fp32). Measured once per export, CPU and ONNX Runtime version, and kept beside the export."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from core.errors import CoreError
from core.tasks.batching import padded_passes


@dataclass(frozen=True)
class Agreement:
    """int8 against PyTorch fp32, one text per pass as int8 serves: its labels on a model's held-out texts, and how
    far it moves the gaps between classes on training texts (never scored, so the held-out labels stay a test)."""

    same: int  # held-out texts on which int8 gave PyTorch's label
    of: int
    margin_error: float  # the most int8 moved a gap between its top class and another, on the training texts (logits)
    close: int  # held-out texts whose int8 answer falls under ``recheck_below``: computed again when served

    @property
    def recheck_below(self) -> float:
        """int8's answers whose top two classes are closer than this are computed again in fp32: twice the largest
        move measured. A label changes only where int8 moves a gap by at least the top two's gap, so a text escapes
        the check only where int8 errs at least twice as much as on any text it was measured on."""
        return RECHECK_FACTOR * self.margin_error

    @property
    def serves(self) -> bool:
        """Whether int8 may serve: PyTorch's label on at least MIN_INT8_AGREEMENT of the held-out texts, and at most
        MOST_CLOSE of them close calls (beyond that, fp32 serves: computing so many again would cost more)."""
        return bool(self.of) and self.same >= MIN_INT8_AGREEMENT * self.of and self.close <= MOST_CLOSE * self.of

    @property
    def refusal(self):
        """Why int8 may not serve, in words (None where it may)."""
        from core.messages import Message

        if self.serves:
            return None
        if not self.of:
            return Message("int8 had no held-out texts to be checked on")
        if self.same < MIN_INT8_AGREEMENT * self.of:
            return Message("int8 gave PyTorch's label on {same} of {of} held-out texts", same=self.same, of=self.of)
        if math.isinf(self.margin_error):
            return Message("int8's error could not be measured on training texts")
        return Message("int8 left {close} of {of} held-out answers too close to call", close=self.close, of=self.of)


RECHECK_FACTOR = 2.0
MOST_TEXTS = 200  # held-out texts checked, and training texts measured, per export
MIN_INT8_AGREEMENT = 0.98  # the share of held-out labels int8 must share with PyTorch fp32 to serve
MOST_CLOSE = 0.25  # int8 serves only where at most this share of held-out answers would be computed again in fp32


def check_texts(spec) -> tuple[list[str], list[str]]:
    """The texts int8 is checked on for the model ``spec``: held-out texts (its labels must match PyTorch's), at most
    MOST_TEXTS, from the split it was trained on here (else its task's, which a run on uploaded or Hub data may
    have seen), and training texts that are never scored (how far it moves the gaps): up to MOST_TEXTS of that
    split's and up to MOST_TEXTS more of its task's, less the held-out ones. ([], []) without a split."""
    from core.tasks.base import get_task, own_dataset

    try:
        task = get_task(spec.task)
        (split, _), (task_split, _) = task.held_out(own_dataset(spec)), task.held_out()
    except CoreError:
        return [], []
    held_out = [example.text for example in split.test][:MOST_TEXTS]
    seen = set(held_out)
    training = [example.text for example in split.train if example.text not in seen][:MOST_TEXTS]
    seen.update(training)
    return held_out, training + [example.text for example in task_split.train if example.text not in seen][:MOST_TEXTS]


def top_gap(row) -> float:
    """How far apart the two highest logits of one answer are (infinite for a single class; NaN where a logit is not
    a finite number, which no threshold passes: compare with ``not gap >= threshold`` to call it close)."""
    values = [float(value) for value in row]
    if not all(math.isfinite(value) for value in values):
        return math.nan
    ordered = sorted(values, reverse=True)
    return ordered[0] - ordered[1] if len(ordered) > 1 else math.inf


def agreement(found, model, tokenizer, texts: tuple[list[str], list[str]], max_tokens: int) -> Agreement:
    """int8's labels on the held-out ``texts[0]`` against PyTorch's, and the most it moves a gap between classes on
    the training ``texts[1]``. Measured once per export and kept next to it (a JSON file), so a restart does not
    measure again; a kept value out of range (a negative or NaN move, more texts than there are) is measured again."""
    import hashlib
    import json

    import onnxruntime

    held_out, training = texts
    record = found.path.with_suffix(".agreement.json")
    status = found.path.stat()
    # int8 kernels differ between CPUs and versions: measured again on another runtime or another file
    # … and again on other texts (a changed split), at another cut or threshold factor
    which = hashlib.sha256("\x00".join([*held_out, "\x01", *training]).encode("utf-8")).hexdigest()
    measured_on = {"texts": [len(held_out), len(training), which, max_tokens, RECHECK_FACTOR],
                   "file": [status.st_size, status.st_mtime_ns], "onnxruntime": onnxruntime.__version__, "cpu": _cpu()}  # fmt: skip
    try:
        kept = json.loads(record.read_text(encoding="utf-8"))
        found_before = Agreement(int(kept["same"]), len(held_out), float(kept["margin_error"]), int(kept["close"]))
        if ({key: kept.get(key) for key in measured_on} == measured_on and found_before.margin_error >= 0  # not NaN
                and 0 <= found_before.same <= len(held_out) and 0 <= found_before.close <= len(held_out)):  # fmt: skip
            return found_before
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    expected = _fp32_logits(model, tokenizer, [*held_out, *training], max_tokens)
    served = [_int8_logits(found, tokenizer, text, max_tokens) for text in [*held_out, *training]]
    pairs = list(zip(served[: len(held_out)], expected[: len(held_out)], strict=True))
    moves = [_moved(*pair) for pair in zip(served[len(held_out) :], expected[len(held_out) :], strict=True)]
    # no training text, or a logit that is not a number: every answer counts as close (and fp32 serves)
    margin_error = max(moves) if moves and all(math.isfinite(move) for move in moves) else math.inf
    same = sum(int(served.argmax() == expected.argmax()) for served, expected in pairs)
    close = sum(int(not top_gap(served) >= RECHECK_FACTOR * margin_error) for served, _expected in pairs)  # NaN: close
    from core.io import write_json_atomic

    write_json_atomic(record, {**measured_on, "same": same, "margin_error": margin_error, "close": close})
    return Agreement(same, len(held_out), margin_error, close)


def _int8_logits(found, tokenizer, text: str, max_tokens: int):
    """int8's logits for one text, alone in its pass (int8's activation scale is per pass), as it serves."""
    import numpy as np

    batch = tokenizer([text], truncation=True, max_length=max_tokens, return_tensors="np")
    return np.asarray(found.logits(batch), dtype=np.float64)[0]


def _fp32_logits(model, tokenizer, texts: list[str], max_tokens: int) -> list:
    """PyTorch's fp32 logits for each text, in padded passes of texts of similar token length cut as the classifier's
    own (``batching.padded_passes``: at most PADDED_TOKENS padded tokens a pass). The padding is masked, so each row
    is the text's own logits to about 1e-7, far below any move int8 makes; on the sentiment MiniLM's 200 check texts
    1.3 s against 3.0 s one text at a time. One text at a time where the tokenizer pads on the left (positions
    would shift) or cannot pad."""
    import numpy as np
    import torch

    if not texts:
        return []
    if tokenizer.pad_token is not None and getattr(tokenizer, "padding_side", "right") == "right":
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]]
        passes = padded_passes(lengths)
    else:
        passes = [[i] for i in range(len(texts))]
    found: list = [None] * len(texts)
    for chunk in passes:
        batch = tokenizer([texts[i] for i in chunk], truncation=True, max_length=max_tokens, padding=len(chunk) > 1,
                          return_tensors="pt")  # fmt: skip
        with torch.inference_mode():
            logits = model(**batch).logits.double().numpy()
        for row, i in enumerate(chunk):
            found[i] = np.asarray(logits[row])
    return found


def _moved(served, expected) -> float:
    """The most int8 moved the gap between its top class and another class (NaN where a logit is not finite)."""
    import numpy as np

    top = int(served.argmax())
    moved = np.abs((served - served[top]) - (expected - expected[top]))
    return float(moved.max()) if np.isfinite(moved).all() else float("nan")


def _cpu() -> str:
    """The processor's model name and instruction-set flags, as far as the system says (Linux: /proc/cpuinfo)."""
    import platform

    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    found = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in lines if ":" in line}
    flags = sorted(flag for flag in found.get("flags", "").split() if flag.startswith(("avx", "amx", "vnni")))
    return f"{found.get('model name', platform.machine())} {' '.join(flags)}"

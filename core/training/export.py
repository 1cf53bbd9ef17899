"""A trained model as a zip file: safetensors weights, config, tokenizer and the model card."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from pathlib import Path

from core.cards import labelled_examples
from core.catalog import cache_entry_dir, read_metadata
from core.errors import ModelUnavailableError
from core.messages import Message


def model_card(meta: dict) -> str:
    """A short README for the zip, in words, from the metadata."""
    metrics = meta.get("metrics", {})
    lines = [f"# {meta.get('title', meta.get('key'))}", "", meta.get("description", ""), ""]
    data = meta.get("data", {})
    used = labelled_examples(meta)  # a run may spend a sample of the split
    lines.append(f"- Data: {data.get('dataset')} — {used} labelled training examples ({data.get('validation_size', 0)} "
                 f"of them for validation), {data.get('test_size')} test (seed {data.get('seed')})")  # fmt: skip
    for name, estimate in metrics.items():
        lines.append(f"- {name}: {100 * estimate['value']:.1f} % (95 % CI {100 * estimate['low']:.1f}–"
                     f"{100 * estimate['high']:.1f}, n={estimate['n']})")  # fmt: skip
    lines.append(
        f"- Trained {meta.get('created_at')} on {meta.get('device')} in {meta.get('train_seconds')} s"
    )
    lines.append(f"- Hyperparameters: {json.dumps(meta.get('hyperparameters', {}))}")
    lines.append(f"- Versions: {json.dumps(meta.get('versions', {}))}")
    lines += ["", "Load it with:", "", "```python", "from transformers import pipeline",
              "classifier = pipeline('text-classification', model='path/to/this/folder')", "```", ""]  # fmt: skip
    return "\n".join(lines)


_ZIPPING = threading.Lock()  # one zip built at a time: a class clicking "Download" together waits for the first
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: entries carry no time of building
_LAST: dict = {}  # the last zip built, by (key, the model's files and their sizes and times): one copy in memory
KEEP_BYTES = 150_000_000  # a bigger zip (a run from a large Hub checkpoint) is built for each click, never kept


def zip_bytes(key: str) -> bytes:
    """The model's folder and its card as a zip. The weights are stored as they are (deflating them saved 8 % for
    3 s of CPU); entries carry a fixed date, so the same model gives the same bytes, and the last zip (up to
    ``KEEP_BYTES``) is kept: clicking again, or another session's click, costs nothing. A model retrained while it is
    zipped is zipped again. (A download button's callable that raises shows Streamlit's own "failed to generate"
    message; these errors' words reach the server's log.)"""
    folder = cache_entry_dir(key)
    missing = False
    for attempt in range(2):
        if attempt:
            time.sleep(0.2)  # outside the lock: perhaps the moment between a publish's two renames
        with _ZIPPING:
            try:
                found = _zip_once(key, folder)
            except FileNotFoundError:  # a file of the old folder gone while it was read
                missing = False
                continue
        if isinstance(found, bytes):
            return found
        missing = found == "missing"
    if missing:
        raise ModelUnavailableError(Message("Model {key} is not in the cache; train it first.", key=repr(key)))
    raise ModelUnavailableError(Message("Model {key} changed while it was being zipped; try again.", key=repr(key)))


def _zip_once(key: str, folder: Path) -> bytes | str:
    """The zip (the kept one if the files did not change), or why there is none: "missing" or "changed" (the caller
    holds ``_ZIPPING``)."""
    stamp = _stamp(key, folder)
    if _LAST.get("stamp") == stamp:
        return _LAST["data"]
    _LAST.clear()  # the old zip goes before the new one is built
    meta = read_metadata(key)
    if meta is None:
        return "missing"
    data = _zipped(key, folder, [Path(name) for name, _size, _time in stamp[1]], model_card(meta))
    if _stamp(key, folder) != stamp:
        return "changed"  # published anew while it was read: zipped again
    if len(data) <= KEEP_BYTES:
        _LAST.update(stamp=stamp, data=data)
    return data


def _stamp(key: str, folder: Path) -> tuple:
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return key, tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files)


def _zipped(key: str, folder, files: list, card: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in files:
            entry = zipfile.ZipInfo(f"{key}/{path.relative_to(folder)}", date_time=_FIXED_DATE)
            if path.suffix not in (".safetensors", ".onnx", ".bin"):  # weights stored, the rest deflated
                entry.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as source, archive.open(entry, "w", force_zip64=path.stat().st_size >= zipfile.ZIP64_LIMIT) as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
        entry = zipfile.ZipInfo(f"{key}/README.md", date_time=_FIXED_DATE)
        archive.writestr(entry, card, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()

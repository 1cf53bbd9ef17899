"""A trained model as a zip file: safetensors weights, config, tokenizer and the model card."""

from __future__ import annotations

import io
import json
import zipfile

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


def zip_bytes(key: str) -> bytes:
    meta = read_metadata(key)
    if meta is None:
        raise ModelUnavailableError(Message("Model {key} is not in the cache; train it first.", key=repr(key)))
    folder = cache_entry_dir(key)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{key}/{path.relative_to(folder)}")
        archive.writestr(f"{key}/README.md", model_card(meta))
    return buffer.getvalue()

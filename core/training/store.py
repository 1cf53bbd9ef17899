"""The model cache, written atomically.

A model is built in a hidden temporary folder next to its final place, its metadata file is
written last, and the folder is then renamed into place in one step. The app loads only
folders whose name is a plain key and which hold ``metadata.json``; a job killed halfway leaves
a hidden ``.tmp-*`` folder that nothing loads and the next job for that key removes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from core import cards, settings
from core.catalog import cache_entry_dir, validate_key
from core.loading import WEIGHTS_FILE, sha256_of

METADATA_FILE = cards.FILE


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def remove_leftovers(key: str) -> int:
    """Delete temporary and trash folders a killed job left for ``key``. Call while holding its train lock."""
    validate_key(key)
    removed = 0
    own = re.compile(rf"\.tmp-{re.escape(key)}-\d+-[0-9a-f]{{8}}|\.trash-{re.escape(key)}-[0-9a-f]{{8}}")
    for leftover in settings.models_dir().iterdir():
        if own.fullmatch(leftover.name):  # "zh-bert"'s leftovers are not those of "zh-bert-mlm"
            shutil.rmtree(leftover, ignore_errors=True)
            removed += 1
    return removed


def publish(key: str, build: Callable[[Path], dict]) -> Path:
    """Run ``build(folder)`` in a temporary folder, add hash and size, write the model card last, move into place."""
    final = cache_entry_dir(key)
    temporary = settings.models_dir() / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        metadata = build(temporary)
        weights = temporary / WEIGHTS_FILE
        if not weights.is_file():
            raise FileNotFoundError(f"Training wrote no {WEIGHTS_FILE}; nothing to publish.")
        metadata["sha256"] = sha256_of(weights)
        metadata["size_bytes"] = folder_size(temporary)
        metadata["model_type"] = _model_type(temporary)
        cards.write(temporary, metadata)
        trash = None
        if final.exists():
            trash = final.with_name(f".trash-{key}-{uuid.uuid4().hex[:8]}")
            os.rename(final, trash)
        os.rename(temporary, final)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _model_type(folder: Path) -> str:
    """The architecture transformers reads from the folder's config.json ("" where there is none)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(config.get("model_type", "")) if isinstance(config, dict) else ""


def delete(key: str) -> bool:
    """Remove a cache entry (atomically hidden first, then deleted)."""
    final = cache_entry_dir(key)
    if not final.exists():
        return False
    trash = final.with_name(f".trash-{key}-{uuid.uuid4().hex[:8]}")
    os.rename(final, trash)
    shutil.rmtree(trash, ignore_errors=True)
    from core.tasks.onnx_runtime import forget

    forget(key)  # its ONNX exports go with it
    return True

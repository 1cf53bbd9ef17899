"""A mini 20-Newsgroups sample shipped in the gensim wheel: 200 posts, alt.atheism vs sci.space.

The file is a zlib-compressed Python 2 pickle of a scikit-learn ``Bunch``. Unpickling can run
arbitrary code, so it is read with an unpickler that allows exactly the few classes this file
needs (a dict subclass, numpy arrays and their dtype) and refuses everything else.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import re
import zlib

import numpy as np

from core.catalog import package_path
from core.data.types import Example, Split, stratified
from core.errors import DataError
from core.messages import N_, Message

LOCATION = "package:gensim/test/test_data/mini_newsgroup"
TOPIC_NAMES = {"alt.atheism": "atheism", "sci.space": "space"}
TEST_SIZE = 50
SPLIT_SEED = 13


class _Bunch(dict):
    """Stands in for sklearn's Bunch: a dict whose keys are also attributes."""

    def __setstate__(self, state):
        self.update(state or {})


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_ALLOWED = {
    ("copy_reg", "_reconstructor"): lambda: copyreg._reconstructor,
    ("__builtin__", "dict"): lambda: dict,
    ("__builtin__", "object"): lambda: object,
    ("sklearn.datasets.base", "Bunch"): lambda: _Bunch,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        make = _ALLOWED.get((module, name))
        if make is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in this data file.")
        return make()


def restricted_loads(data: bytes):
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def _clean(post: str) -> str:
    """Drop the e-mail headers (From:, Subject: … up to the first blank line) and quoted lines; keep the body."""
    _, sep, body = post.partition("\n\n")
    body = body if sep else post
    lines = [line for line in body.splitlines() if not line.lstrip().startswith((">", "|"))]
    return re.sub(r"\s+", " ", " ".join(lines)).strip()


def load() -> tuple[list[Example], tuple[str, ...]]:
    path = package_path(LOCATION)
    try:
        bunch = restricted_loads(zlib.decompress(path.read_bytes()))
    except (OSError, zlib.error, pickle.UnpicklingError, EOFError) as error:
        raise DataError(Message("Could not read gensim's mini newsgroups file: {error}. Reinstall gensim.",
                                error=str(error)[:200])) from None  # fmt: skip
    names = [TOPIC_NAMES.get(str(name), str(name)) for name in bunch["target_names"]]
    examples = []
    for text, target in zip(bunch["data"], bunch["target"], strict=True):
        body = _clean(text if isinstance(text, str) else text.decode("latin-1"))
        if len(body) >= 20:
            examples.append(Example(text=body, label=names[int(target)]))
    if len(examples) < 100:
        raise DataError(f"Expected about 200 newsgroup posts, found {len(examples)}.")
    return examples, tuple(names)


def split(*, test_size: int = TEST_SIZE, seed: int = SPLIT_SEED) -> tuple[Split, tuple[str, ...]]:
    examples, labels = load()
    data = stratified(
        examples, labels, test_size=test_size, seed=seed, dataset=N_("mini-newsgroups (gensim test data)")
    )
    return data, labels

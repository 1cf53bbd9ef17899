"""Load a catalogued model: verified weights, safetensors only, no remote code.

Packaged weights must match the sha256 pinned in the catalog; trained-here weights must
match the sha256 written into their metadata when training finished. A mismatch is refused
before a single byte reaches torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from pathlib import Path

from core import catalog, settings
from core.catalog import HUB, PACKAGED, TRAINED, ModelSpec
from core.errors import IntegrityError, ModelUnavailableError
from core.messages import Message

WEIGHTS_FILE = "model.safetensors"

_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: str) -> None:
    """Raise ``IntegrityError`` unless ``path`` hashes to ``expected``.

    The result is remembered per (path, size, mtime), so a file is hashed once per process
    unless it changes.
    """
    try:
        stat = path.stat()
    except OSError as error:
        raise ModelUnavailableError(Message("Weight file {name} is missing: {error}.", name=repr(path.name),
                                            error=str(error.strerror))) from None  # fmt: skip
    marker = (str(path), stat.st_size, stat.st_mtime_ns)
    with _verified_lock:
        known = _verified.get(marker)
    actual = known or sha256_of(path)
    if actual != expected:
        raise IntegrityError(
            f"Refusing to load {path.parent.name}/{path.name}: its sha256 is {actual[:12]}…, "
            f"expected {expected[:12]}…. The file was changed or damaged; reinstall the package "
            "(pip install --force-reinstall -r requirements.txt) or retrain the model."
        )
    with _verified_lock:
        _verified[marker] = actual


def local_dir(spec: ModelSpec) -> Path:
    """The verified local folder of a packaged or trained model."""
    if spec.source == PACKAGED:
        path = catalog.package_path(spec.location)
        if spec.sha256 is None:
            raise IntegrityError(f"Packaged model {spec.key!r} has no pinned sha256; refusing to load it.")
        verify_file(path / WEIGHTS_FILE, spec.sha256)
        return path
    if spec.source == TRAINED:
        meta = catalog.read_metadata(spec.key)
        if meta is None:
            raise ModelUnavailableError(
                f"Model {spec.key!r} is not trained yet on this machine. Train it from its page "
                f"or run: python -m core.train --model {spec.key}"
            )
        path = catalog.cache_entry_dir(spec.key)
        expected = meta.get("sha256")
        if not expected:
            raise IntegrityError(Message("Cache entry {key} has no recorded sha256; retrain it.", key=repr(spec.key)))
        verify_file(path / WEIGHTS_FILE, expected)
        return path
    raise ModelUnavailableError(f"Model {spec.key!r} comes from the Hub and has no local folder.")


def _quiet_transformers() -> None:
    """Loading reports and weight-loading bars go to the server log otherwise; LM Lab reports its own way."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def model_source(spec: ModelSpec) -> tuple[str, dict]:
    """What to pass to ``from_pretrained``: a verified folder, or a validated Hub id when online."""
    common = {"trust_remote_code": False, "use_safetensors": True}
    if spec.source == HUB:
        if not settings.current_mode().online:
            raise ModelUnavailableError(
                f"{spec.title} needs internet and LM Lab is offline ({settings.current_mode().reason}). "
                "Pick a packaged or trained-here model."
            )
        return catalog.validate_hub_id(spec.location), common
    return str(local_dir(spec)), {**common, "local_files_only": True}


# One model load at a time in this process. ``from_pretrained`` builds a model on torch's "meta" device
# and then fills in its weights, and two loads in two threads at once interfere: in the classroom load
# test, two sessions opening Translate and Generate together got a translation model with weights left
# on the meta device ("Tensor on device cpu is not on the expected device meta!") and a language model
# that sampled from NaN probabilities. Loads are rare and cached: serialising them costs little.
LOAD_LOCK = threading.RLock()


def from_transformers(name: str):
    """A class or function of transformers, first resolved under LOAD_LOCK.

    transformers' top-level module resolves its names lazily, and that is not thread-safe: on a fresh
    server, sessions asking for different classes at the same moment get ``ImportError: cannot import
    name 'AutoModel'`` (7 to 10 of 14 threads in a fresh interpreter; the classroom load test met it
    when five students opened five pages at once). Every import of transformers in the server goes here (the training child processes, one thread
    each, import it directly).
    """
    with LOAD_LOCK:
        import transformers

        return getattr(transformers, name)


def load_tokenizer(spec: ModelSpec):
    """``spec``'s tokenizer; a missing or damaged tokenizer file (a hand-edited cache, a disk error) is a
    ModelUnavailableError, said in words like a damaged config."""
    source, kwargs = model_source(spec)
    kwargs.pop("use_safetensors", None)
    try:
        with LOAD_LOCK:
            return from_transformers("AutoTokenizer").from_pretrained(source, **kwargs)
    except Exception as error:  # noqa: BLE001 - JSON, Rust and OS errors alike: the file cannot be read as a tokenizer
        logging.getLogger(__name__).warning("Could not load the tokenizer of %s", spec.key, exc_info=True)
        raise ModelUnavailableError(Message("Could not load {model}'s tokenizer: {error}", model=spec.title,
                                            error=str(error)[:300])) from None  # fmt: skip


def read_tokenizer(folder: Path):
    """A model folder's tokenizer.json, read with the tokenizers library (no transformers to wait for); a missing or
    damaged file is a ModelUnavailableError."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as error:  # noqa: BLE001 - the Rust library raises a bare Exception for a missing or damaged file
        raise ModelUnavailableError(Message("{name}'s tokenizer could not be read ({error}); retrain it or reinstall "
                                            "LM Lab's packages.", name=f"{folder.parent.name}/{folder.name}",
                                            error=str(error)[:200])) from None  # fmt: skip


_HANDED: dict[tuple, object] = {}  # a model loaded ahead of its first visitor (core.warmup), for the next who asks


def _load(auto_class, spec: ModelSpec, eager_attention: bool, place: bool = True, keep: bool = False):
    """Tokenizer and model in eval mode, on the serving device and precision (``core.device.place``) unless
    ``place`` is False (an ONNX export or an int8 quantisation needs the CPU fp32 copy). With ``keep`` (the warm-up)
    the model is also kept for the next identical load, which takes it instead of loading it again."""
    _quiet_transformers()
    source, kwargs = model_source(spec)
    if eager_attention:
        kwargs["attn_implementation"] = "eager"  # SDPA kernels return no attention weights
    handoff = (spec.key, str(source), auto_class.__name__, eager_attention)
    try:
        with LOAD_LOCK:  # a load waiting on the warm-up's finds its model here once the lock is let go
            model = _HANDED.pop(handoff, None) if place else None
            if model is None:
                model = auto_class.from_pretrained(source, **kwargs)
                if keep:
                    _HANDED[handoff] = model
    except OSError as error:
        raise ModelUnavailableError(Message("Could not load {model}: {error}", model=spec.title,
                                            error=str(error)[:300])) from None  # fmt: skip
    model.eval()
    if place:
        from core.device import place as to_serving_device

        to_serving_device(model)
    return load_tokenizer(spec), model


def load_classifier(spec: ModelSpec, *, eager_attention: bool = False, place: bool = True):
    """Tokenizer and sequence-classification model in eval mode, on the serving device (the CPU, fp32 unless
    a GPU or ``LMLAB_PRECISION`` says otherwise) or, with ``place=False``, on the CPU in fp32."""
    return _load(from_transformers("AutoModelForSequenceClassification"), spec, eager_attention, place)


def load_encoder(spec: ModelSpec, *, eager_attention: bool = False, place: bool = True, keep: bool = False):
    """Tokenizer and bare encoder (no task head) in eval mode (``keep``: see ``_load``)."""
    return _load(from_transformers("AutoModel"), spec, eager_attention, place, keep)


def token_limit(tokenizer, model) -> int:
    """The most tokens this model accepts, capped by LM Lab's own limit."""
    candidates = [settings.limits().max_tokens]
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        candidates.append(positions)
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 1_000_000:
        candidates.append(declared)
    return min(candidates)


def load_seq2seq(spec: ModelSpec, *, eager_attention: bool = False, place: bool = True):
    """Tokenizer and encoder-decoder (translation) model in eval mode."""
    return _load(from_transformers("AutoModelForSeq2SeqLM"), spec, eager_attention, place)


def load_token_classifier(spec: ModelSpec, *, eager_attention: bool = False, place: bool = True):
    """Tokenizer and token-classification (SRL tagging) model in eval mode."""
    return _load(from_transformers("AutoModelForTokenClassification"), spec, eager_attention, place)


def load_causal_lm(spec: ModelSpec, *, eager_attention: bool = False, place: bool = True):
    """Tokenizer and causal language model in eval mode."""
    return _load(from_transformers("AutoModelForCausalLM"), spec, eager_attention, place)


def load_masked_lm(spec: ModelSpec, *, eager_attention: bool = False, place: bool = True):
    """Tokenizer and masked language model (a BERT with its word-prediction head) in eval mode."""
    return _load(from_transformers("AutoModelForMaskedLM"), spec, eager_attention, place)


def checkpointing_argument() -> str:
    """TrainingArguments' name for activation checkpointing: ``activation_checkpointing`` where this transformers
    has it (``gradient_checkpointing``, its older name, warns there), else ``gradient_checkpointing``."""
    import dataclasses

    names = {option.name for option in dataclasses.fields(from_transformers("TrainingArguments"))}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


@contextlib.contextmanager
def eager_attention(model):
    """The model computes attention in plain PyTorch for a moment (SDPA kernels return no weights, and traced into
    ONNX they make a slower graph), then as before; the caller holds the model, so no other request sees the switch."""
    before = getattr(model.config, "_attn_implementation", None)
    if before in (None, "eager"):
        yield
        return
    try:
        model.set_attn_implementation("eager")
        yield
    finally:  # also after a switch that failed half-way
        model.set_attn_implementation(before)

"""Which device runs the models, in which precision, on how many threads.

This module imports torch; the app's Home page asks for this information through
``python -m core.device`` in a child process so that the page itself never loads torch.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from dataclasses import asdict, dataclass

import torch

from core import settings


@dataclass(frozen=True)
class DeviceInfo:
    device: str  # "cuda", "mps" or "cpu"
    name: str  # human-readable accelerator or processor name
    # Precision for training: bf16 mixed precision where the GPU supports it (no loss scaling needed); fp16 on older
    # GPUs; fp32 on a CPU and Apple's MPS (mixed precision there is still fragile), unless ``LMLAB_TRAIN_PRECISION=bf16``
    # asks for bf16 on a CPU that computes it in hardware (``native_cpu_bf16``; for runs of at most
    # CPU_BF16_MAX_LENGTH tokens: see ``training_precision``).
    train_dtype: str
    # Precision for inference: fp32 unless ``LMLAB_PRECISION`` asks for bf16/fp16 (see inference_placement).
    infer_dtype: str
    threads: int
    torch_version: str
    gpu_count: int
    memory_gb: float | None


def _mps() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device() -> str:
    """``LMLAB_DEVICE`` when that device is there (a forced device that is not falls back, with a warning in the
    log: the sidebar shows what was chosen), else CUDA, then Apple's MPS, else the CPU."""
    forced = os.environ.get("LMLAB_DEVICE", "").strip().lower()
    if forced == "cpu" or (forced == "cuda" and torch.cuda.is_available()) or (forced == "mps" and _mps()):
        return forced
    if forced:
        import logging

        logging.getLogger(__name__).warning("LMLAB_DEVICE=%s is not available here; choosing another device", forced)
    if torch.cuda.is_available():
        return "cuda"
    if _mps():
        return "mps"
    return "cpu"


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16() -> bool:
    """Whether this GPU computes bf16 in hardware (Ampere and later); older ones only emulate it, slowly."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a torch without the argument
        return torch.cuda.is_bf16_supported()


@functools.cache  # read once per process: the Compute page asks on every rerun
def native_cpu_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware, as far as LM Lab can tell: Intel AMX or AVX-512 BF16 in the flags
    Linux lists (False on other systems, and on ARM CPUs, whose bf16 LM Lab has not measured)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except (OSError, IndexError):
        return False
    return bool({"amx_bf16", "avx512_bf16"} & set(flags))


# The longest runs a CPU trains in bf16 (with LMLAB_TRAIN_PRECISION=bf16). Measured here (AMX, one thread, one
# training step), bf16 mixed precision with attention in plain operations against fp32 with PyTorch's fused attention:
# MiniLM, 16 × 64 tokens, 405 against 721 ms; the translation model (a 2+2-layer BART of width 128), 32 × 20 tokens,
# 43 against 52 ms. With the fused attention bf16 was slower there (89 ms: its backward pass in bf16 took three times
# fp32's), so bf16 runs compute attention in plain operations, which keep each layer's attention weights for the
# backward pass, a cost that grows with the square of the length (not measured past 128 tokens): longer runs keep
# fp32 and the fused attention.
CPU_BF16_MAX_LENGTH = 128


def cpu_bf16_wanted() -> bool:
    """``LMLAB_TRAIN_PRECISION=bf16``: train on the CPU in bf16 mixed precision where it computes bf16 in hardware
    (by default fp32, in which every number the README gives for training on a CPU was measured)."""
    return os.environ.get("LMLAB_TRAIN_PRECISION", "").strip().lower() == "bf16"


def training_precision(info: DeviceInfo, max_length: int) -> str:
    """"bf16", "fp16" or "fp32": the precision a run of ``max_length`` tokens trains in on the device ``info``
    describes (``train_dtype``), except that a CPU trains runs longer than CPU_BF16_MAX_LENGTH tokens in fp32."""
    if info.device == "cpu" and info.train_dtype == "bf16" and max_length > CPU_BF16_MAX_LENGTH:
        return "fp32"
    return info.train_dtype


def inference_placement() -> tuple[str, str]:
    """Where the served models compute and in which precision: ("cuda", "fp32"), ("cpu", "fp32") ….

    The device is ``pick_device()``'s. The precision is fp32 unless ``LMLAB_PRECISION`` asks for ``bf16`` or
    ``fp16``: halving changes a few answers (the benchmark's ``@cuda-bf16`` rows say how many), so it is a
    choice, never a default. bf16 on a GPU without it becomes fp16; on a CPU, fp16 becomes bf16 (CPUs have
    no fast fp16 kernels).
    """
    device = pick_device()
    wanted = os.environ.get("LMLAB_PRECISION", "").strip().lower()
    precision = wanted if wanted in PRECISIONS else "fp32"
    if device == "cuda" and precision == "bf16" and not native_bf16():
        precision = "fp16"
    newer = getattr(getattr(torch.backends, "mps", None), "is_macos_or_newer", None)
    if device == "mps" and precision == "bf16" and not (newer and newer(14, 0)):  # MPS has bf16 from macOS 14
        precision = "fp16"
    if device == "cpu" and precision == "fp16":
        precision = "bf16"
    return device, precision


def _move_inputs(module, args, kwargs):
    """A forward pre-hook: the call's tensors go to the device of the model's weights, wherever it is now."""
    weight = next(module.parameters(), None)
    if weight is None or weight.device.type == "cpu" and not _on_other_device(args, kwargs):
        return None
    device = weight.device

    def move(value):  # top-level tensors only: encoder outputs and caches that generate passes keep their types
        return value.to(device) if isinstance(value, torch.Tensor) and value.device != device else value

    return tuple(move(arg) for arg in args), {name: move(item) for name, item in kwargs.items()}


def _on_other_device(args, kwargs) -> bool:
    return any(isinstance(v, torch.Tensor) and v.device.type != "cpu" for v in (*args, *kwargs.values()))


def follows_inputs(model):
    """Make ``model`` take each call's input tensors to its own device (once per model; idempotent). Pages and
    tasks build inputs on the CPU (``model(**batch)``); a model LM Lab placed on a GPU, or one ``Trainer`` left
    there after training, answers on its device, and callers bring results back with
    ``core.tasks.inputs.to_cpu``. ``generate`` builds tensors of its own from its inputs' device: its callers
    move the inputs first (``core.tasks.inputs.inputs_for``)."""
    if not getattr(model, "_lmlab_follows_inputs", False):
        model.register_forward_pre_hook(_move_inputs, with_kwargs=True)
        model._lmlab_follows_inputs = True
    return model


def place(model, placement: tuple[str, str] | None = None):
    """``model`` on the serving device and precision (``inference_placement()`` unless given), in place, taking
    its inputs there (``follows_inputs``)."""
    device, precision = placement or inference_placement()
    dtype = PRECISIONS[precision]
    if device != "cpu" or dtype != torch.float32:
        model.to(device=device, dtype=dtype)
    return follows_inputs(model)


def precision_of(model) -> str:
    """"fp32", "bf16" or "fp16": the precision of a model's weights (LM Lab's placement decides it)."""
    weight = next(model.parameters(), None) if model is not None else None
    dtype = str(weight.dtype).removeprefix("torch.") if weight is not None else "float32"
    return {"bfloat16": "bf16", "float16": "fp16"}.get(dtype, "fp32")


def placement_title(placement: tuple[str, str] | None = None) -> str:
    """'PyTorch fp32', 'PyTorch bf16 on cuda': what computes an answer, for the pages and the benchmark."""
    device, precision = placement or inference_placement()
    return f"PyTorch {precision}" + ("" if device == "cpu" else f" on {device}")


def configure_threads() -> int:
    """Use every core we are given (``LMLAB_THREADS`` overrides) and return the count."""
    wanted = os.environ.get("LMLAB_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        torch.set_num_threads(int(wanted))
    return torch.get_num_threads()


def threads_for_serving() -> int:
    """Torch threads for a server whose requests run in many threads: ``core.settings.serving_threads()``, 1 unless
    set. Streamlit runs every script run in a thread of its own, and every thread that runs parallel torch code owns
    an OpenMP worker team of its own; with a page thread's team beside another thread's, libgomp manages more
    threads than there are cores and stops spin-waiting, so idle workers sleep and every small op pays a wake-up.
    Measured on 2 cores: a translation request took 60 ms in a page's thread with 2 threads against 20 ms in the
    main thread (the only team), and 21 ms in either with 1 thread; sessions running side by side fill the cores
    instead. Threads that already ran torch keep their count; new ones take this one. Training runs in processes of
    its own and keeps every core."""
    torch.set_num_threads(settings.serving_threads())
    return torch.get_num_threads()


def describe() -> DeviceInfo:
    device = pick_device()
    threads = configure_threads()
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        train_dtype = "bf16" if native_bf16() else "fp16"
        return DeviceInfo(
            device=device,
            name=props.name,
            train_dtype=train_dtype,
            infer_dtype=inference_placement()[1],
            threads=threads,
            torch_version=torch.__version__,
            gpu_count=torch.cuda.device_count(),
            memory_gb=round(props.total_memory / 2**30, 1),
        )
    name = "Apple GPU (MPS)" if device == "mps" else _cpu_name()
    cpu_bf16 = device == "cpu" and cpu_bf16_wanted()
    if cpu_bf16 and not native_cpu_bf16():
        import logging

        cpu_bf16 = False
        logging.getLogger(__name__).warning("LMLAB_TRAIN_PRECISION=bf16: this CPU does not compute bf16 in hardware, "
                                            "so LM Lab trains in fp32 (emulated bf16 would be slower)")  # fmt: skip
    return DeviceInfo(
        device=device,
        name=name,
        train_dtype="bf16" if cpu_bf16 else "fp32",
        infer_dtype=inference_placement()[1],
        threads=threads,
        torch_version=torch.__version__,
        gpu_count=0,
        memory_gb=None,
    )


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def library_versions() -> dict[str, str]:
    """The versions that decide a result, recorded with every trained model and benchmark run."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "torch": torch.__version__}
    for package in ("transformers", "accelerate", "scikit-learn"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    return found


def mixed_precision_flags(precision: str) -> dict[str, bool]:
    """``TrainingArguments`` flags for a run's training precision (``training_precision``)."""
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


if __name__ == "__main__":
    json.dump(asdict(describe()), sys.stdout)
    sys.stdout.write("\n")

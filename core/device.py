"""Which device runs the models, in which precision, on how many threads.

This module imports torch; the app's Home page asks for this information through
``python -m core.device`` in a child process so that the page itself never loads torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    device: str  # "cuda", "mps" or "cpu"
    name: str  # human-readable accelerator or processor name
    # Precision for training: bf16 where the GPU supports it (no loss scaling needed),
    # fp16 on older GPUs, fp32 on CPU and Apple's MPS (mixed precision there is still fragile).
    train_dtype: str
    # Precision for inference: fp32 everywhere; small models gain little from halving and
    # fp32 keeps results identical between the page, the tests and the benchmark.
    infer_dtype: str
    threads: int
    torch_version: str
    gpu_count: int
    memory_gb: float | None


def pick_device() -> str:
    forced = os.environ.get("LMLAB_DEVICE", "").strip().lower()
    if forced in {"cpu", "cuda", "mps"}:
        return forced
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def configure_threads() -> int:
    """Use every core we are given (``LMLAB_THREADS`` overrides) and return the count."""
    wanted = os.environ.get("LMLAB_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        torch.set_num_threads(int(wanted))
    return torch.get_num_threads()


def describe() -> DeviceInfo:
    device = pick_device()
    threads = configure_threads()
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        train_dtype = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return DeviceInfo(
            device=device,
            name=props.name,
            train_dtype=train_dtype,
            infer_dtype="fp32",
            threads=threads,
            torch_version=torch.__version__,
            gpu_count=torch.cuda.device_count(),
            memory_gb=round(props.total_memory / 2**30, 1),
        )
    name = "Apple GPU (MPS)" if device == "mps" else _cpu_name()
    return DeviceInfo(
        device=device,
        name=name,
        train_dtype="fp32",
        infer_dtype="fp32",
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


def mixed_precision_flags(info: DeviceInfo) -> dict[str, bool]:
    """``TrainingArguments`` flags for the device's training precision."""
    return {"bf16": info.train_dtype == "bf16", "fp16": info.train_dtype == "fp16"}


if __name__ == "__main__":
    json.dump(asdict(describe()), sys.stdout)
    sys.stdout.write("\n")

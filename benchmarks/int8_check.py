"""Does serving int8, with its close calls computed again in fp32, give PyTorch fp32's labels on held-out texts?

    python benchmarks/int8_check.py [--cache DIR] [--models sentiment-minilm,topic-minilm,sentiment-zh-pieces,...]

For each classifier of the cache (those named, or every trained one LM Lab serves by ONNX Runtime): the threshold
the server sets (twice the most int8 moved the gap between its top class and another, on up to 200 training
texts), then every held-out text of the split it was trained on answered three ways — PyTorch fp32, int8 alone, and int8 as served
(close calls computed again) — one text per request, as a page asks. Printed per model: how many labels int8
alone and int8 as served give that fp32 does not, the share of answers computed again, and the held-out accuracy
of each way. The held-out texts do not set the threshold (they decide only whether int8 serves at all), so the
count for int8 as served is a measurement, not true by construction. Texts over the server's character cap are
left out, as a page would refuse them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def check(key: str) -> str:
    """One model's table row."""
    from core import catalog, settings
    from core.tasks.base import get_task, own_dataset
    from core.tasks.classify import TransformerClassifier

    spec = catalog.get_spec(key)
    served = TransformerClassifier(spec, runtime="onnx-int8")
    if served.runtime != "onnx-int8":
        return f"| {key} | int8 does not serve it: {served.runtime_note} | | | | | | |"
    fp32 = TransformerClassifier(spec, runtime="torch")
    split, _ = get_task(spec.task).held_out(own_dataset(spec))  # the split it was trained on here, as the server checks
    limit = settings.limits().max_chars
    examples = [example for example in split.test if len(example.text) <= limit]
    texts, truth = [e.text for e in examples], [e.label for e in examples]
    expected = [answer.label for answer in fp32.predict_batch(texts)]
    served.rechecked = 0
    as_served = [served.predict(text) for text in texts]
    again = served.rechecked  # the close calls among them, computed again in fp32
    threshold, served.recheck_below = served.recheck_below, 0.0  # int8 alone: nothing computed again
    alone = [served.predict(text).label for text in texts]
    served.recheck_below = threshold

    def accuracy(labels: list[str]) -> str:
        return f"{100 * sum(a == b for a, b in zip(labels, truth, strict=True)) / len(truth):.1f} %"

    differ = [sum(a != b for a, b in zip(labels, expected, strict=True)) for labels in (alone, [a.label for a in as_served])]
    return (f"| {key} | {len(texts)} | {threshold:.3g} | {differ[0]} | {differ[1]} | {100 * again / len(texts):.1f} % | "
            f"{accuracy(expected)} | {accuracy(alone)} / {accuracy([a.label for a in as_served])} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "lmlab-classroom-cache")
    parser.add_argument("--models", default="", help="comma-separated keys (default: every trained classifier)")
    args = parser.parse_args(argv)
    os.environ.update(LMLAB_CACHE_HOME=str(args.cache), LMLAB_OFFLINE="1")
    import torch

    from core import catalog, settings
    from core.device import threads_for_serving
    from core.tasks.base import CLASSIFICATION, get_task

    settings.decide_mode()
    torch.set_num_threads(threads_for_serving())  # as the server runs its passes
    keys = [key.strip() for key in args.models.split(",") if key.strip()] or [
        spec.key for spec in catalog.all_specs() if spec.trained_here and spec.kind == "transformers"
        and get_task(spec.task).family == CLASSIFICATION and catalog.read_metadata(spec.key) is not None]  # fmt: skip
    print("| model | held-out texts | threshold (logits) | int8 alone: labels unlike fp32's | as served | "
          "computed again | accuracy fp32 | int8 alone / as served |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        print(check(key), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

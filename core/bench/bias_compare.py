"""The Bias page's probes, compared: the same templates and terms put to one classifier computed three ways (PyTorch
fp32, ONNX Runtime fp32 and int8, as LM Lab can serve it) and to the baselines (TF-IDF + logistic regression fitted
on the model's training split; the VADER lexicon for English polarity).

A bag of words and a lexicon can be biased too: TF-IDF learns a weight for every word of its training texts, so a
group term that happened to sit in more positive training sentences carries that into every template; VADER gives a
term a score only when its lexicon lists it. From the app the comparison runs in a process of its own, like a
benchmark (``python -m core.bench.bias_compare``; counted against the benchmark job limit), so the server's memory
does not pay for three more copies of the model. A row that cannot be computed (a model too large to export, a
class the baseline lacks) is reported with its reason; the others stand.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from core import catalog, settings
from core.bench import adapters, attack
from core.errors import CoreError
from core.tasks import bias


@dataclass(frozen=True)
class Request:
    """What the page asked: the probes' sentences and the class whose probability is compared."""

    templates: tuple[str, ...]
    group_a: tuple[str, ...]
    group_b: tuple[str, ...]
    label: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Request:
        data = json.loads(text)
        found = cls(*(tuple(str(x) for x in data[name]) for name in ("templates", "group_a", "group_b")), str(data["label"]))
        # the page's caps, checked again on the lines as they came (the page cleaned them already)
        lines = (*found.templates, *found.group_a, *found.group_b)
        if not (1 <= len(found.templates) <= bias.MAX_TEMPLATES and 1 <= len(found.group_a) <= bias.MAX_TERMS
                and 1 <= len(found.group_b) <= bias.MAX_TERMS) or any(len(line) > bias.MAX_LINE_CHARS for line in lines):
            raise CoreError("The probes are over the page's caps.")
        if any(line.count(bias.PLACEHOLDER) != 1 for line in found.templates):
            raise CoreError("Every template needs its placeholder exactly once.")
        return found


def probe_row(model_id: str, dataset: str, request: Request) -> bias.ProbeResult:
    """The probes put to one benchmark row (``key@variant``, TF-IDF + LR fitted on ``dataset``'s training split, or
    VADER)."""
    split, labels = attack._split_of(dataset)
    adapter = adapters.make(model_id, labels, [e.text for e in split.train], [e.label for e in split.train])
    return bias.probe(attack.classify_with(adapter, labels), request.templates, request.group_a, request.group_b,
                      request.label)  # fmt: skip


def compare(spec: catalog.ModelSpec, dataset: str, request: Request, report: Callable[[float], None] = lambda share: None,
            sha256: str | None = None) -> dict[str, bias.ProbeResult | str]:  # fmt: skip
    """``probe_row`` on every row of ``attack.compared``, one after another (each model loaded, probed and let go);
    a row that fails gives its reason instead. With ``sha256``, a retrain of the model during the run fails it."""
    rows = attack.compared(spec, dataset)
    found: dict[str, bias.ProbeResult | str] = {}
    for n, model_id in enumerate(rows):
        report(n / len(rows))
        try:
            found[model_id] = probe_row(model_id, dataset, request)
        except CoreError as error:
            found[model_id] = str(error)
        if sha256 is not None and catalog.weights_sha256(spec) != sha256:
            raise CoreError("The model was retrained during the probes: run them again.")
    report(1.0)
    return found


_FIELDS = ("label", "gap", "gap_low", "gap_high", "p_value", "flip_share", "flip_pairs", "flip_low", "flip_high")


def to_json(found: dict[str, bias.ProbeResult | str]) -> dict:
    out: dict = {}
    for model_id, result in found.items():
        if isinstance(result, str):
            out[model_id] = result
            continue
        out[model_id] = {name: getattr(result, name) for name in _FIELDS} | {
            "templates": list(result.templates), "group_a": list(result.group_a), "group_b": list(result.group_b),
            "probabilities": result.probabilities.tolist(), "predictions": result.predictions}  # fmt: skip
    return out


def from_json(data: dict) -> dict[str, bias.ProbeResult | str]:
    out: dict[str, bias.ProbeResult | str] = {}
    for model_id, row in data.items():
        if isinstance(row, str):
            out[model_id] = row
            continue
        out[model_id] = bias.ProbeResult(
            tuple(row["templates"]), tuple(row["group_a"]), tuple(row["group_b"]), row["label"],
            np.array(row["probabilities"], dtype=float), row["predictions"], row["gap"], row["gap_low"], row["gap_high"],
            row["p_value"], row["flip_share"], row["flip_pairs"], row["flip_low"], row["flip_high"])  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m core.bench.bias_compare --model KEY --dataset NAME --probes JSON --sha256 S --out FILE
    --progress-file FILE``."""
    from core.bench import background

    return background.child_main(argv, "core.bench.bias_compare", __doc__, ("--model", "--dataset", "--probes"),
                                 "probing", lambda args, report: to_json(compare(
                                     catalog.get_spec(args.model), args.dataset, Request.from_json(args.probes),
                                     report, sha256=args.sha256)))  # fmt: skip


if __name__ == "__main__":
    settings.decide_mode()
    sys.exit(main())

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

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

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
        # the page's caps, checked again (its lines were cleaned there already: they are used as they came)
        bias.parse_lines("\n".join(found.templates), bias.MAX_TEMPLATES, "templates", need=bias.PLACEHOLDER)
        for terms, what in ((found.group_a, "terms in group A"), (found.group_b, "terms in group B")):
            bias.parse_lines("\n".join(terms), bias.MAX_TERMS, what)
        if len(found.templates) > bias.MAX_TEMPLATES or max(len(found.group_a), len(found.group_b)) > bias.MAX_TERMS:
            raise CoreError("Too many templates or terms.")
        if not all(len(line) <= bias.MAX_LINE_CHARS for line in (*found.templates, *found.group_a, *found.group_b)):
            raise CoreError("A line of the probes is too long.")
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
    from core.io import write_json_atomic

    parser = argparse.ArgumentParser(prog="python -m core.bench.bias_compare", description=__doc__.split("\n\n")[0])
    for name in ("--model", "--dataset", "--probes", "--out", "--progress-file"):
        parser.add_argument(name, required=True)
    parser.add_argument("--sha256")
    args = parser.parse_args(argv)
    progress = Path(args.progress_file)

    def report(fraction: float) -> None:
        write_json_atomic(progress, {"state": "running", "fraction": fraction, "message": "probing"})

    try:
        found = compare(catalog.get_spec(args.model), args.dataset, Request.from_json(args.probes), report,
                        sha256=args.sha256)  # fmt: skip
    except (CoreError, ValueError, KeyError, TypeError) as error:
        write_json_atomic(progress, {"state": "failed", "fraction": 1.0, "message": str(error)[:300]})
        return 2
    write_json_atomic(Path(args.out), to_json(found))
    write_json_atomic(progress, {"state": "done", "fraction": 1.0, "message": "done"})
    return 0


if __name__ == "__main__":
    settings.decide_mode()
    sys.exit(main())

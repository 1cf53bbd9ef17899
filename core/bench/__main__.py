"""Benchmark models side by side from the command line; the same table as the Evaluate page, for every task.

    python -m core.bench --task sentiment --models sentiment-minilm,sentiment-minilm@int8,vader,baseline:tfidf-lr \\
        --baseline vader --out results.csv

Model ids: catalog keys (add @int8, @bf16, @eager, @onnx or @onnx-int8 for a precision, attention or
runtime variant) and the
baselines baseline:majority, baseline:tfidf-lr, baseline:zero-shot. Tasks translation, srl and
generation score chrF, span F1 and perplexity per word (variants @beam4, @int8 and, for translation, @onnx; the baseline
baseline:kneser-ney for generation). Writes CSV (or JSON when the
name ends in .json), keeps the run in the cache, prints the table.

    python -m core.bench --attack 3 --models sentiment-minilm,sentiment-tiny

runs the Robustness page's typing-mistake attack instead on each classifier's own held-out texts (the run itself
goes to 5 edits per text, as on the page) and prints accuracy before and with at most 3 edits, with 95 % Wilson
intervals: a key as LM Lab serves it, key@fp32 / key@onnx / key@onnx-int8 for one runtime (each on the model's own
dataset), and baselines (baseline:tfidf-lr fitted on the training split of --task's first dataset; vader), each
attacked through its own answers; the dataset column says which texts each row read. The seconds include loading
the model (and exporting it, or fitting the baseline).
"""

from __future__ import annotations

import argparse
import json
import sys

from core import settings
from core.errors import CoreError
from core.tasks.base import names


def _write_and_print(result, out: str | None) -> None:
    """The rows to ``out`` (CSV, or JSON when it ends in .json), and one table for every task on the terminal."""
    import pandas as pd

    rows = [dict(row) for row in result.rows]
    table = pd.DataFrame(rows)
    if out:
        if out.endswith(".json"):
            with open(out, "w", encoding="utf-8") as handle:
                json.dump(rows, handle, indent=2)
        else:
            table.to_csv(out, index=False)
    # one table for every task: its metric as value [low, high], then what only some tasks have
    first = result.rows[0]
    extras = [name for name in ("macro_f1", "secondary") if name in first]
    columns = ["model", "value", "low", "high", *extras, "diff_vs_baseline", "diff_low", "diff_high", "p_value",
               "p_holm", "tied_with_baseline", "latency_p50_ms", "latency_p95_ms", "throughput_per_s",
               "peak_memory_mb"]  # fmt: skip
    if any(row.gpu_peak_memory_mb is not None for row in result.rows):  # measured on a CUDA GPU
        columns.append("gpu_peak_memory_mb")
    test = first["test"]
    print(f"{first['metric']} as value [low, high]" + (f"; secondary: {first['secondary_metric']}" if
          "secondary" in extras else "") + f"; p_value: {test}, p_holm: Holm-corrected")  # fmt: skip
    print(table[columns].round(3).to_string(index=False))


def _attacked(model_id: str, task: str):
    """(the attack, what computed the answers, the dataset attacked) for one id: a model as LM Lab serves it, ``key@variant`` (on its own
    dataset), or a baseline (on ``task``'s dataset, fitted on its training split)."""
    from core import catalog
    from core.bench import attack
    from core.tasks import robustness
    from core.tasks.base import get_task, own_dataset
    from core.tasks.classify import make_classifier

    key, _, variant = model_id.partition("@")
    if model_id.startswith("baseline:") or model_id == "vader":
        dataset = next(iter(get_task(task).datasets), "")
        return attack.attack(model_id, dataset), "baseline", dataset
    spec = catalog.get_spec(key)
    dataset = own_dataset(spec)
    if dataset is None:
        raise CoreError(f"{key} is not trained yet, or not on one of LM Lab's datasets: its held-out texts "
                        "are unknown.")  # fmt: skip
    if variant:
        return attack.attack(model_id, dataset), variant, dataset
    classifier = make_classifier(spec)
    return robustness.run(classifier.predict_batch, *robustness.held_out_texts(dataset)), classifier.runtime, dataset


def _attack(models: list[str], edits: int, task: str) -> int:
    """The Robustness page's attack on each classifier, printed as one table."""
    import time

    import pandas as pd

    from core.tasks import robustness

    def cell(estimate) -> str:
        return "–" if estimate is None else f"{100 * estimate.value:.0f} % [{100 * estimate.low:.0f}, {100 * estimate.high:.0f}]"

    rows, failed = [], 0
    print(f"typing-mistake attack read at most {edits} edit(s) per text (each run goes to {robustness.MAX_EDITS}); "
          "texts cut to their first 60 words; 95 % Wilson intervals", flush=True)
    for model_id in models:
        start = time.perf_counter()
        try:
            found, runtime, dataset = _attacked(model_id, task)
        except (CoreError, OSError, RuntimeError) as error:  # one model's failure keeps the others' rows
            print(f"error: {model_id}: {error}", file=sys.stderr, flush=True)
            failed += 1
            continue
        summary = found.summary(len(found.results), edits)
        rows.append({"model": model_id, "runtime": runtime, "dataset": dataset, "texts": summary.clean.n,
                     "accuracy": cell(summary.clean), "under attack": cell(summary.attacked),
                     "turned": cell(summary.turned), "mean edits": summary.mean_edits and summary.mean_edits.value,
                     "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip  (loading and fitting included)
        print(f"{model_id}: under attack {rows[-1]['under attack']}", file=sys.stderr, flush=True)
    if rows:
        print(pd.DataFrame(rows).round(2).to_string(index=False))
    return 2 if failed else 0


def main(argv: list[str] | None = None) -> int:
    settings.decide_mode()  # before anything imports transformers (an LMLAB_TASKS module may, for the help text)
    parser = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sentiment", help="a registered task: " + ", ".join(names()))
    parser.add_argument("--models", required=True, help="comma-separated model ids")
    parser.add_argument("--baseline", help="the model the others are compared to (default: the first)")
    parser.add_argument("--repeats", type=int, default=100,
                        help="timed single-example calls per model on one fixed text (p95 needs at least 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="results.csv or results.json")
    parser.add_argument("--attack", type=int, choices=range(1, 6), metavar="EDITS",
                        help="run the Robustness page's typing-mistake attack (1-5 edits per text) instead")
    parser.add_argument("--progress-file", help=argparse.SUPPRESS)  # written by background runs from the app
    args = parser.parse_args(argv)
    if not [m for m in args.models.split(",") if m.strip()]:
        parser.error("--models names no model")
    if args.attack:
        if args.out or args.progress_file:
            parser.error("--attack prints its table; it writes no --out file")
        return _attack([m.strip() for m in args.models.split(",") if m.strip()], args.attack, args.task)
    from tqdm import tqdm

    from core.bench import run

    bar = tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% {postfix}", file=sys.stderr)

    def report(data: dict) -> None:
        if args.progress_file:
            from pathlib import Path

            from core.io import write_json_atomic

            write_json_atomic(Path(args.progress_file), data)

    def progress(fraction: float, message: str) -> None:
        bar.update(max(0.0, 100 * fraction - bar.n))
        bar.set_postfix_str(message)
        report({"state": "running", "fraction": fraction, "message": message})

    try:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        result = run.run(args.task, models, baseline=args.baseline, repeats=args.repeats, seed=args.seed,
                         progress=progress)  # fmt: skip
    except CoreError as error:
        bar.close()
        report({"state": "failed", "fraction": 1.0, "message": str(error)})
        print(f"error: {error}", file=sys.stderr)
        return 2
    bar.close()
    run_id = run.save(result)
    report({"state": "done", "fraction": 1.0, "message": "done", "run_id": run_id})
    _write_and_print(result, args.out)
    print(f"saved as benchmark run {run_id}" + (f", table written to {args.out}" if args.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

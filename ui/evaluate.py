"""Evaluate page glue: model choice, the background benchmark, the table, plots and disagreements."""

from __future__ import annotations

import contextlib
import json
import urllib.parse

import numpy as np
import pandas as pd
import streamlit as st

from core import settings
from core.bench import background as bench_jobs
from core.bench import run as bench
from core.bench import scoring
from core.errors import CoreError
from core.stats import confusion, expected_calibration_error, per_class
from core.tasks.base import Metric, tasks
from core.viz import charts, heatmaps
from ui import i18n, render, safe
from ui.i18n import N_, _


def task_labels() -> dict[str, str]:
    """Every registered task, as the task picker shows it."""
    return {name: _(task.title) for name, task in tasks().items()}


def first_task(names: list[str]) -> int:
    """Where the task picker starts: a session in Chinese starts on Chinese sentiment, one in English on sentiment."""
    wanted = "sentiment-zh" if i18n.language() == "zh" else "sentiment"
    return names.index(wanted) if wanted in names else 0


def choices(task: str) -> list[str]:
    """Ready catalog models for the task, their precision variants, and the baselines."""
    return scoring.choices(task)


@st.cache_data(show_spinner=False, max_entries=max(200, settings.limits().max_results))  # every kept run
def _run_summary(run_id: str) -> tuple[str, str, int] | None:
    """When a saved run ran, its task and how many models (shared by every session: no words of any language)."""
    try:
        result = bench.load(run_id)
        return str(result.created_at), str(result.task), len(result.rows)
    except Exception:  # noqa: BLE001 - one damaged file must not break the picker of every run
        return None


def shown_first(saved: list[str], task: str) -> int:
    """Which saved run the picker opens on: the session's own last run, else the newest run of the task chosen
    above (a Chinese session opens on Chinese sentiment, not on whatever ran last), else the newest run."""
    current = st.session_state.get("bench-run")
    if current in saved:
        return saved.index(current)
    return next((i for i, run in enumerate(saved) if (_run_summary(run) or ("", "", 0))[1] == task), 0)


def run_label(run_id: str) -> str:
    """A saved run as people read it: when, which task, how many models."""
    found = _run_summary(run_id)
    if found is None:
        return _("{run} (damaged)", run=run_id)
    when, task, count = found
    return i18n.plural(count, N_("{when} · {task} · {count} model"), N_("{when} · {task} · {count} models"),
                       when=i18n.when(when), task=task_labels().get(task, task))


MAX_MODELS = bench_jobs.MAX_MODELS


def limits_note() -> str:
    """The caps a benchmark started here works under."""
    return _("At most {most} models per run; a run is stopped after {minutes} minutes (the class shares one benchmark "
             "slot, and the command line has neither limit).", most=MAX_MODELS,
             minutes=settings.limits().session_job_timeout_s // 60)


def start(task: str, models: list[str], baseline: str | None, repeats: int) -> None:
    try:
        st.session_state["bench-job"] = bench_jobs.start(task, models, baseline, repeats)
    except CoreError as error:
        safe.error(error)


@st.fragment(run_every=1.0)
def watch() -> None:
    job = st.session_state.get("bench-job")
    if not job:
        return
    state = bench_jobs.status(job)
    if state["state"] in ("starting", "running"):
        st.progress(float(state["fraction"]), text=_("Benchmark running in the background: {message}",
                                                    message=safe.md(_progress(str(state["message"])))))  # fmt: skip
        if st.button(_("Cancel the benchmark"), key="bench-cancel", icon=":material/stop_circle:",
                     help=_("Stops it now and frees the class's slot; nothing is saved.")):  # fmt: skip
            bench_jobs.cancel(job)
            st.rerun(scope="fragment")
        return
    st.session_state["bench-job"] = None
    if state["state"] == "done":
        st.session_state["bench-run"] = state["run_id"]
        st.session_state["bench-shown"] = state["run_id"]  # show the new run
    elif state["message"] == bench_jobs.CANCELLED:
        st.toast(_("Benchmark cancelled; nothing was saved."))
    else:
        message = str(state["message"])
        st.session_state["bench-error"] = (_("Stopped at the time limit of a benchmark started from the app ({minutes} "
                                             "minutes): choose fewer models or fewer timed calls.",
                                             minutes=settings.limits().session_job_timeout_s // 60)
                                           if message.startswith("stopped after") else message)  # fmt: skip
    st.rerun()


def _progress(message: str) -> str:
    """The benchmark process's progress line (plain text in its status file) in this session's language."""
    if message.startswith("scoring "):
        return _("scoring {model}", model=message.removeprefix("scoring "))
    return _(message) if message in (N_("starting"),) else message


def _interval(row: dict, name: str) -> str:
    return f"{100 * row[name]:.1f} [{100 * row[f'{name}_low']:.1f}, {100 * row[f'{name}_high']:.1f}]"


def scored_by(result: bench.BenchResult) -> Metric:
    """The metric a saved run's rows rank by (also for runs of tasks no longer registered)."""
    task = tasks().get(result.task)
    key = result.rows[0].get("metric", "accuracy") if result.rows else "accuracy"
    if task is not None and task.scored_by.key == key:
        return task.scored_by
    return Metric(key, key, percent=key == "accuracy", digits=1)


def _unit(metric: Metric) -> str:
    return _(metric.label) + (" %" if metric.percent else "")


# metric labels and other words the benchmark writes into its rows, translated where they are shown
ROW_WORDS = (N_("accuracy"), N_("chrF"), N_("span F1"), N_("perplexity per word"), N_("perplexity per character"), N_("BLEU"), N_("precision"),
             N_("token perplexity"), N_("probability"), N_("not a probability"), N_("McNemar"), N_("paired bootstrap"),
             N_("one row per frame, a sentence's frames in one pass"), N_("beam search, 4 beams"), N_("baseline"),
             N_("baseline (packaged MiniLM)"), N_("masked-token accuracy"),
             N_("15 % of the first 62 tokens hidden at once"), N_("OOV recall"), N_("dictionary + HMM"),
             N_("Viterbi over B/M/E/S tags"))  # fmt: skip
PERCENT_SECONDARY = ("precision", "OOV recall")  # shares, shown in % beside a headline in %
# what one unit of throughput is, per headline metric (texts for the classifiers)
TEXTS_PER_S = N_("texts/s")
THROUGHPUT = {"chrf": N_("sentences/s"), "span_f1": N_("frames/s"), "mask_accuracy": N_("paragraphs/s"),
              "word_perplexity": N_("tokens/s"), "char_perplexity": N_("tokens/s"), "word_f1": N_("characters/s")}
CAPTIONS = {
    "chrf": N_("chrF on the held-out generated sentences (sacrebleu); Δ is on sentence-level chrF, paired. "
               "Throughput: sentences per second in batches of 64."),
    "span_f1": N_("Argument-span F1 on held-out generated frames (seqeval, predicates excluded); Δ is paired on "
                  "frames. Throughput: frames per second."),
    "mask_accuracy": N_("Masked-token accuracy on 400 held-out People's Daily paragraphs spread over the month: the "
                        "same 15 % of each paragraph's first 62 tokens hidden for every model, and the share it fills "
                        "in correctly; Δ is paired on paragraphs. Throughput: paragraphs per second."),
    "word_perplexity": N_("Perplexity per word (whitespace-separated) on 30 held-out Lee articles: comparable across "
                          "tokenizers, unlike perplexity per token (shown as the secondary column). Lower is better; "
                          "Δ is paired on articles. Latency: one next-token distribution; throughput: tokens scored "
                          "per second."),
    "char_perplexity": N_("Perplexity per character on the 1,880 held-out People's Daily paragraphs (white space not "
                          "counted): comparable across tokenizers; for a character GPT it equals perplexity per token "
                          "apart from the few characters NFKC splits (… becomes ...). Lower is better; Δ is paired on "
                          "paragraphs. Latency: one next-token distribution; throughput: tokens scored per second."),
    "word_f1": N_("Word F1 on the 1,880 held-out People's Daily paragraphs (a word counts when both its ends match "
                  "the corpus's segmentation); OOV recall is the share of the words never seen in training that are "
                  "found; Δ is paired on paragraphs. Latency: one paragraph; throughput: characters per second."),
}  # fmt: skip


def _throughput(metric: Metric) -> str:
    return _("throughput ({unit})", unit=_(THROUGHPUT.get(metric.key, TEXTS_PER_S)))


def _table_row(r: dict, metric: Metric) -> dict:
    """One benchmark row as the table shows it: the columns every task has, then those only some tasks have."""
    # a percentage to one decimal beside the other percentages (macro-F1): "82" next to "81.4" reads as a contradiction
    scale, d = (100, max(metric.digits, 1)) if metric.percent else (1, metric.digits)
    interval = f"{scale * r['value']:.{d}f} [{scale * r['low']:.{d}f}, {scale * r['high']:.{d}f}]"
    out = {_("model"): r["model"], _("source"): _(str(r["source"])),
           _("parameters (M)"): r["parameters"] / 1e6 if r.get("parameters") else None, _("size (MB)"): r["size_mb"],
           _("device / precision"): r["device / precision"].replace(settings.INT8_CHECKED, _(settings.INT8_CHECKED))
                                                .replace("dynamic int8", _("dynamic int8"))}  # fmt: skip
    if "decoding" in r:
        out[_("decoding")] = _(str(r["decoding"]))
    out[_("{metric} [95 % CI]", metric=_unit(metric))] = interval
    if "macro_f1" in r:
        out[_("macro-F1 % [95 % CI]")] = _interval(r, "macro_f1")
    out["n"] = r["n"]
    if r.get("unk_share") is not None:
        out[_("[UNK] share of tokens (%)")] = 100 * r["unk_share"]
    if r.get("same_as_plain") is not None:  # a variant row (@int8, @cuda-bf16 …) beside its plain model
        out[_("same answer as the plain model (%)")] = 100 * r["same_as_plain"]
    if "secondary_metric" in r:
        out[_(r["secondary_metric"])] = scale * r["secondary"] if r["secondary_metric"] in PERCENT_SECONDARY else r["secondary"]
    delta = (_("Δ vs {baseline} (points) [CI]", baseline=r["baseline"]) if metric.percent
             else _("Δ vs {baseline} [CI]", baseline=r["baseline"]))  # fmt: skip
    out[delta] = (f"{scale * r['diff_vs_baseline']:+.{d + 1}f} "
                  f"[{scale * r['diff_low']:+.{d + 1}f}, {scale * r['diff_high']:+.{d + 1}f}]")  # fmt: skip
    if r.get("test"):  # runs saved before the rows named their test have no p-value of it
        out[_("{test} p", test=_(r["test"]))] = r["p_value"]
    out.update({_("p (Holm)"): r.get("p_holm"), _("tied"): _("tied") if r["tied_with_baseline"] else "",
                _("latency p50 (ms)"): r["latency_p50_ms"], _("latency p95 (ms)"): r["latency_p95_ms"],
                _("repeats"): r["latency_repeats"], _throughput(metric): r["throughput_per_s"],
                _("peak memory added (MB)"): r["peak_memory_mb"]})  # fmt: skip
    if r.get("gpu_peak_memory_mb") is not None:  # measured where the row computed on a CUDA GPU's memory
        out[_("GPU peak memory (MB)")] = r["gpu_peak_memory_mb"]
    if r.get("load_s") is not None:
        out[_("load (s)")] = r["load_s"]
    out[_("training (s)")] = r["train_s"]
    if "ece" in r:
        out.update({"ECE": r["ece"], _("scores"): _(r.get("scores", "probability"))})
    out[_("seed")] = r["seed"]
    return out


def table(result: bench.BenchResult) -> pd.DataFrame:
    """One table for every task: the headline metric with its CI, the paired comparison, speed and memory,
    then what only some tasks have (macro-F1 and calibration for classifiers, decoding and a second metric for
    sequence models)."""
    metric = scored_by(result)
    scale = 100 if metric.percent else 1
    frame = pd.DataFrame([_table_row(r, metric) for r in result.rows])
    number = st.column_config.NumberColumn
    formats = {"{test} p": "%.3f", "p (Holm)": "%.3f", "latency p50 (ms)": "%.2f", "latency p95 (ms)": "%.2f",
               "parameters (M)": "%.2f", "load (s)": "%.2f"}
    config = {_(name, test=_(test)) if "{test}" in name else _(name): number(format=shown)
              for name, shown in formats.items() for test in ("McNemar", "paired bootstrap")}  # fmt: skip
    config[_throughput(metric)] = number(format="%.0f")
    safe.table(frame, hide_index=True, key="bench-table", column_config={**config, "ECE": number(format="%.3f")})
    left, right = st.columns(2)
    rows = [dict(row) for row in result.rows]
    left.download_button(_("Download CSV"), pd.DataFrame(rows).to_csv(index=False), "benchmark.csv", "text/csv",
                         key="bench-csv")  # fmt: skip
    right.download_button(_("Download JSON"), json.dumps(rows, indent=2), "benchmark.json", "application/json",
                          key="bench-json")  # fmt: skip
    comparisons = result.rows[0].get("comparisons", len(result.rows) - 1)
    if result.rows[0]["test"] == "McNemar":
        test = _("McNemar's exact test does not find a difference from the baseline")
    else:
        test = _("the paired bootstrap finds no difference from the baseline")
    if CAPTIONS.get(metric.key):
        st.caption(_(CAPTIONS[metric.key]))
    versions = result.rows[0]["versions"]
    with contextlib.suppress(ValueError):  # saved as JSON: shown as "python 3.11.7 · torch 2.13.0+cpu", not as JSON
        versions = json.loads(versions) if isinstance(versions, str) else versions
    if isinstance(versions, dict):
        versions = " · ".join(f"{name} {version}" for name, version in versions.items())
    st.caption(_("'tied' = {test} at 5 % after Holm's correction for the {comparisons} models compared with it (the "
                 "column “p (Holm)”): these data cannot tell them apart. The Δ interval is the size of the difference, "
                 "a 95 % paired bootstrap CI without correction. Versions: {versions}.", test=test,
                 comparisons=comparisons, versions=safe.md(str(versions))))  # fmt: skip
    unit = _unit(metric)
    render.figure(charts.quality_latency(result.rows, label=unit, higher_is_better=metric.higher_is_better, scale=scale,
                                         title=_("{metric} (95 % CI) against median latency", metric=unit),
                                         y_title=unit if metric.higher_is_better else _("{metric} (lower is better)",
                                                                                        metric=unit)),
                  key="bench-pareto")  # fmt: skip
    return frame


def plots(result: bench.BenchResult) -> None:
    """A classification's per-class views: confusion matrices, per-class scores, calibration."""
    models = list(result.predictions)
    columns = st.columns(min(3, len(models)))
    names = [_(label) for label in result.labels]  # the classes as the tables below name them
    for index, model in enumerate(models):
        matrix = confusion(result.predictions[model], result.references, len(result.labels))
        with columns[index % len(columns)]:
            render.figure(heatmaps.heatmap(matrix.astype(float), title=model, x_labels=names,
                                           y_labels=names, x_title=_("predicted"), y_title=_("true"), text_values=True,
                                           height=300), key=f"bench-confusion-{index}")  # fmt: skip
    st.markdown(_("**Per class** (test split)"))
    per_class_rows = []
    for model in models:
        matrix = confusion(result.predictions[model], result.references, len(result.labels))
        for name, row in zip(names, per_class(matrix), strict=True):
            per_class_rows.append({_("model"): model, _("class"): name, _("precision"): row["precision"],
                                   _("recall"): row["recall"], "F1": row["f1"], _("support"): row["support"]})
    safe.table(pd.DataFrame(per_class_rows).round(3), decimals=3, hide_index=True, key="bench-per-class")
    truth = np.array(result.references)
    not_probabilities = {r["model"] for r in result.rows if r.get("scores") == "not a probability"}
    bins = {m: expected_calibration_error(result.confidences[m], np.array(result.predictions[m]) == truth)["bins"]
            for m in models if m not in not_probabilities}  # fmt: skip
    if not_probabilities:
        st.caption(_("No calibration for {models}: their scores rank the classes but are not probabilities (VADER's "
                     "rescaled compound score, zero-shot's softmax at a display temperature), so ECE would measure "
                     "nothing.", models=", ".join(sorted(not_probabilities))))  # fmt: skip
    render.figure(charts.reliability(bins), key="bench-reliability")
    if len(result.texts) < 300:
        st.warning(_("Calibration from {count} examples is rough: each bin holds only a few. Read ECE and the "
                     "reliability curve as a sketch (300+ examples make them meaningful).", count=len(result.texts)))  # fmt: skip


def disagreements(result: bench.BenchResult) -> None:
    rows = result.disagreements()
    if not rows:
        if any(len(p) != len(result.texts) for p in result.predictions.values()):
            st.caption(_("These answers do not come one per held-out example (a language model is scored, not asked; "
                         "runs saved before role frames were items have one answer per frame), so there is no "
                         "example-by-example comparison."))  # fmt: skip
        else:
            st.caption(_("Every model gave the same answer on every example."))
        return
    st.caption(_("{count} examples (at most 50) where the models' answers differ.", count=len(rows)))
    task = tasks().get(result.task)
    page = task.page if task else None  # "pages/sentiment.py" is served at /sentiment
    first = next(iter(result.predictions)).partition("@")[0]
    for row in rows:
        text = urllib.parse.quote(row["text"][:1000])
        if page:
            row["open"] = f"/{page.removeprefix('pages/').removesuffix('.py')}?text={text}"
        if result.labels:
            row["inspect"] = f"/inspect_attention?text={text}" + (
                f"&model={first}" if not first.startswith(("baseline", "vader")) else ""
            )
    config = {"open": st.column_config.LinkColumn(_("open"), display_text=_("scenario page"))}
    if result.labels:
        config["inspect"] = st.column_config.LinkColumn(_("inspect"), display_text=_("attention"))
    safe.table(pd.DataFrame(rows), hide_index=True, key="bench-disagree", column_config=config)

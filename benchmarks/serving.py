"""Serving one shared classifier to many sessions: the article's per-text pipeline against LM Lab's predictor.

    python benchmarks/serving.py [--cache DIR] [--sessions 1,4,16,32] [--texts 200] [--runtimes torch,onnx,onnx-int8]
        [--no-translation] [--no-generation] [--no-segmentation]

Side by side, in one run, on the sentiment MiniLM of the cache (trained with its default recipe first if
absent): the article's `pipeline("text-classification")` called once per text; the same pipeline with
`batch_size=32`; then for each serving runtime (PyTorch fp32, ONNX Runtime fp32, ONNX Runtime int8) LM
Lab's predictor called once per text by one session, and called by N sessions at once (threads, as
Streamlit serves a class): on PyTorch requests that arrive together share a forward pass, on ONNX Runtime
each request is a pass of its own and two run side by side. Printed per way:
texts per second, the ratio to the per-text pipeline, p50 / p95 latency of one request, label agreement
with the per-text pipeline, and the process's peak resident memory so far; and each runtime's accuracy on
the held-out polarity split. The texts are the 200 polarity sentences (short, of similar length): mixed
lengths are not measured here. Then (each can be left out) the translation page's requests, the GPT's
next-token bars and Chinese word segmentation, each answered one request at a time against shared passes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _texts(count: int) -> list[str]:
    from core.data import polarity

    texts = [example.text for example in polarity.load()]
    return (texts * (count // len(texts) + 1))[:count]


class _OneAtATime:
    """The same predictor without batching: each request its own forward pass, in turn."""

    def __init__(self, predictor):
        self.predictor = predictor

    def predict(self, text: str):
        return self.predictor.predict_batch([text])[0]


def _normal(label: str) -> str:
    return {"label_0": "negative", "label_1": "positive"}.get(label.lower(), label.lower())


def _counts(sessions: str) -> list[int]:
    """The numbers of sessions asked for, "1,4,16,32" → [1, 4, 16, 32]."""
    return [int(part) for part in sessions.split(",") if part.strip()]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(share * len(ordered))) - 1)]


def _sessions(predictor, texts: list[str], sessions: int) -> tuple[float, list[float], list[str]]:
    """``sessions`` threads take texts from one queue and ask the shared predictor, one text per request."""
    labels: list[str] = [""] * len(texts)
    latencies: list[float] = []
    position = iter(range(len(texts)))
    guard = threading.Lock()

    def session() -> None:
        while True:
            with guard:
                index = next(position, None)
            if index is None:
                return
            started = time.perf_counter()
            labels[index] = predictor.predict(texts[index]).label
            with guard:
                latencies.append(1000 * (time.perf_counter() - started))

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(texts) / (time.perf_counter() - started), latencies, labels


def beside_pytorch(predictor, texts: list[str], sessions: int = 16) -> tuple[float, float]:
    """``sessions`` asking ``predictor`` while one more session loops PyTorch passes of the same model (an
    explanation's or a translation's stand-in): the answers/s, and the loop's passes/s — how the inference gate's
    places are shared between the two kinds of work."""
    from core.tasks.classify import TransformerClassifier

    looping, stop, passes = TransformerClassifier(predictor.spec, runtime="torch"), threading.Event(), [0]

    def loop() -> None:
        while not stop.is_set():
            looping._forward_once([texts[passes[0] % len(texts)]])
            passes[0] += 1

    thread = threading.Thread(target=loop)
    started = time.perf_counter()
    thread.start()
    rate, _latencies, _labels = _sessions(predictor, texts, sessions)
    stop.set()
    thread.join()
    return rate, passes[0] / (time.perf_counter() - started)


def _how_served(predictor, checked: float) -> str:
    """What the last sessions' run shared or computed again, for its row's name."""
    if checked:  # int8: how many of its answers were close calls computed again in fp32 (none when switched off)
        share = 100 * predictor.rechecked / max(1, predictor.answered)
        by = "ONNX Runtime" if predictor.exact is not None else "PyTorch"
        return f"{share:.1f} % close calls computed again in {by} fp32" if predictor.recheck_below else \
            "no close call computed again"
    sizes = predictor.coalescer.batch_sizes
    return f"mean batch {statistics.mean(sizes):.1f}" if sizes else "a pass per request, side by side"


def _trained_once(cache: Path, key: str) -> None:
    """Train ``key`` by its default recipe into the benchmark's cache, unless it is there already."""
    if not (cache / "models" / key / "metadata.json").is_file():
        print(f"training {key} once…", flush=True)
        subprocess.run([sys.executable, "-m", "core.train", "--model", key],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def _one_pass_against_shared(page, texts: list, sessions: list[int], coalescer, shared_batch: int, *, decimals: int = 0,
                             alone: str = "one pass per request") -> None:
    """For each number of sessions, two table rows: every request its own forward pass in turn (as before shared
    passes), then requests that arrive together sharing passes of up to ``shared_batch``, with their agreement."""
    for count in sessions:
        coalescer.max_batch = 1  # one forward pass per request, in turn: as before the shared passes
        single, single_latencies, reference = _sessions(page, texts, count)
        coalescer.max_batch, coalescer.batch_sizes = shared_batch, []
        rate, latencies, outputs = _sessions(page, texts, count)
        same = sum(a == b for a, b in zip(outputs, reference, strict=True)) / len(texts)
        mean = statistics.mean(coalescer.batch_sizes)
        print(f"| {count} sessions, {alone} | {single:.{decimals}f} | 1.00 | {statistics.median(single_latencies):.1f} | "
              f"{_percentile(single_latencies, 0.95):.1f} | – |")  # fmt: skip
        print(f"| {count} sessions, shared passes (mean batch {mean:.1f}) | {rate:.{decimals}f} | {rate / single:.2f} | "
              f"{statistics.median(latencies):.1f} | {_percentile(latencies, 0.95):.1f} | {100 * same:.1f} % |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "lmlab-classroom-cache")
    parser.add_argument("--sessions", default="1,4,16,32")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--runtimes", default="torch,onnx,onnx-int8", help="LM Lab's serving runtimes to measure")
    parser.add_argument("--translation", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the translation model (trained once if absent)")  # fmt: skip
    parser.add_argument("--generation", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the GPT's next-token bars (trained once if absent)")  # fmt: skip
    parser.add_argument("--segmentation", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure Chinese word segmentation (trained once if absent)")  # fmt: skip
    args = parser.parse_args(argv)
    os.environ.update(LMLAB_CACHE_HOME=str(args.cache), LMLAB_OFFLINE="1")
    _trained_once(args.cache, "sentiment-minilm")
    from transformers import pipeline

    from core import catalog, settings
    from core.tasks.classify import TransformerClassifier

    settings.decide_mode()
    import torch

    threads_at_start = torch.get_num_threads()
    texts = _texts(args.texts)
    folder = str(args.cache / "models" / "sentiment-minilm")
    article = pipeline("text-classification", model=folder)
    for text in texts[:5]:
        article(text)  # warm-up
    rows = []

    def add(way: str, seconds_or_rate, latencies, labels, reference, *, rate: bool = False) -> None:
        per_s = seconds_or_rate if rate else len(texts) / seconds_or_rate
        agree = sum(a == b for a, b in zip(labels, reference, strict=True)) / len(texts)
        rows.append((way, per_s, latencies, agree, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20))

    latencies, article_labels = [], []
    started = time.perf_counter()
    for text in texts:
        one = time.perf_counter()
        article_labels.append(article(text)[0]["label"])
        latencies.append(1000 * (time.perf_counter() - one))
    add("article: pipeline per text", time.perf_counter() - started, latencies, article_labels, article_labels)
    started = time.perf_counter()
    batched = [answer["label"] for answer in article(texts, batch_size=32)]
    add("pipeline, batch_size=32", time.perf_counter() - started, [], batched, article_labels)
    from core.data import polarity

    test = polarity.split().test
    answers = [answer["label"] for answer in article([e.text for e in test], batch_size=32)]
    pipeline_accuracy = sum(_normal(a) == e.label for a, e in zip(answers, test, strict=True)) / len(test)

    names = {label.lower(): label for label in article.model.config.id2label.values()}
    from core.device import threads_for_serving

    serving_threads = threads_for_serving()  # as the server sets them (the article's rows above ran with every core)

    def as_article(label: str) -> str:  # LM Lab normalises LABEL_1/pos to "positive"; map back for agreement
        return next((raw for raw in names.values() if label in (raw.lower(), {"label_0": "negative",
                     "label_1": "positive"}.get(raw.lower()))), label)  # fmt: skip

    split = polarity.split()
    accuracy, notes = {}, []
    for runtime in [part.strip() for part in args.runtimes.split(",") if part.strip()]:
        predictor = TransformerClassifier(catalog.get_spec("sentiment-minilm"), runtime=runtime)
        title = predictor.runtime_title
        if predictor.runtime_note:
            notes.append(f"{title}: {predictor.runtime_note}")
        held_out = predictor.predict_batch([e.text for e in split.test])
        accuracy[title] = sum(r.label == e.label for r, e in zip(held_out, split.test, strict=True)) / len(split.test)
        for text in texts[:5]:
            predictor.predict(text)
        latencies, labels = [], []
        started = time.perf_counter()
        for text in texts:
            one = time.perf_counter()
            labels.append(as_article(predictor.predict(text).label))
            latencies.append(1000 * (time.perf_counter() - one))
        add(f"LM Lab, {title}, per text, one session", time.perf_counter() - started, latencies, labels,
            article_labels)  # fmt: skip
        if runtime == "torch":
            rate, latencies, labels = _sessions(_OneAtATime(predictor), texts, 16)
            add(f"LM Lab, {title}, 16 sessions at once, without batching", rate, latencies,
                [as_article(label) for label in labels], article_labels, rate=True)  # fmt: skip
        checked = predictor.recheck_below
        for count in _counts(args.sessions):
            for recheck in [checked, 0.0] if checked else [checked]:  # int8 with its close calls in fp32, then without
                predictor.coalescer.batch_sizes, predictor.recheck_below = [], recheck
                predictor.answered = predictor.rechecked = 0
                rate, latencies, labels = _sessions(predictor, texts, count)
                add(f"LM Lab, {title}, {count} sessions at once ({_how_served(predictor, checked)})", rate,
                    latencies, [as_article(label) for label in labels], article_labels, rate=True)  # fmt: skip
        predictor.recheck_below = checked
        if checked:
            answers, passes = beside_pytorch(predictor, texts)
            notes.append(f"{title}, 16 sessions beside one more session looping PyTorch passes of the same model: "
                         f"{answers:.1f} answers/s, the loop {passes:.1f} passes/s")  # fmt: skip

    base = rows[0][1]
    print(f"{len(texts)} texts, sentiment MiniLM, torch threads {threads_at_start} for the article's rows, "
          f"{serving_threads} for LM Lab's (as the server sets them)\n")
    print(f"held-out accuracy ({len(split.test)} sentences): article pipeline (PyTorch fp32) {100 * pipeline_accuracy:.1f} %; "
          + "; ".join(f"{title} {100 * value:.1f} %" for title, value in accuracy.items()) + "\n")
    for note in notes:
        print(note + "\n")
    print("| way | texts/s | vs the article's per-text pipeline | p50 ms | p95 ms | label agreement | peak RSS GB so far |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for way, per_s, latencies, agree, rss in rows:
        p50 = f"{statistics.median(latencies):.1f}" if latencies else "–"
        p95 = f"{_percentile(latencies, 0.95):.1f}" if latencies else "–"
        print(f"| {way} | {per_s:.1f} | {per_s / base:.2f} | {p50} | {p95} | {100 * agree:.1f} % | {rss:.2f} |")
    if args.translation:
        _translation(args)
    if args.generation:
        _generation(args)
    if args.segmentation:
        _segmentation(args)
    return 0


def _translation(args) -> None:
    """The translation page's requests (greedy, with the cross-attention pass): one at a time, then N sessions."""
    _trained_once(args.cache, "translate-en-zh")
    import torch

    from core import catalog
    from core.data import translation
    from core.tasks.translate import Translator

    sources = [pair.english for pair in translation.corpus(train_size=0).test][: args.texts]
    translator = Translator(catalog.get_spec("translate-en-zh"))

    def alone(text: str) -> str:  # the pre-batching path: one generate per sentence, in turn
        with translator._lock, torch.no_grad():
            encoded = translator.tokenizer(text, truncation=True, max_length=translator.max_source,
                                           return_tensors="pt", return_token_type_ids=False)  # fmt: skip
            output = translator.model.generate(**encoded, num_beams=1, do_sample=False,
                                               max_new_tokens=translator.max_new)  # fmt: skip
        return translator.decode(output[0])

    for text in sources[:5]:
        alone(text)
    started = time.perf_counter()
    reference = [alone(text) for text in sources]
    sequential = len(sources) / (time.perf_counter() - started)

    print(f"\ntranslation, {len(sources)} held-out sentences, greedy\n")
    print("| way | sentences/s | vs sequential per sentence | p50 ms | p95 ms | outputs identical |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| one generate per sentence, in turn (no attention pass) | {sequential:.1f} | 1.00 | – | – | 100.0 % |")
    # the page's translator (ONNX Runtime where the export serves), then one that decodes on PyTorch
    runtimes = [("ONNX Runtime", translator)] if translator._greedy is not None else []
    for runtime, serving in [*runtimes, ("PyTorch", Translator(catalog.get_spec("translate-en-zh"), onnx=False))]:

        class Page:  # what the Translate page asks for: greedy, with the attention views
            @staticmethod
            def predict(text: str, serving=serving):
                return type("Answer", (), {"label": serving.translate(text).text})

        for count in _counts(args.sessions):
            serving.coalescer.batch_sizes = []
            rate, latencies, outputs = _sessions(Page, sources, count)
            same = sum(a == b for a, b in zip(outputs, reference, strict=True)) / len(sources)
            mean = statistics.mean(serving.coalescer.batch_sizes)
            print(f"| LM Lab page requests (with attention) on {runtime}, {count} sessions (mean batch {mean:.1f}) | "
                  f"{rate:.1f} | {rate / sequential:.2f} | {statistics.median(latencies):.1f} | "
                  f"{_percentile(latencies, 0.95):.1f} | {100 * same:.1f} % |")  # fmt: skip


def _generation(args) -> None:
    """The Generate page's first view, the next-token bars: one forward pass per request, then shared passes."""
    _trained_once(args.cache, "lm-lee-gpt")
    from core import catalog
    from core.data.lee import lm_split
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.LM_LEE)
    prompts = [" ".join(article.split()[: 12 + 3 * (i % 8)]) for i, article in enumerate(lm_split()[1])]
    prompts = (prompts * (args.texts // len(prompts) + 1))[: args.texts]

    class Page:  # the Generate page's top-10 next tokens, each a real pass (never read back from the shared answers)
        @staticmethod
        def predict(text: str):
            return type("Answer", (), {"label": model.next_tokens(text, k=10, fresh=True)["transformer"][0]["token"]})

    for text in prompts[:5]:
        Page.predict(text)
    print(f"\nnext-token bars, {len(prompts)} prompts of the held-out Lee articles (12–33 words)\n")
    print("| way | requests/s | vs one pass per request | p50 ms | p95 ms | same top token |")
    print("|---|---:|---:|---:|---:|---:|")
    _one_pass_against_shared(Page, prompts, _counts(args.sessions), model.coalescer, 32)


def _segmentation(args) -> None:
    """The Segmentation page's model side: one forward pass per request in turn, then shared passes."""
    _trained_once(args.cache, "segment-zh")
    from core import catalog
    from core.data import peoples_daily
    from core.tasks.segment import Segmenter

    segmenter = Segmenter(catalog.get_spec("segment-zh"))
    sentences = [part + "。" for words in peoples_daily.split()[1] for part in "".join(words).split("。")
                 if 8 <= len(part) <= 61]  # fmt: skip
    sentences = (sentences * (args.texts // len(sentences) + 1))[: args.texts]

    class Page:  # what the page asks the model trained here for (jieba's side runs outside the model)
        @staticmethod
        def predict(text: str):
            return type("Answer", (), {"label": segmenter.segment(text).words})

    for text in sentences[:5]:
        Page.predict(text)
    lengths = sorted(len(text) for text in sentences)
    print(f"\nChinese word segmentation, {len(sentences)} held-out People's Daily sentences "
          f"({lengths[0]}–{lengths[-1]} characters, one window each)\n")  # fmt: skip
    print("| way | sentences/s | vs one pass per request | p50 ms | p95 ms | same words |")
    print("|---|---:|---:|---:|---:|---:|")
    _one_pass_against_shared(Page, sentences, _counts(args.sessions), segmenter.coalescer, 16)


if __name__ == "__main__":
    sys.exit(main())

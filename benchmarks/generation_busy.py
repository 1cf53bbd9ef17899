"""One generation (or translation, or explanation) while other threads keep Python busy, two ways side by side.

    python benchmarks/generation_busy.py [--model zh-char-gpt] [--busy 0,4] [--tokens 40]
    python benchmarks/generation_busy.py --translation [--model translate-zh-en] [--busy 0,2,4]
    python benchmarks/generation_busy.py --explain [--model sentiment-minilm] [--busy 0,2,4]
    python benchmarks/generation_busy.py --served [--busy 0,2]
    python benchmarks/generation_busy.py --intervals 5,0.5 [--busy 0,2]

A server's sessions are threads of one Python process. PyTorch lets go of Python's GIL during every operation of a
forward pass and takes it back afterwards; when other threads want it, each take-back waits. A generation is dozens
of small passes of many operations, so it is the request that suffers most. This times one greedy generation of the
model (trained here, in the cache) alone and beside N threads running plain Python, on PyTorch and on the ONNX
Runtime export LM Lab generates with (core.tasks.lm_onnx), and checks that both write the same text. With
``--translation``, one greedy translation of a held-out sentence with its attention maps, as the Translate page asks
for it (core.tasks.seq2seq_onnx). With ``--explain``, the Sentiment page's explanation (integrated gradients, 34 passes
forward and backward, and occlusion) of the longest held-out polarity sentence, then Inspect's attention maps and the
sentence encoder's embedding of it, and the Generate page's attribution of 20 tokens the English GPT wrote, eager and
through the traced passes they run on (core.tasks.traced), on one torch thread as the server runs them; the numbers
must be the same (for the attribution, whose texts differ run to run, only their shape is compared here: the tests
compare the numbers).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _busy(stop: threading.Event) -> None:
    total = 0
    while not stop.is_set():
        for i in range(1000):
            total += i * i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zh-char-gpt")
    parser.add_argument("--busy", default="0,4", help="comma-separated numbers of busy Python threads")
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--translation", action="store_true", help="a translation model's greedy decoding instead")
    parser.add_argument("--explain", action="store_true", help="a classifier's explanation instead")
    parser.add_argument("--served", action="store_true",
                        help="SRL labels, next-token bars and scores, and a translation's attribution instead")
    parser.add_argument("--intervals", default="",
                        help="comma-separated GIL switch intervals in ms to run at (Python's: 5; the server's: 0.5)")
    args = parser.parse_args()
    intervals = [max(0.01, float(part)) for part in args.intervals.split(",") if part] or [sys.getswitchinterval() * 1000]
    if args.served:
        for interval in intervals:
            sys.setswitchinterval(interval / 1000)
            print(f"GIL switch interval {interval:g} ms", flush=True)
            _served(args.busy)
        return
    if args.explain:
        _explain("sentiment-minilm" if args.model == "zh-char-gpt" else args.model, args.busy)
        return
    if args.translation:
        _translation("translate-zh-en" if args.model == "zh-char-gpt" else args.model, args.busy)
        return
    from core import catalog
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.get_spec(args.model))
    prompt = "中国人民" if args.model.startswith("zh") else "The government said"
    model.generate(prompt, max_new_tokens=4, seed=0)  # exports on first use
    onnx = model._next_token
    if onnx is None:
        sys.exit(f"{args.model} generates on PyTorch here: {model.generation_note}")
    texts = {}
    for interval in intervals:
        sys.setswitchinterval(interval / 1000)
        for busy in [int(part) for part in args.busy.split(",")]:
            for runtime, runner in (("ONNX Runtime", onnx), ("PyTorch", None)):
                model._next_token = runner
                made, seconds = beside_busy_python(
                    busy, lambda: model.generate(prompt, max_new_tokens=args.tokens, temperature=0.0, seed=0))
                texts[runtime] = made.text
                print(f"switch interval {interval:g} ms, {busy} busy threads, {runtime:12s}: {len(made.steps)} tokens "
                      f"in {seconds:7.2f} s", flush=True)  # fmt: skip
    model._next_token = onnx
    print("the same text on both:", texts["ONNX Runtime"] == texts["PyTorch"])


def beside_busy_python(busy: int, work):
    """``work()``'s answer and seconds, beside ``busy`` threads running plain Python."""
    stop = threading.Event()
    threads = [threading.Thread(target=_busy, args=(stop,)) for _ in range(busy)]
    for thread in threads:
        thread.start()
    try:
        started = time.perf_counter()
        answer = work()
        return answer, time.perf_counter() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _translation(key: str, busy_counts: str) -> None:
    from core import catalog
    from core.data import translation
    from core.tasks.translate import Translator, direction

    spec = catalog.get_spec(key)
    text = direction(spec.task)[0](translation.corpus(train_size=0).test[0])
    on_onnx = Translator(spec)  # exported as it loads
    if on_onnx._greedy is None:
        sys.exit(f"{key} decodes on PyTorch here: {on_onnx.runtime_note}")
    on_torch = Translator(spec, onnx=False)
    texts = {}
    for busy in [int(part) for part in busy_counts.split(",")]:
        for runtime, translator in (("ONNX Runtime", on_onnx), ("PyTorch", on_torch)):
            translator.translate(text)
            made, seconds = beside_busy_python(busy, lambda translator=translator: translator.translate(text))
            texts[runtime] = made.text
            print(f"{busy} busy threads, {runtime:12s}: {len(made.target_tokens)} tokens with their attention maps in "
                  f"{seconds:7.2f} s ({made.runtime})", flush=True)  # fmt: skip
    print(f"{text} → {texts['ONNX Runtime']}; the same text on both:", texts["ONNX Runtime"] == texts["PyTorch"])


def _explain(key: str, busy_counts: str) -> None:
    from core import catalog
    from core.attention import AttentionModel
    from core.data import polarity
    from core.device import threads_for_serving
    from core.tasks.attribution import explain
    from core.tasks.classify import TransformerClassifier
    from core.tasks.embeddings import SentenceEncoder

    threads_for_serving()
    text = max((example.text for example in polarity.split().test), key=len)
    traced, eager = TransformerClassifier(catalog.get_spec(key)), TransformerClassifier(catalog.get_spec(key))
    started = time.perf_counter()
    forward = traced.traced_pass.get()
    if forward.traced is None:
        sys.exit(f"{key} is not traced here: {forward.why}")
    print(f"traced and checked in {time.perf_counter() - started:.2f} s; {len(text.split())} words", flush=True)
    eager.traced_pass.stay_eager()  # this one keeps the eager model
    maps = [AttentionModel(catalog.MINILM) for _ in range(2)]
    encoders = [SentenceEncoder() for _ in range(2)]
    from core.tasks.generate import LanguageModel
    from core.tasks.seq_attribution import attribute_generation

    writers = [LanguageModel(catalog.LM_LEE) for _ in range(2)]
    written = iter(writers[0].generate("The government said", max_new_tokens=20, seed=seed) for seed in range(99))
    for eager_one in (maps[1], encoders[1], writers[1]):
        eager_one.traced_pass.stay_eager()

    def attributed(writer):
        made = next(written)  # a new text each time: a repeated one is answered from the shared memo
        return attribute_generation(writer, made.ids, made.start)
    work = {  # name: (traced, eager, what to compare)
        "explanation": (lambda: explain(traced, text), lambda: explain(eager, text),
                        lambda made: [(w.gradient_x_input, w.integrated_gradients, w.occlusion) for w in made.words]),
        "Inspect's maps": (lambda: maps[0]._attend(text, None, 128), lambda: maps[1]._attend(text, None, 128),
                           lambda made: made.weights.tobytes()),
        "sentence encoder": (lambda: encoders[0].encode([text]), lambda: encoders[1].encode([text]),
                             lambda made: made.tobytes()),
        "Generate's attribution": (lambda: attributed(writers[0]), lambda: attributed(writers[1]),
                                   lambda made: made.integrated.shape),
    }  # fmt: skip
    _compare(work, busy_counts)


def _compare(work: dict, busy_counts: str) -> None:
    """Each piece of work on its traced and its eager pass, alone and beside busy threads; the answers compared."""
    for name, (on_trace, on_eager, outcome) in work.items():
        answers = {}
        for busy in [int(part) for part in busy_counts.split(",")]:
            for way, run in (("traced", on_trace), ("eager", on_eager)):
                run()
                made, seconds = beside_busy_python(busy, run)
                answers[way] = outcome(made)
                print(f"{name}, {busy} busy threads, {way:6s}: {seconds:6.2f} s", flush=True)
        print(f"{name}: the same numbers both ways:", answers["traced"] == answers["eager"], flush=True)


def _served(busy_counts: str) -> None:
    """The SRL page's labels, the Generate page's next-token bars and sentence score, and the Translate page's
    attribution of a translation it shows (English → Chinese), each on its traced and its eager pass."""
    from core import catalog
    from core.device import threads_for_serving
    from core.tasks.generate import LanguageModel
    from core.tasks.seq_attribution import attribute_translation
    from core.tasks.srl import SrlLabeler
    from core.tasks.translate import Translator

    threads_for_serving()
    labelers = [SrlLabeler(catalog.SRL_MINILM) for _ in range(2)]
    writers = [LanguageModel(catalog.LM_LEE) for _ in range(2)]
    translators = [Translator(catalog.get_spec("translate-en-zh")) for _ in range(2)]
    for eager_one in (labelers[1], writers[1], translators[1]):
        eager_one.traced_pass.stay_eager()
    sentence = "The teacher gave the students a long book about the history of the city last week."
    calls: dict[int, int] = {}  # each way's n-th call gets the n-th input, so the two ways' answers compare

    def nth(owner) -> int:
        calls[id(owner)] = calls.get(id(owner), 0) + 1
        return calls[id(owner)]

    def bars_and_score(writer):  # new words each time: a repeated prompt is answered from the shared memo
        words = " the city" * nth(writer)
        return (writer.next_tokens("The Prime Minister said" + words, k=10)["transformer"],
                [t.logprob for t in writer.score("The government said it would act" + words).tokens])  # fmt: skip

    def attributed(translator):  # as the page asks: the translation it shows, a new one each time
        things = ("a key", "two keys", "the book", "a car", "the house", "two books", "a letter", "three apples")
        text = f"The child sold {things[nth(translator) % len(things)]} in the evening."
        return attribute_translation(translator, text, translator.translate(text).output_ids)

    work = {  # name: (traced, eager, what to compare)
        "SRL labels": (lambda: labelers[0].label(sentence), lambda: labelers[1].label(sentence),
                       lambda made: [(f.tags, f.confidence) for f in made.frames]),
        "next-token bars and a score": (lambda: bars_and_score(writers[0]), lambda: bars_and_score(writers[1]),
                                        lambda made: made),
        "translation attribution": (lambda: attributed(translators[0]), lambda: attributed(translators[1]),
                                    lambda made: made.integrated.tobytes()),
    }  # fmt: skip
    _compare(work, busy_counts)


if __name__ == "__main__":
    main()

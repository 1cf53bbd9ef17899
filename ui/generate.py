"""Text generation page glue: next-token bars, sampling controls, token-by-token scores, two-sentence comparison."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import snippets
from core.tasks.generate import scramble
from core.viz import charts, heatmaps
from ui import attributions, i18n, models, render, safe
from ui.i18n import N_, _

PROMPTS = ["The Prime Minister said", "Police say the fire", "The Australian cricket team", "Palestinian"]
SENTENCE = "The Prime Minister said the government would not change its policy."
# Stock openings of People's Daily (January 1998), not sentences copied from it; the sentence is in neither split.
PROMPTS_ZH = ["新华社北京", "今年我国经济", "中国人民", "记者从有关部门获悉"]
SENTENCE_ZH = "国务院今天召开会议，研究明年的经济工作。"
SCRAMBLED_ZH = "明年今天会议国务院，召开经济研究的工作。"  # the same words (as jieba cuts them) shuffled, punctuation kept in place
# Which text the page's models read: the task, the default model, the prompts, the sentence to score and its shuffle.
LANGUAGES = {
    "en": ("generation", "lm-lee-gpt", PROMPTS, SENTENCE, None),
    "zh": ("generation-zh", "zh-char-gpt", PROMPTS_ZH, SENTENCE_ZH, SCRAMBLED_ZH),
}
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def defaults() -> list:
    """The default model of each language the page offers (its language switch leads to them)."""
    return [catalog.get_spec(default) for _task, default, *_rest in LANGUAGES.values()]


def text_language() -> str:
    """English news or Chinese People's Daily: the page's task. It starts in the interface's language, or in the
    language of the model a ``?model=`` link names."""
    if st.session_state.get("generate-language") not in LANGUAGES:
        try:
            task = catalog.get_spec(str(st.query_params.get("model", ""))).task
        except CoreError:
            task = ""
        linked = next((code for code, (name, *_rest) in LANGUAGES.items() if name == task), None)
        interface = i18n.language()
        st.session_state["generate-language"] = linked or (interface if interface in LANGUAGES else "en")
    _fill(st.session_state["generate-language"], missing_only=True)
    return st.segmented_control(_("Text in"), list(LANGUAGES), key="generate-language", required=True,
                                format_func=LANGUAGE_NAMES.get, on_change=_language_changed,
                                help=_("Each language has its own model, trained here on text in that language: "
                                       "English news articles, or People's Daily one character at a time."))  # fmt: skip


def shortened(text: str, most: int = 200) -> str:
    """A user's text as a caption quotes it: at most ``most`` characters (escaping is linear, but not free)."""
    return text if len(text) <= most else text[:most] + "…"


def _fill(language: str, *, missing_only: bool = False) -> None:
    """The boxes of a language start from its own examples (a ``?text=`` link fills the prompt)."""
    _task, _default, prompts, sentence, scrambled = LANGUAGES[language]
    values = {"generate-prompt": st.query_params.get("text", prompts[0]), "generate-score-text": sentence,
              "generate-a": sentence, "generate-b": scrambled or scramble(sentence)}  # fmt: skip
    for key, value in values.items():
        if not missing_only or key not in st.session_state:
            st.session_state[key] = value


def _language_changed() -> None:
    language = st.session_state.get("generate-language")
    if language in LANGUAGES:
        _fill(language)
        st.session_state["generate-prompt"] = LANGUAGES[language][2][0]  # not the link's text: that was the other's
    for key in ("generate-result", "generate-example"):
        st.session_state.pop(key, None)


def _model(spec):
    try:
        return models.task_model(spec)
    except CoreError as error:
        safe.error(error)
        return None


def heldout(spec) -> None:
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    found = (meta or {}).get("metrics", {})
    if "perplexity" not in found:
        return
    ppl, kn = found["perplexity"], found["ngram_perplexity"]
    data = meta.get("data", {})
    chinese = data.get("unit") == "paragraphs"
    left, right, third = st.columns(3)
    unseen = (_("95 % CI {low}–{high}, resampling the {n} unseen paragraphs", low=f"{ppl['low']:.0f}",
                high=f"{ppl['high']:.0f}", n=ppl["n"]) if chinese else
              _("95 % CI {low}–{high}, resampling the {n} unseen articles", low=f"{ppl['low']:.0f}",
                high=f"{ppl['high']:.0f}", n=ppl["n"]))  # fmt: skip
    left.metric(_("Held-out perplexity — Transformer"), f"{ppl['value']:.0f}", help=unseen)
    right.metric(_("Held-out perplexity — Kneser–Ney trigram"), f"{kn['value']:.0f}",
                 help=_("95 % CI {low}–{high}; fitted on the same training tokens", low=f"{kn['low']:.0f}",
                        high=f"{kn['high']:.0f}"))  # fmt: skip
    tokens = i18n.number(data.get("train_tokens", 0))
    seconds = f"{meta.get('train_seconds', 0):.0f}"
    trained = (_("{count} paragraphs; trained in {seconds} s", count=i18n.number(data.get("train_size", 0)),
                 seconds=seconds) if chinese else
               _("{articles} articles; trained in {seconds} s", articles=data.get("train_size"), seconds=seconds))  # fmt: skip
    third.metric(_("Training text"), _("{count} tokens", count=tokens), help=trained)
    verdict, expect = _verdict(chinese, kn["value"] < ppl["value"])
    st.caption(_join(
        _("Perplexity is exp(average negative log-probability per token): the number of equally likely tokens the "
          "model is, on average, choosing between. Lower is better. Trained on {tokens} tokens and scored on held-out text, {verdict}.",
          tokens=tokens, verdict=verdict), expect))  # fmt: skip
    if meta.get("loss_curve"):
        with st.expander(_("Training loss"), icon=":material/show_chart:"):
            render.figure(charts.loss_curve(meta["loss_curve"]), key="generate-loss")
            st.caption(_loss_caption(chinese, f"{ppl['value']:.0f}"))


def _join(*sentences: str) -> str:
    """Sentences side by side: a space between English ones, none between Chinese ones."""
    return ("" if i18n.language() == "zh" else " ").join(sentences)


def _verdict(chinese: bool, ngram_wins: bool) -> tuple[str, str]:
    """Who wins on held-out text and why, and what to expect of the samples."""
    if chinese:
        verdict = (_("the trigram wins: in two to three minutes of training on a CPU the GPT sees each training character less than once "
                     "(a full pass, over the time budget, still leaves it far behind)") if ngram_wins else
                   _("the Transformer wins"))  # fmt: skip
        return verdict, _("One token is one character, so this is perplexity per character. Expect phrases in the "
                          "style of People's Daily of January 1998, not facts.")  # fmt: skip
    verdict = (_("the trigram still wins: a Transformer needs far more text than an n-gram model to pay off, and "
                 "GPT-2 was trained on billions") if ngram_wins else
               _("the Transformer wins, even though it saw far less text than GPT-2's billions of tokens"))  # fmt: skip
    return verdict, _("Expect grammatical fragments of Australian 2001 news, not facts.")


def _loss_caption(chinese: bool, perplexity: str) -> str:
    if chinese:
        return _("Cross-entropy per token on the training blocks, a running value during training (no dropout); the "
                 "held-out perplexity above ({perplexity}) is measured afterwards on unseen paragraphs. The two are "
                 "close: in this budget the model is still learning, not yet memorising its training text.",
                 perplexity=perplexity)  # fmt: skip
    return _("Cross-entropy per token on the training blocks, a running value during training with dropout on; "
             "the held-out perplexity above ({perplexity}) is measured afterwards in eval mode on unseen "
             "articles. Part of the gap is fitting the training text, part is that difference in how they are "
             "measured.", perplexity=perplexity)  # fmt: skip


def next_token(spec, prompt: str, k: int) -> None:
    model = _model(spec)
    if model is None:
        return
    try:
        found = model.next_tokens(prompt, k=k)
    except CoreError as error:
        safe.error(error)
        return
    render.figure(charts.next_token_bars({"Transformer": found["transformer"], _("Kneser–Ney trigram"): found["ngram"]}),
                  key="generate-next")  # fmt: skip
    left, middle, right = st.columns(3)
    left.metric(_("Entropy — Transformer"), _("{bits} bits", bits=f"{found['entropy_bits']:.2f}"))
    middle.metric(_("Entropy — trigram"), _("{bits} bits", bits=f"{found['ngram_entropy_bits']:.2f}"))
    right.metric(
        _("Latency"), f"{found['latency_ms']:.0f} ms",
        # said whether or not this answer was read back: saying it only then would tell a student that a classmate
        # typed the same prompt
        help=_("{count} tokens of context", count=found["context_tokens"]) + " " + _(
            "An answer any session of the class already got is read back, with the latency of the pass that computed it."),
    )  # fmt: skip
    how = (_("Each token is one character (or other symbol), after NFKC normalisation: full-width forms of ASCII "
             "characters (，！？：；（）, digits, letters) become half width (，becomes ,), while 。、“”《》 stay as "
             "they are; … is three tokens, and spaces are dropped.") if "zh" in spec.languages else
           _("␣ marks a leading space (the BPE keeps it with the word)."))  # fmt: skip
    st.caption(_join(how, _("A language model is exactly this: a probability for every token of the vocabulary, "
                            "given the tokens so far. Lower entropy means a more confident guess.")))  # fmt: skip
    best = found["transformer"][0]["token"]
    if best in model.tokenizer.all_special_tokens:
        return  # appending "[EOS]" or "[UNK]" as text would not append that token
    st.button(_("Append the most likely token “{token}”", token=safe.md(best)), key="generate-append", icon=":material/add:",
              on_click=_set_prompt, args=(prompt + best,))  # fmt: skip


def sampled_next_token(spec, prompt: str, k: int, temperature: float, top_k: int, top_p: float) -> None:
    """The Transformer's bars again, reshaped by the sampling settings: what the Generate tab draws from."""
    model = _model(spec)
    if model is None:
        return
    try:
        found = model.sampled_next_tokens(prompt, k, temperature=temperature, top_k=top_k, top_p=top_p)
    except CoreError as error:
        safe.error(error)
        return
    title = _("Transformer, as sampled")
    render.figure(charts.next_token_bars({title: found["rows"]}), key="generate-sampled")
    if temperature <= 0:
        st.caption(_("Temperature 0 is greedy decoding: the most likely token always, whatever top-k and top-p say."))
        return
    st.caption(_("The same distribution after temperature {temperature} (the log-probabilities divided by it), the "
                 "top-k cut ({top_k}; 0 = none) and the top-p nucleus ({top_p}), renormalised — the order Hugging "
                 "Face's generate applies them in. Sampling can draw any of {kept} of the {vocabulary} tokens; the "
                 "rest have probability 0.",
                 temperature=f"{temperature:g}", top_k=top_k, top_p=f"{top_p:g}", kept=i18n.number(found["kept"]),
                 vocabulary=i18n.number(found["vocabulary"])))  # fmt: skip


def _set_prompt(text: str) -> None:
    st.session_state["generate-prompt"] = text


def generate(spec, prompt: str, options: dict) -> None:
    model = _model(spec)
    if model is None:
        return
    try:
        result = model.generate(prompt, **options)
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["generate-result"] = (spec.key, result, options)


def show_generation(spec) -> None:
    stored = st.session_state.get("generate-result")
    if not stored or stored[0] != spec.key:
        return
    result, options = stored[1], stored[2]
    prompt_part = result.text[: len(result.text) - len(result.continuation)]
    continuation = result.continuation
    core = continuation.strip()
    lead = continuation[: len(continuation) - len(continuation.lstrip())]
    bold = f"**{safe.md(core)}**" if core else ""  # "** text**" would not be bold: spaces go outside
    st.markdown(f"> {safe.md(prompt_part)}{' ' if lead else ''}{bold}")
    st.caption(
        _("{count} tokens in {ms} ms · seed {seed} (the same seed and settings give the same text) · bold: generated",
          count=len(result.steps), ms=f"{result.latency_ms:.0f}", seed=result.seed)
    )  # fmt: skip
    if result.runtime:  # the Transformer's passes: ONNX Runtime where the model exports faithfully (core.tasks.lm_onnx)
        render.computed_by(result.runtime, result.device, result.runtime_note)
    if result.steps:
        render.figure(charts.generation_steps(result.steps), key="generate-steps")
        st.caption(
            _("Bars: the model's probability of each token it chose. Low bars are where sampling took a risk.")
        )
    if result.ids and not options.get("use_ngram") and spec.trained_here:  # Hub GPT-2: too big for a class server
        _attributions(spec, result)
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.generation(spec, result.prompt, options), language="python")


def _attributions(spec, result) -> None:
    """Integrated gradients of each generated token onto the tokens before it, next to the last layer's attention."""
    from core.tasks.seq_attribution import IG_STEPS, MAX_TARGET, attribute_generation

    st.markdown("#### " + attributions.heading("context"))
    stored = st.session_state.get("generate-attribution")
    if not stored or stored[:2] != (spec.key, result.ids):
        if not st.button(_("Attribute the generated tokens"), key="generate-attribute",
                         help=_("The first {most} generated tokens that fit the model's window; the model runs forward "
                                "and backward at {points} points of a path from the baseline to the text, in batches.",
                                most=MAX_TARGET, points=IG_STEPS + 2)):  # fmt: skip
            return
        model = _model(spec)
        if model is None:
            return
        try:
            found = attribute_generation(model, result.ids, result.start)
        except CoreError as error:
            safe.error(error)
            return
        stored = (spec.key, result.ids, found)
        st.session_state["generate-attribution"] = stored
    attributions.draw(stored[2], key="generate", kind="context")


def score(spec, text: str) -> None:
    model = _model(spec)
    if model is None:
        return
    try:
        found = model.score(text)
    except CoreError as error:
        safe.error(error)
        return
    left, right = st.columns(2)
    left.metric("Transformer", _("perplexity {value}", value=f"{found.perplexity:.1f}"),
                _("log P = {value} nats", value=f"{found.logprob:.1f}"), delta_color="off")  # fmt: skip
    right.metric(_("Kneser–Ney trigram"), _("perplexity {value}", value=f"{found.ngram_perplexity:.1f}"),
                 _("log P = {value} nats", value=f"{found.ngram_logprob:.1f}"), delta_color="off")  # fmt: skip
    tokens = [t.token for t in found.tokens]
    render.figure(
        charts.token_logprobs(tokens, {"Transformer": [t.logprob for t in found.tokens],
                                       _("Kneser–Ney trigram"): [t.ngram_logprob for t in found.tokens]}),
        key="generate-score",
    )  # fmt: skip
    st.caption(
        _("Each bar: how surprised the model is by that token (0 = certain, −10 bits = one chance in 1,024).")
    )


def more_likely(rows: list[dict], model_name: str) -> str:
    """Which of two scored sentences the model finds more likely: by total log P, with perplexity beside it."""
    a, b = rows
    key = f"{model_name} log P"
    name = _(model_name)
    if a[key] == b[key]:
        return _("The **{model}** gives both sentences the same probability.", model=name)
    better, worse = (a, b) if a[key] > b[key] else (b, a)
    by_perplexity = better[f"{model_name} perplexity"] <= worse[f"{model_name} perplexity"]
    note = _("it also has the lower perplexity") if by_perplexity else _(
        "per token it does worse (perplexity {better} vs {worse}): the token counts differ ({better_tokens} vs "
        "{worse_tokens})", better=better[f"{model_name} perplexity"], worse=worse[f"{model_name} perplexity"],
        better_tokens=better["tokens"], worse_tokens=worse["tokens"])  # fmt: skip
    return _("The **{model}** finds sentence **{sentence}** more likely (log P {better} vs {worse} nats); {note}.",
             model=name, sentence=better["sentence"], better=better[key], worse=worse[key], note=note)  # fmt: skip


def compare(spec, first: str, second: str) -> None:
    model = _model(spec)
    if model is None:
        return
    rows = []
    for name, text in (("A", first), ("B", second)):
        try:
            found = model.score(text)
        except CoreError as error:
            safe.error(_("Sentence {name}: {error}", name=name, error=i18n.problem(error)))
            return
        rows.append({"sentence": name, "text": text, "tokens": len(found.tokens),
                     "Transformer log P": round(found.logprob, 2), "Transformer perplexity": round(found.perplexity, 1),
                     "trigram log P": round(found.ngram_logprob, 2),
                     "trigram perplexity": round(found.ngram_perplexity, 1)})  # fmt: skip
    headers = {"sentence": _("sentence"), "text": _("text"), "tokens": _("tokens"),
               "trigram log P": _("trigram log P"), "trigram perplexity": _("trigram perplexity"),
               "Transformer perplexity": _("Transformer perplexity")}  # the rows keep their keys: more_likely reads them
    safe.table(pd.DataFrame(rows).rename(columns=headers), hide_index=True, width="stretch")
    for model_name in ("Transformer", N_("trigram")):
        st.markdown(f"- {more_likely(rows, model_name)}")
    st.caption(_("More likely = higher total log-probability of the sentence's tokens as the start of a text (after "
                 "the model's document-boundary token {boundary}, with no end marker). Perplexity is per token, so two "
                 "sentences with different token counts can rank differently by it.",
                 boundary=str(model.tokenizer.eos_token)))  # fmt: skip


def kv_cache_tab(spec, ready: bool) -> None:
    """The same greedy continuation with and without the key–value cache: time per step, work, memory."""
    from core.tasks import kv_cache

    st.markdown(_("To write each new token, every layer's attention needs the keys and values of all the tokens "
                  "before it. They never change once computed (no earlier token sees a later one), so a generator "
                  "keeps them — the **KV cache** — and runs only the new token through the model at each step. "
                  "Here the prompt of the Next token tab is continued greedily twice: running the whole sequence "
                  "again for every token, and with the cache."))  # fmt: skip
    count = st.slider(_("New tokens"), 4, kv_cache.MAX_NEW_TOKENS, 32, key="generate-kv-tokens")
    if st.button(_("Generate with and without the cache"), key="generate-kv-run", disabled=not ready):
        model = _model(spec)
        if model is not None:
            try:
                with st.spinner(render.queue_note(_("Generating twice…"))):
                    st.session_state["generate-kv"] = (spec.key, kv_cache.compare(model, st.session_state.get(
                        "generate-prompt", ""), count))  # fmt: skip
            except CoreError as error:
                safe.error(error)
    stored = st.session_state.get("generate-kv")
    if stored and stored[0] == spec.key:
        _kv_result(stored[1])


def _kv_result(demo) -> None:
    layers, _two, heads, tokens, d_head = demo.cache_shape
    first, second, third = st.columns(3)
    first.metric(_("Without the cache"), f"{sum(demo.without_ms):.0f} ms",
                 help=_("{count} token positions computed in all", count=i18n.number(demo.positions_without)))
    second.metric(_("With the cache"), f"{sum(demo.with_ms):.0f} ms",
                  help=_("{count} token positions computed in all", count=i18n.number(demo.positions_with)))
    per_number = demo.cache_bytes[-1] // (layers * 2 * heads * tokens * d_head)
    third.metric(_("Cache at the end"), f"{demo.cache_bytes[-1] / 1024:.0f} KiB",
                 help=_("{layers} layers × keys and values × {heads} heads × {tokens} tokens × {d_head} numbers × "
                        "{bytes} bytes", layers=layers, heads=heads, tokens=tokens, d_head=d_head,
                        bytes=per_number))  # fmt: skip
    steps = list(range(1, len(demo.with_ms) + 1))
    render.figure(heatmaps.lines(steps, {_("whole sequence each step"): demo.without_ms,
                                         _("with the KV cache"): demo.with_ms},
                                 title=_("Time per generated token"), x_title=_("step"), y_title="ms"),
                  key="generate-kv-times")  # fmt: skip
    same = (_("The same {count} tokens both ways; the largest difference between their logits is {difference} "
              "(rounding).", count=len(demo.tokens), difference=f"{demo.max_logit_difference:.1e}") if demo.same_tokens
            else _("The two runs chose different tokens at some step; from there their inputs differ."))  # fmt: skip
    per_token = demo.cache_bytes[-1] / tokens / 1024
    st.caption(_join(same, _(
        "The first step with the cache reads the whole prompt ({prompt} tokens, the boundary token included: the "
        "prefill); each later one runs the new token alone, which still attends to every cached key, so its time grows "
        "slowly with the length. Without the cache, step n runs all {prompt} + n − 1 tokens again. Over a whole "
        "generation, the cache makes the projections' and MLPs' work linear in its length instead of quadratic, and "
        "attention's quadratic instead of cubic. The price is memory, {per_token} KiB per token here (2 × layers × d_model numbers "
        "of {bytes} bytes) for every sequence being generated: what limits how many a server generates at once. "
        "Measured: {without} ms without the cache, {with_cache} ms with it.",
        prompt=demo.prompt_tokens, per_token=f"{per_token:.1f}", bytes=per_number, without=f"{sum(demo.without_ms):.0f}",
        with_cache=f"{sum(demo.with_ms):.0f}")))  # fmt: skip
    st.text("".join(demo.tokens))  # generated text: shown as text

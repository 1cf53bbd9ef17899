"""Apply → Generate: a language model as the article defines it — next-token probabilities, sampling, scoring."""

import streamlit as st

from ui import article, bert_writes, generate, guess, i18n, language, safe, scenario
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Text generation and next-token probabilities"))
st.markdown(
    _("A language model gives a probability to every possible next token given the text so far; generating text is "
      "drawing from that distribution again and again. The default models are small GPTs trained here — one on "
      "English news articles, one on People's Daily one Chinese character at a time — each next to a Kneser–Ney "
      "trigram model fitted on the same tokens, the classic baseline.")
)
task, default, prompts, _sentence, _scrambled = generate.LANGUAGES[generate.text_language()]
spec, ready = scenario.model_header(task, "generate", default=default, fallback=N_("the Learn pages while it trains"))
if ready:
    generate.heldout(spec)
next_tab, sample_tab, score_tab, compare_tab, guess_tab, cache_tab = st.tabs(
    [_("Next token"), _("Generate"), _("Score a sentence"), _("Compare two"), _("Guess the next token"),
     _("KV cache")]
)
with next_tab:
    prompt = scenario.text_box("generate", prompts, label=_("Prompt"), text_key="generate-prompt",
                               examples_label=_("Prompts"), single_line=True)  # fmt: skip
    k = st.slider(_("Show the top k tokens"), 3, 25, 10, key="generate-k")
    language.warn_text(prompt, spec.languages, i18n.title(spec), generate.defaults())  # a news GPT reads English: say so before its answer
    if ready:
        generate.next_token(spec, prompt, k)
    st.markdown("##### " + _("Sampling settings: the distribution the Generate tab draws from"))
    first, second, third = st.columns(3)
    temperature = first.slider(_("Temperature"), 0.0, 2.0, 0.8, 0.05, key="generate-temperature",
                               help=_("Divides the log-probabilities: below 1 sharpens, above 1 flattens. 0 = greedy."))  # fmt: skip
    top_k = second.slider(
        "Top-k", 0, 200, 50, key="generate-top-k", help=_("Keep only the k most likely tokens (0 = all).")
    )
    top_p = third.slider("Top-p", 0.05, 1.0, 0.95, 0.05, key="generate-top-p",
                         help=_("Keep the smallest set of tokens whose probabilities add up to p (nucleus sampling)."))  # fmt: skip
    if ready:
        generate.sampled_next_token(spec, prompt, k, temperature, top_k, top_p)
with sample_tab:
    st.caption(_("Prompt: “{prompt}”; temperature {temperature}, top-k {top_k}, top-p {top_p} (change them in the Next "
                 "token tab, where the bars show what they do)",
                 prompt=safe.md(generate.shortened(st.session_state["generate-prompt"])),
                 temperature=f"{temperature:g}", top_k=top_k, top_p=f"{top_p:g}"))  # fmt: skip
    first, second, third = st.columns(3)
    length = first.slider(_("New tokens"), 5, 120, 40, key="generate-length")
    seed = second.number_input(_("Seed"), 0, 2**31 - 1, 0, key="generate-seed")
    use_ngram = third.toggle(_("Sample from the trigram model instead"), key="generate-ngram")
    options = {"max_new_tokens": length, "temperature": temperature, "top_k": top_k, "top_p": top_p,
               "seed": int(seed), "use_ngram": use_ngram}  # fmt: skip
    if st.button(_("Generate"), key="generate-run", type="primary", disabled=not ready):
        generate.generate(spec, st.session_state["generate-prompt"], options)
    with st.container(key="generate-answer"):
        generate.show_generation(spec)
with score_tab:
    sentence = st.text_input(_("Sentence to score"), key="generate-score-text")
    if st.button(_("Score"), key="generate-score-run", disabled=not ready):
        generate.score(spec, sentence)
with compare_tab:
    first_text = st.text_input(_("Sentence A"), key="generate-a")
    second_text = st.text_input(_("Sentence B (by default: A with its words shuffled)"), key="generate-b")
    if st.button(_("Compare"), key="generate-compare-run", disabled=not ready):
        generate.compare(spec, first_text, second_text)
with guess_tab:
    if ready:
        guess.game(spec, prompts[0])
with cache_tab:
    generate.kv_cache_tab(spec, ready)
article.erratum("polarization")
article.erratum("bert-generates")
with st.expander(_("A BERT made to write, beside a GPT"), icon=":material/edit_off:"):
    bert_writes.panel()

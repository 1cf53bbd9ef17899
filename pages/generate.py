"""Apply → Generate: a language model as the article defines it — next-token probabilities, sampling, scoring."""

import streamlit as st

from core.tasks.generate import scramble
from ui import generate, language, safe, scenario
from ui.runtime import through_router

through_router()

st.title("Text generation and next-token probabilities")
st.markdown(
    "A language model gives a probability to every possible next token given the text so far; generating text is "
    "drawing from that distribution again and again. The default model is a small GPT trained here on news "
    "articles, next to a Kneser–Ney trigram model fitted on the same tokens — the classic baseline."
)
spec, ready = scenario.model_header("generation", "generate", default="lm-lee-gpt",
                                    fallback="the Learn pages while it trains")  # fmt: skip
if ready:
    generate.heldout(spec)
next_tab, sample_tab, score_tab, compare_tab = st.tabs(
    ["Next token", "Generate", "Score a sentence", "Compare two"]
)
with next_tab:
    prompt = scenario.text_box("generate", generate.PROMPTS, label="Prompt", text_key="generate-prompt",
                               examples_label="Prompts", single_line=True)  # fmt: skip
    k = st.slider("Show the top k tokens", 3, 25, 10, key="generate-k")
    language.warn_text(prompt, spec.languages, spec.title)  # a news GPT reads English: say so before its answer
    if ready:
        generate.next_token(spec, prompt, k)
with sample_tab:
    st.caption(f"Prompt: “{safe.md(st.session_state['generate-prompt'])}” (change it in the Next token tab)")
    first, second, third = st.columns(3)
    temperature = first.slider("Temperature", 0.0, 2.0, 0.8, 0.05, key="generate-temperature",
                               help="Divides the log-probabilities: below 1 sharpens, above 1 flattens. 0 = greedy.")  # fmt: skip
    top_k = second.slider(
        "Top-k", 0, 200, 50, key="generate-top-k", help="Keep only the k most likely tokens (0 = all)."
    )
    top_p = third.slider("Top-p", 0.05, 1.0, 0.95, 0.05, key="generate-top-p",
                         help="Keep the smallest set of tokens whose probabilities add up to p (nucleus sampling).")  # fmt: skip
    first, second, third = st.columns(3)
    length = first.slider("New tokens", 5, 120, 40, key="generate-length")
    seed = second.number_input("Seed", 0, 2**31 - 1, 0, key="generate-seed")
    use_ngram = third.toggle("Sample from the trigram model instead", key="generate-ngram")
    options = {"max_new_tokens": length, "temperature": temperature, "top_k": top_k, "top_p": top_p,
               "seed": int(seed), "use_ngram": use_ngram}  # fmt: skip
    if st.button("Generate", key="generate-run", type="primary", disabled=not ready):
        generate.generate(spec, st.session_state["generate-prompt"], options)
    with st.container(key="generate-answer"):
        generate.show_generation(spec)
with score_tab:
    sentence = st.text_input("Sentence to score", generate.SENTENCE, key="generate-score-text")
    if st.button("Score", key="generate-score-run", disabled=not ready):
        generate.score(spec, sentence)
with compare_tab:
    first_text = st.text_input("Sentence A", generate.SENTENCE, key="generate-a")
    if "generate-b" not in st.session_state:
        st.session_state["generate-b"] = scramble(generate.SENTENCE)
    second_text = st.text_input("Sentence B (by default: A with its words shuffled)", key="generate-b")
    if st.button("Compare", key="generate-compare-run", disabled=not ready):
        generate.compare(spec, first_text, second_text)

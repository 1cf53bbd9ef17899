"""The models LM Lab offers from the Hugging Face Hub (only when the Hub is reachable): plain data."""

from __future__ import annotations

from core.messages import N_
from core.modelspec import hub_spec

SST2_DISTILBERT = hub_spec(
    "hub-distilbert-sst2",
    N_("DistilBERT fine-tuned on SST-2 (Hub)"),
    "sentiment",
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    267832558,
    (
        N_("A 66 M-parameter DistilBERT fine-tuned on the Stanford Sentiment Treebank (67k sentences). "
        "Downloaded from the Hugging Face Hub on first use; needs internet.")
    ),
    labels=("negative", "positive"),
)

AG_NEWS_HUB = hub_spec(
    "hub-bert-ag-news",
    N_("BERT fine-tuned on AG News (Hub)"),
    "topic",
    "textattack/bert-base-uncased-ag-news",
    None,
    N_("A BERT-base classifier for four news topics from the Hugging Face Hub; needs internet."),
    license=N_("see the model card on the Hub"),
    labels=("World", "Sports", "Business", "Sci/Tech"),
)

DISTILBART_CNN = hub_spec(
    "hub-distilbart-cnn",
    N_("DistilBART CNN/DailyMail (Hub, abstractive)"),
    "summarization",
    "sshleifer/distilbart-cnn-12-6",
    1222000000,
    N_("A 306 M-parameter encoder-decoder that writes new sentences; from the Hub, needs internet."),
)

T5_SMALL = hub_spec(
    "hub-t5-small",
    N_("T5-small (Hub, abstractive)"),
    "summarization",
    "google-t5/t5-small",
    242000000,
    N_("A 60 M-parameter text-to-text model, prompted with 'summarize:'; from the Hub, needs internet."),
)

BART_MNLI = hub_spec(
    "hub-bart-large-mnli",
    N_("BART-large MNLI zero-shot (Hub)"),
    "zero-shot",
    "facebook/bart-large-mnli",
    1630000000,
    (
        N_("A 407 M-parameter model trained for natural-language inference: it scores whether the text "
        "entails 'This text is about {label}.' for each label. From the Hub; needs internet.")
    ),
    license="MIT",
)

OPUS_EN_ZH = hub_spec(
    "hub-opus-mt-en-zh",
    N_("Marian opus-mt English to Chinese (Hub)"),
    "translation",
    "Helsinki-NLP/opus-mt-en-zh",
    312000000,
    N_("A 77 M-parameter Marian model trained on OPUS parallel data; needs internet."),
    license="CC-BY-4.0",
)

OPUS_EN_DE = hub_spec(
    "hub-opus-mt-en-de",
    N_("Marian opus-mt English to German (Hub)"),
    "translation",
    "Helsinki-NLP/opus-mt-en-de",
    298000000,
    N_("A Marian model trained on OPUS; needs internet."),
    license="CC-BY-4.0",
)

OPUS_EN_FR = hub_spec(
    "hub-opus-mt-en-fr",
    N_("Marian opus-mt English to French (Hub)"),
    "translation",
    "Helsinki-NLP/opus-mt-en-fr",
    301000000,
    N_("A Marian model trained on OPUS; needs internet."),
    license="CC-BY-4.0",
)

GPT2 = hub_spec(
    "hub-gpt2",
    N_("GPT-2 small (Hub)"),
    "generation",
    "openai-community/gpt2",
    548000000,
    N_("OpenAI's 124 M-parameter GPT-2, trained on 8 M web pages; needs internet."),
    license="MIT",
)

DISTILGPT2 = hub_spec(
    "hub-distilgpt2",
    N_("DistilGPT-2 (Hub)"),
    "generation",
    "distilbert/distilgpt2",
    353000000,
    N_("An 82 M-parameter distilled GPT-2; needs internet."),
)

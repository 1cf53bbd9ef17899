"""Copyable code for the Privacy page: the personal-data finder and the masking it ran, in plain Python (no LM Lab
needed), its patterns copied from LM Lab's."""

from __future__ import annotations

import inspect
import re

from core.training import privacy


def personal_data(text: str) -> str:
    """The finder and the masking the page ran, its patterns copied from LM Lab's."""
    patterns = "".join(f"    {kind!r}: re.compile({pattern.pattern!r}{', re.IGNORECASE' if pattern.flags & re.IGNORECASE else ''}),\n"
                       for kind, pattern in privacy.PII_PATTERNS.items())  # fmt: skip
    checker = inspect.getsource(privacy.valid_chinese_id) + "\n\n" + inspect.getsource(privacy.phone_end)
    return (
        "import re\n\n"
        "PATTERNS = {  # tried in this order; a later match never overlaps an earlier one\n"
        + patterns
        + "}\n"
        f"ID_WEIGHTS = {privacy.ID_WEIGHTS!r}\n"
        f"ID_CHECK = {privacy.ID_CHECK!r}\n\n\n"
        + checker
        + "\n\n"
        "def find(text):\n"
        "    found, taken = [], set()\n"
        "    for kind, pattern in PATTERNS.items():\n"
        "        for m in pattern.finditer(text):\n"
        "            if taken & set(range(m.start(), m.end())):\n"
        "                continue\n"
        '            if kind == "Chinese ID" and not valid_chinese_id(m.group()):\n'
        "                continue\n"
        '            end = phone_end(text, m.start(), m.end()) if kind == "phone" else m.end()\n'
        "            if end is None:\n"
        "                continue\n"
        "            found.append((m.start(), end, kind))\n"
        "            taken |= set(range(m.start(), end))\n"
        "    return sorted(found)\n\n\n"
        "def mask(text):\n"
        "    out, last = [], 0\n"
        "    for start, end, kind in find(text):\n"
        '        out += [text[last:start], f"[{kind}]"]\n'
        "        last = end\n"
        '    return "".join([*out, text[last:]])\n\n\n'
        f"text = {text[:2000]!r}\n"
        "print(mask(text))\n"
    )


def membership(spec, language_model: bool) -> str:
    """The loss-threshold attack the page ran, recomputed: the texts from LM Lab's split (run it from LM Lab's folder),
    each text's loss with plain transformers, and the AUC with scikit-learn."""
    from core import settings
    from core.tasks.snippets import _where

    where, note = _where(spec)
    head = ("import math\n\nimport numpy as np\nimport torch\nfrom sklearn.metrics import roc_auc_score\n"
            f"from transformers import {'AutoModelForCausalLM' if language_model else 'AutoModelForSequenceClassification'}"
            ", AutoTokenizer\n\n"
            "from core import catalog\n"
            + ("" if language_model else "from core.tasks.inputs import clean_text\n")
            + "from core.training import privacy  # the lists of texts: run this in LM Lab's folder\n\n"
            + note + f"folder = {where}\ntokenizer = AutoTokenizer.from_pretrained(folder)\n")  # fmt: skip
    if language_model:
        body = (
            "model = AutoModelForCausalLM.from_pretrained(folder).eval()\n"
            f"members, others = privacy.lm_documents(catalog.get_spec({spec.key!r}))\n"
            "block = min(model.config.n_positions, 128)\n\n\n"
            "def loss(text):  # mean -log p per token, in windows of `block` tokens that overlap by half\n"
            "    ids = [tokenizer.eos_token_id, *tokenizer(text, split_special_tokens=True)['input_ids']]\n"
            "    total, count, scored_until, start = 0.0, 0, 1, 0\n"
            "    while scored_until < len(ids):\n"
            "        window = ids[start : start + block]\n"
            "        with torch.no_grad():\n"
            "            logprobs = torch.log_softmax(model(torch.tensor([window])).logits[0], dim=-1)\n"
            "        for position in range(max(scored_until - start, 1), len(window)):\n"
            "            total -= float(logprobs[position - 1, window[position]])\n"
            "            count += 1\n"
            "        scored_until, start = start + len(window), start + block // 2\n"
            "    return total / max(count, 1)\n\n\n"
        )
    else:
        body = (
            "# The page's answers came from LM Lab's serving runtime (ONNX Runtime int8 where it gives PyTorch's label\n"
            "# on at least 98 % of the held-out texts); this runs PyTorch fp32, so the AUC may differ a little.\n"
            "model = AutoModelForSequenceClassification.from_pretrained(folder).eval()\n"
            f"members, others = privacy.classifier_texts(catalog.get_spec({spec.key!r}))\n"
            f"most = min({settings.limits().max_tokens}, model.config.max_position_embeddings, tokenizer.model_max_length)\n"
            "names = {i: n.lower() for i, n in model.config.id2label.items()}\n\n\n"
            "def loss(example):  # -log p(true label) of the text as the page's classifier read it (cut, then cleaned)\n"
            f"    text = clean_text(example.text[:{settings.limits().max_chars}])  # NFC, invisible control characters dropped\n"
            "    batch = tokenizer(text, truncation=True, max_length=most, return_tensors='pt')\n"
            "    with torch.no_grad():\n"
            "        p = torch.softmax(model(**batch).logits[0], dim=-1)\n"
            "    index = next(i for i, n in names.items() if n == example.label)\n"
            "    return -math.log(max(float(p[index]), 1e-12))\n\n\n"
        )
    return head + body + (
        "member_losses = np.array([loss(x) for x in members])\n"
        "other_losses = np.array([loss(x) for x in others])\n"
        "# a lower loss means 'member': the AUC of -loss, training texts labelled 1\n"
        "truth = [1] * len(member_losses) + [0] * len(other_losses)\n"
        "auc = roc_auc_score(truth, -np.concatenate([member_losses, other_losses]))\n"
        "print(f'AUC {auc:.3f} on {len(members)} training and {len(others)} held-out texts; '\n"
        "      f'mean loss {member_losses.mean():.2f} / {other_losses.mean():.2f}')\n"
    )

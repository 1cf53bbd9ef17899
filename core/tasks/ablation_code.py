"""Copyable code for the Ablate page: the same hooks on the same model with plain transformers, printing the numbers
the page showed. A part replaced by its mean takes the means as the page did (LM Lab's own functions, over the same
held-out text); everything else is written out."""

from core.catalog import HUB, ModelSpec
from core.tasks.ablation import MEAN_TOKENS
from core.tasks.snippets import _clean_prompt, _where

_SILENCE = (
    "def silence(chosen, width):\n"
    "    def hook(module, inputs):  # the heads side by side, before W_O: zero the chosen ones\n"
    "        merged = inputs[0].clone()\n"
    "        for head in chosen:\n"
    "            merged[..., head * width : (head + 1) * width] = 0\n"
    "        return (merged, *inputs[1:])\n"
    "    return hook\n\n\n"
)
_REPLACE = (
    "def put(target, mean):  # one mean for every position, or two rows: the first position's ([CLS]), the rest's\n"
    "    target[...] = mean if mean.dim() == 1 else mean[1]\n"
    "    if mean.dim() == 2:\n"
    "        target[..., :1, :] = mean[0]\n\n\n"
    "def silence(chosen, width, mean):\n"
    "    def hook(module, inputs):  # the heads side by side, before W_O: the chosen ones get their mean output\n"
    "        merged = inputs[0].clone()\n"
    "        for head in chosen:\n"
    "            part = slice(head * width, (head + 1) * width)\n"
    "            put(merged[..., part], mean[..., part])\n"
    "        return (merged, *inputs[1:])\n"
    "    return hook\n\n\n"
    "def averaged(mean):\n"
    "    def hook(module, inputs, out):  # an MLP's output replaced by its mean\n"
    "        new = torch.empty_like(out)\n"
    "        put(new, mean)\n"
    "        return new\n"
    "    return hook\n\n\n"
)


def _switches(mean: bool, head_mean: str = 'means[("heads", layer)]',
              mlp_mean: str = 'means[("mlp", layer)]') -> tuple[str, str, str]:  # fmt: skip
    """(the hook functions, the extra argument a head hook gets, an MLP's hook) for parts zeroed or, with ``mean``,
    replaced by the means the expressions ``head_mean`` and ``mlp_mean`` read."""
    if not mean:
        return _SILENCE, "", "lambda m, i, out: out * 0"
    return _REPLACE, f", {head_mean}", f"averaged({mlp_mean})"


def ablation(spec: ModelSpec, text: str, heads, mlps, *, mean: bool = False) -> str:
    """The Ablate page's computation with plain hooks: the same perplexities the page showed (with ``mean``, each
    part replaced by its mean output, taken by LM Lab's ``lm_means`` as the page took it)."""
    where, note = _where(spec)
    hooks, head_mean, mlp_hook = _switches(mean)
    means = (
        f"# each part's mean output over the first {MEAN_TOKENS:,} held-out tokens, as the page took it (run this in "
        "LM Lab's folder)\n"
        f"means = lm_means(LanguageModel(catalog.get_spec({spec.key!r})))\n"
    ) if mean else ""  # fmt: skip
    return (
        "import math\n\nimport torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        + ("from core import catalog\nfrom core.tasks.ablation import lm_means\nfrom core.tasks.generate import "
           "LanguageModel\n\n" if mean else "")
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModelForCausalLM.from_pretrained(folder).eval()\n"
        f"heads = {sorted(tuple(pair) for pair in heads)!r}  # (layer, head) pairs to switch off\n"
        f"mlps = {sorted(mlps)!r}  # layers whose MLP is switched off\n"
        f"text = {_clean_prompt(text)!r}\n"
        "ids = torch.tensor([[tokenizer.bos_token_id, *tokenizer(text, split_special_tokens=True)[\"input_ids\"]]])\n"
        "width = model.config.n_embd // model.config.n_head\n"
        + means
        + "\n\n"
        + hooks
        + "def perplexity():\n"
        "    with torch.no_grad():\n"
        "        logprobs = torch.log_softmax(model(ids).logits[0], dim=-1)\n"
        "    picked = logprobs[torch.arange(ids.shape[1] - 1), ids[0, 1:]]\n"
        "    return math.exp(-picked.mean().item())\n\n\n"
        "before = perplexity()\n"
        "hooks = [model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(\n"
        f"    silence([h for l, h in heads if l == layer], width{head_mean})) for layer in {{l for l, _ in heads}}]\n"
        f"hooks += [model.transformer.h[layer].mlp.register_forward_hook({mlp_hook}) for layer in mlps]\n"
        "after = perplexity()\n"
        "for hook in hooks:\n"
        "    hook.remove()\n"
        "print(f\"perplexity {before:.1f} -> {after:.1f}\")\n"
    )


def classifier_ablation(spec: ModelSpec, text: str, heads, mlps, max_tokens: int, *, mean: bool = False) -> str:
    """The Ablate page's classifier section with plain hooks: the class probabilities it showed, both ways (with
    ``mean``, each part replaced by its mean output, taken by LM Lab's ``held_out_means`` as the page took it)."""
    where, note = _where(spec)
    hooks, head_mean, mlp_hook = _switches(mean)
    means = (
        f"# each part's mean output over the first {MEAN_TOKENS:,} tokens of the held-out texts, [CLS] apart, as the "
        "page took it (run this in LM Lab's folder)\n"
        f"shared = TransformerClassifier(catalog.get_spec({spec.key!r}), runtime=\"torch\")\n"
        f"means = held_out_means(shared, held_out_texts(shared), max_length={max_tokens})\n"
    ) if mean else ""  # fmt: skip
    return (
        "import torch\nfrom transformers import AutoModelForSequenceClassification, AutoTokenizer\n\n"
        + ("from core import catalog\nfrom core.tasks.ablation_classifier import held_out_means, held_out_texts\n"
           "from core.tasks.classify import TransformerClassifier\n\n" if mean else "")
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModelForSequenceClassification.from_pretrained(folder).eval()\n"
        f"heads = {sorted(tuple(pair) for pair in heads)!r}  # (layer, head) pairs to switch off\n"
        f"mlps = {sorted(mlps)!r}  # layers whose MLP is switched off\n"
        f"batch = tokenizer({text!r}, truncation=True, max_length={max_tokens}, return_tensors=\"pt\")\n"
        "layers = model.base_model.encoder.layer\n"
        "width = model.config.hidden_size // model.config.num_attention_heads\n"
        + means
        + "\n\n"
        + hooks
        + "def probabilities():\n"
        "    with torch.no_grad():\n"
        "        return torch.softmax(model(**batch).logits[0], dim=-1).tolist()\n\n\n"
        "before = probabilities()\n"
        "# attention.output.dense is W_O; output.dense is the MLP's second layer (BERT's layer norm after it still runs)\n"
        "hooks = [layers[layer].attention.output.dense.register_forward_pre_hook(\n"
        f"    silence([h for l, h in heads if l == layer], width{head_mean})) for layer in {{l for l, _ in heads}}]\n"
        f"hooks += [layers[layer].output.dense.register_forward_hook({mlp_hook}) for layer in mlps]\n"
        "after = probabilities()\n"
        "for hook in hooks:\n"
        "    hook.remove()\n"
        "for label, p, q in zip(model.config.id2label.values(), before, after):\n"
        "    print(f\"{label:>12} {p:.4f} -> {q:.4f}\")\n"
    )  # fmt: skip


def translation_ablation(spec: ModelSpec, text: str, heads, mlps, *, max_source: int = 64, max_new: int = 64,
                         mean: bool = False) -> str:  # fmt: skip
    """The Ablate page's translation section with plain hooks: the two greedy translations it showed (with ``mean``,
    each part replaced by its mean output, taken by LM Lab's ``held_out_means`` as the page took it)."""
    where, note = _where(spec)
    hooks, head_mean, mlp_hook = _switches(mean, "means[(where, layer)]", 'means[("mlp", stack, layer)]')
    means = (
        "# each part's mean output over the held-out sentence pairs read teacher-forced, as the page took it (run this "
        "in LM Lab's folder)\n"
        f"shared = Translator(catalog.get_spec({spec.key!r}))\n"
        "means = held_out_means(shared, held_out_pairs(shared.spec))\n"
    ) if mean else ""  # fmt: skip
    return (
        "import torch\nfrom transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n\n"
        + ("from core import catalog\nfrom core.tasks.ablation_translation import held_out_means, held_out_pairs\n"
           "from core.tasks.translate import Translator\n\n" if mean else "")
        + note
        + f"folder = {where}\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        + ("model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()\n" if spec.source == HUB else
           "model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation=\"eager\").eval()\n")
        +
        f"heads = {sorted(tuple(part) for part in heads)!r}  # (where, layer, head) to switch off\n"
        f"mlps = {sorted(tuple(part) for part in mlps)!r}  # (stack, layer) whose MLP is switched off\n"
        f"batch = tokenizer([{text[:300]!r}], truncation=True, max_length={max_source}, return_tensors=\"pt\",\n"
        "                  return_token_type_ids=False)\n"
        "stacks = {\"encoder\": model.model.encoder.layers, \"decoder\": model.model.decoder.layers}\n"
        "w_o = {\"encoder\": [b.self_attn.out_proj for b in stacks[\"encoder\"]],\n"
        "       \"decoder\": [b.self_attn.out_proj for b in stacks[\"decoder\"]],\n"
        "       \"cross\": [b.encoder_attn.out_proj for b in stacks[\"decoder\"]]}  # cross-attention's W_O\n"
        "heads_of = {\"encoder\": model.config.encoder_attention_heads, \"decoder\": model.config.decoder_attention_heads,\n"
        "            \"cross\": model.config.decoder_attention_heads}\n"
        + means
        + "\n\n"
        + hooks
        + "def translate():\n"
        "    with torch.no_grad():\n"
        f"        ids = model.generate(**batch, num_beams=1, do_sample=False, max_new_tokens={max_new})[0]\n"
        "    return tokenizer.decode(ids, skip_special_tokens=True)\n\n\n"
        "before = translate()\n"
        "hooks = [w_o[where][layer].register_forward_pre_hook(silence(\n"
        f"    [h for w, l, h in heads if (w, l) == (where, layer)], w_o[where][layer].in_features // heads_of[where]{head_mean}))\n"
        "    for where, layer in {(w, l) for w, l, _ in heads}]\n"
        f"hooks += [stacks[stack][layer].fc2.register_forward_hook({mlp_hook}) for stack, layer in mlps]\n"
        "after = translate()\n"
        "for hook in hooks:\n"
        "    hook.remove()\n"
        "print(before, \"->\", after)  # LM Lab joins the Chinese characters the tokenizer spaces apart\n"
    )  # fmt: skip

"""Copyable code for the Challenges pages: what the bias probe and the typo attack did, with plain transformers (no
LM Lab needed; the personal-data finder's is core.training.privacy_code)."""

from __future__ import annotations

from core.catalog import ModelSpec
from core.tasks.snippets import _where


def bias_probe(spec: ModelSpec, templates, group_a, group_b, label: str, max_tokens: int,
               runtime: str = "torch") -> str:  # fmt: skip
    """The counterfactual probe: every template with every term, the class's probability, the mean gap between the
    groups and its permutation p-value (exact when there are at most 10,000 splits, as on the page)."""
    from core.tasks.bias import PERMUTATIONS, PLACEHOLDER

    where, note = _where(spec)
    return (
        "import itertools\nimport math\n\nimport numpy as np\nfrom transformers import pipeline\n\n"
        + note
        + _runtime_note(runtime)
        + f'classifier = pipeline("text-classification", model={where}, top_k=None)\n'
        f"templates = {list(templates)!r}\n"
        f"group_a = {list(group_a)!r}\n"
        f"group_b = {list(group_b)!r}\n"
        f"label = {label!r}\n\n\n"
        "def fill(template, term):\n"
        f"    text = template.replace({PLACEHOLDER!r}, term)\n"
        f"    opens = template.startswith({PLACEHOLDER!r}) and term[:1].isascii()\n"
        "    return text[:1].upper() + text[1:] if opens else text\n\n\n"
        "terms = group_a + group_b\n"
        f"answers = classifier([fill(t, term) for t in templates for term in terms], truncation=True, max_length={max_tokens})\n"
        "p = np.array([{s['label']: s['score'] for s in row}[label] for row in answers]).reshape(len(templates), -1)\n"
        "k = len(group_a)\n"
        "means = p.mean(axis=0)  # each term's mean over the templates\n"
        "gap = means[:k].mean() - means[k:].mean()\n"
        "print(f'mean gap A - B: {100 * gap:+.2f} points')\n"
        "for term, mean in zip(terms, means):\n"
        "    print(f'  {term}: {100 * mean:.1f} %')\n"
        "# permutation test: whole terms re-assigned to the two groups\n"
        f"if math.comb(len(terms), k) <= {PERMUTATIONS}:\n"
        "    gaps = [abs(means[list(c)].mean() - np.delete(means, list(c)).mean())\n"
        "            for c in itertools.combinations(range(len(terms)), k)]\n"
        "    print('permutation p:', round(float(np.mean(np.array(gaps) >= abs(gap) - 1e-12)), 4))\n"
        "else:\n"
        "    print('more splits than the page enumerates: it samples them')\n"
    )


RUNTIME_NOTE = ("# The page's answers came from {runtime} (LM Lab's serving runtime); this runs PyTorch fp32, which\n"
                "# may answer a text near the decision boundary differently.\n")


def _runtime_note(runtime: str) -> str:
    return "" if runtime in ("torch", "") else RUNTIME_NOTE.format(runtime={"onnx": "ONNX Runtime fp32"}.get(
        runtime, "ONNX Runtime int8"))


def attack_check(spec: ModelSpec, turned: list[tuple[str, str]], max_tokens: int, runtime: str = "torch") -> str:
    """The attack's turned texts, before and after its edits, answered again with plain transformers."""
    where, note = _where(spec)
    return (
        "from transformers import pipeline\n\n"
        + note
        + _runtime_note(runtime)
        + f'classifier = pipeline("text-classification", model={where})\n'
        f"turned = {turned!r}  # (before, after the edits)\n"
        "for before, after in turned:\n"
        f"    old, new = (classifier(text, truncation=True, max_length={max_tokens})[0]['label'] for text in (before, after))\n"
        "    print(f'{old} -> {new}: {after}')\n"
    )

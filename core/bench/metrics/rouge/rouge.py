"""ROUGE-1, ROUGE-2 and ROUGE-L F1 (Lin, 2004) between predictions and references.

LM Lab's own evaluate module, loaded by path (works offline). Tokens are lowercase runs of
letters and digits, as in the reference implementation without stemming.
"""

import re

import datasets
import evaluate

_DESCRIPTION = "ROUGE-N: n-gram overlap F1; ROUGE-L: longest-common-subsequence F1. Averaged over the pairs."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): generated texts.
    references (list of str): reference texts, same length.
Returns:
    rouge1, rouge2, rougeL (float): mean F1 over the pairs, in [0, 1].
"""


def _tokens(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def _ngram_f1(a, b, n):
    grams_a = [tuple(a[i : i + n]) for i in range(len(a) - n + 1)]
    grams_b = [tuple(b[i : i + n]) for i in range(len(b) - n + 1)]
    if not grams_a or not grams_b:
        return 0.0
    counts = {}
    for gram in grams_b:
        counts[gram] = counts.get(gram, 0) + 1
    overlap = 0
    for gram in grams_a:
        if counts.get(gram, 0) > 0:
            overlap += 1
            counts[gram] -= 1
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(grams_a), overlap / len(grams_b)
    return 2 * precision * recall / (precision + recall)


def _lcs_f1(a, b):
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Lin, C.-Y. (2004). ROUGE: A Package for Automatic Evaluation of Summaries.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        if len(predictions) != len(references) or not predictions:
            raise ValueError("ROUGE needs the same, non-zero number of predictions and references.")
        pairs = [(_tokens(p), _tokens(r)) for p, r in zip(predictions, references, strict=True)]
        return {
            "rouge1": sum(_ngram_f1(p, r, 1) for p, r in pairs) / len(pairs),
            "rouge2": sum(_ngram_f1(p, r, 2) for p, r in pairs) / len(pairs),
            "rougeL": sum(_lcs_f1(p, r) for p, r in pairs) / len(pairs),
        }

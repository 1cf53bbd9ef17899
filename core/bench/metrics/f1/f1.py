"""F1 score, macro-averaged by default: the mean over classes of 2·P·R / (P + R).

LM Lab's own evaluate module, loaded by path (works offline). Labels are integer class ids.
A class that is never predicted and never present is left out of the macro average; one that is
present but never predicted (or the reverse) counts with F1 = 0, as in scikit-learn.
"""

import datasets
import evaluate

_DESCRIPTION = "F1 = 2·precision·recall / (precision + recall), per class, then averaged."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    average (str): "macro" (default), "micro", or "none" for a list with one F1 per class.
    labels (list of int, optional): the classes to score, in order; default: every class seen.
Returns:
    f1 (float or list of float).
"""


def _per_class(predictions, references, labels):
    scores = []
    for label in labels:
        tp = sum(1 for p, r in zip(predictions, references, strict=True) if p == label and r == label)
        fp = sum(1 for p, r in zip(predictions, references, strict=True) if p == label and r != label)
        fn = sum(1 for p, r in zip(predictions, references, strict=True) if p != label and r == label)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return scores


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, average="macro", labels=None):
        if len(predictions) != len(references) or not predictions:
            raise ValueError("F1 needs the same, non-zero number of predictions and references.")
        labels = sorted(set(predictions) | set(references)) if labels is None else list(labels)
        if average == "micro":
            correct = sum(1 for p, r in zip(predictions, references, strict=True) if p == r)
            return {"f1": correct / len(predictions)}
        scores = _per_class(predictions, references, labels)
        if average == "none":
            return {"f1": scores}
        if average != "macro":
            raise ValueError(f"average must be 'macro', 'micro' or 'none', got {average!r}.")
        return {"f1": sum(scores) / len(scores)}

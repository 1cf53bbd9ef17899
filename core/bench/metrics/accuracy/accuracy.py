"""Accuracy: the share of predictions equal to their reference label.

LM Lab's own evaluate module, loaded by path so it works with no internet
(``evaluate.load(<this folder>)``). Labels are integer class ids.
"""

import datasets
import evaluate

_DESCRIPTION = "Accuracy = (number of predictions equal to the reference) / (number of examples)."

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids, same length.
    normalize (bool): return the share (default) or the count of correct predictions.
    sample_weight (list of float, optional): a weight per example.
Returns:
    accuracy (float): the share (or count) of correct predictions.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} references.")
        if not predictions:
            raise ValueError("Accuracy of zero examples is undefined.")
        weights = sample_weight if sample_weight is not None else [1.0] * len(predictions)
        correct = sum(w for p, r, w in zip(predictions, references, weights, strict=True) if p == r)
        total = sum(weights)
        return {"accuracy": float(correct / total) if normalize else float(correct)}

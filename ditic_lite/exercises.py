"""Checks for the "Your turn" exercises: does the student's prediction hold in the run just made?

Each notebook ends with exercises: change one thing (a parameter, the photo, a line of code),
PREDICT what will happen, run, observe. Where the answer is definite, the exercise cell ends with
one of the checks below. A check compares the prediction with the numbers measured in that very
run (never with a stored answer: another photo may honestly give another answer) and returns a
:class:`Feedback`, one line that Jupyter shows in colour::

    prediction = "down"  # "up", "down" or "same": what do the bytes do when quant_step doubles?
    dl.exercises.check_direction(prediction, before=len(data), after=len(coarser), what="the file size",
                                 unit=" bytes")

A prediction left as ``None`` gets the measured answer without a judgement, so that every
exercise cell runs as it is (the test suite runs them with their default values). Used by the
"Your turn" sections of notebooks ``01`` to ``07``.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

DIRECTIONS = ("up", "down", "same")
_SYNONYMS = {
    "up": ("up", "higher", "more", "larger", "bigger", "increase", "increases", "rises", "+"),
    "down": ("down", "lower", "less", "fewer", "smaller", "decrease", "decreases", "falls", "-"),
    "same": ("same", "unchanged", "no change", "equal", "stays", "="),
}
ANSWERS = {"supports": "yes", "contradicts": "no", "inconclusive": "can't tell"}
"""A verdict of :mod:`ditic_lite.claims` as the answer a student predicts (:func:`check_verdict`)."""
_COLOURS = {True: "#d9ead3", False: "#f4cccc", None: "#e8eef7"}  # the claims table's green and red; blue: no prediction


@dataclass(frozen=True)
class Feedback:
    """The outcome of a check: ``correct`` is True or False, or None when no prediction was made;
    ``message`` says what was measured and how that compares with the prediction."""

    correct: bool | None
    message: str

    @property
    def mark(self) -> str:
        """"Right", "Not this time" or "Measured" (no prediction made)."""
        return {True: "Right", False: "Not this time", None: "Measured"}[self.correct]

    def __str__(self) -> str:
        return f"{self.mark}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (f'<div style="background:{_COLOURS[self.correct]};padding:6px 10px;border-radius:4px">'
                f"<b>{self.mark}:</b> {html.escape(self.message)}</div>")


def _number(x: float, unit: str = "") -> str:
    """A measured number as a student reads it: 4 significant digits, then the unit."""
    return f"{x:.4g}{unit}"


def _normalise(prediction: str, choices: Mapping[str, Sequence[str]]) -> str | None:
    said = str(prediction).strip().lower()
    return next((key for key, words in choices.items() if said == key or said in words), None)


def _judge(prediction: object, predicted: str | None, measured: str, observed: str, options: Sequence[str]) -> Feedback:
    """Feedback for a prediction (``predicted``: the normalised one, None if not recognised)."""
    observed = observed[:1].upper() + observed[1:]
    if prediction is None:
        return Feedback(None, f"{observed} Write your prediction first, then run the cell again.")
    if predicted is None:
        return Feedback(None, f"{prediction!r} is not one of {', '.join(map(repr, options))}. {observed}")
    if predicted == measured:
        return Feedback(True, f"you predicted {predicted!r}. {observed}")
    return Feedback(False, f"you predicted {predicted!r}, the run says {measured!r}. {observed}")


def measured_direction(before: float, after: float, tolerance: float = 0.0) -> str:
    """"up", "down" or "same" (a change no larger than ``tolerance``, in the units of the values)."""
    change = after - before
    return "same" if abs(change) <= tolerance else "up" if change > 0 else "down"


def check_direction(prediction: str | None, before: float, after: float, what: str, tolerance: float = 0.0,
                    unit: str = "") -> Feedback:
    """Did ``what`` go "up", "down" or stay the "same" (within ``tolerance``) from ``before`` to
    ``after``, as predicted? Also takes "higher", "more", "lower", "fewer", "unchanged", ..."""
    measured = measured_direction(before, after, tolerance)
    change = after - before
    relative = f", {change / abs(before):+.0%}" if before and math.isfinite(before) else ""
    within = f" (changes within ±{_number(tolerance, unit)} count as the same)" if tolerance else ""
    observed = (f"{what} went from {_number(before, unit)} to {_number(after, unit)} "
                f"({change:+.4g}{unit}{relative}): {measured}{within}.")
    return _judge(prediction, _normalise(prediction, _SYNONYMS) if prediction is not None else None,
                  measured, observed, DIRECTIONS)


def check_largest(prediction: str | None, values: Mapping[str, float], what: str, unit: str = "",
                  smallest: bool = False) -> Feedback:
    """Which name in ``values`` has the largest (``smallest=True``: smallest) ``what``, as predicted?"""
    if not values:
        raise ValueError("check_largest needs at least one measured value")
    pick = min if smallest else max
    measured = str(pick(values, key=lambda k: values[k]))
    listing = ", ".join(f"{k}: {_number(float(v), unit)}" for k, v in values.items())
    observed = f"{'smallest' if smallest else 'largest'} {what}: {measured} ({listing})."
    names = {str(k).lower(): (str(k),) for k in values}
    predicted = _normalise(prediction, names) if prediction is not None else None
    if predicted is not None:
        predicted = next(str(k) for k in values if str(k).lower() == predicted)
    return _judge(prediction, predicted, measured, observed, [str(k) for k in values])


def check_number(prediction: float | None, measured: float, what: str, relative: float = 0.25,
                 unit: str = "") -> Feedback:
    """Is the predicted value of ``what`` within ``relative`` (0.25: ±25 %) of the measured one?"""
    if prediction is None:
        return Feedback(None, f"{what} is {_number(measured, unit)}. Write your estimate first, then run the cell again.")
    off = (float(prediction) - measured) / abs(measured) if measured else float("inf")
    correct = abs(off) <= relative
    return Feedback(correct, f"you estimated {_number(float(prediction), unit)}, the run measured "
                             f"{_number(measured, unit)} ({off:+.0%}; within ±{relative:.0%} counts).")


def check_verdict(prediction: str | None, verdict) -> Feedback:
    """Did the claim come out as predicted: "yes", "no" or "can't tell" (a :class:`claims.Verdict`:
    supports, contradicts, inconclusive)? The message is the verdict's plain takeaway."""
    from .claims import takeaway

    measured = ANSWERS[verdict.verdict]
    choices = {"yes": ("supports", "true"), "no": ("contradicts", "false"),
               "can't tell": ("cant tell", "can not tell", "cannot tell", "inconclusive", "unsure", "?")}
    predicted = _normalise(prediction, choices) if prediction is not None else None
    return _judge(prediction, predicted, measured, takeaway(verdict), list(choices))

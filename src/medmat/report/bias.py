"""Letter bias: does an arm pick one option letter far more often than the gold answers use it?

A model that always answers "A" scores chance on a letter-balanced test set but would look
strong on a test set where "A" is over-represented, so the report flags arms whose predicted
letter shares stray from the gold shares. The runner's ``letter_bias`` entry is read in any of
these forms (shares or counts; counts are normalised):

- medmat.evaluate.letter_bias's dict: ``max_share_gap``/``max_letter`` with
  ``predicted_share``/``gold_share`` (or ``predicted``/``gold`` counts) per letter;
- ``{"max_gap": 0.21, "letter": "A", ...}``: the gap already computed;
- ``{"predicted": {"A": 0.46, ...}, "gold": {"A": 0.25, ...}}`` (also ``pred``/``expected``/
  ``answer``/``truth`` for the two sides);
- ``{"A": 0.46, "B": 0.18, ...}``: predicted shares only, compared with a uniform gold share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A gap this large (15 points of answer share) is well outside sampling noise for the test-set
# sizes medmat uses (sd of a share is <= 3.5 points at n = 200), so it means a real preference.
DEFAULT_THRESHOLD = 0.15

# shares first: a counts-only mapping is normalised to the same shares
_PRED_KEYS = ("predicted_share", "predicted", "pred", "prediction", "predictions")
_GOLD_KEYS = ("gold_share", "gold", "expected", "answer", "answers", "truth", "true", "target")


@dataclass(frozen=True)
class LetterGap:
    gap: float  # largest |predicted share - gold share| over letters
    letter: str | None  # the letter where it happens (None when the runner gave only the number)
    predicted: float | None
    gold: float | None


def _shares(obj: Any) -> dict[str, float] | None:
    """Letter -> share from a mapping of shares or counts; None if it is not such a mapping."""
    if not isinstance(obj, Mapping) or not obj:
        return None
    out: dict[str, float] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or isinstance(value, bool):
            return None
        if not isinstance(value, (int, float)) or value < 0:
            return None
        out[key] = float(value)
    total = sum(out.values())
    if total <= 0:
        return None
    return {k: v / total for k, v in out.items()}


def _first(obj: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((obj[k] for k in keys if k in obj), None)


def letter_gap(bias: Any) -> LetterGap | None:
    """The largest predicted-vs-gold letter share gap, or None when it cannot be read."""
    if hasattr(bias, "model_dump"):  # a typed LetterBias from medmat.evaluate.results
        bias = bias.model_dump()
    if not isinstance(bias, Mapping) or not bias:
        return None
    pred = _shares(_first(bias, _PRED_KEYS))
    gold = _shares(_first(bias, _GOLD_KEYS))
    max_gap = bias.get("max_gap", bias.get("max_share_gap"))
    if isinstance(max_gap, (int, float)) and not isinstance(max_gap, bool):
        # trust the runner's number (its shares may use other denominators); add the two
        # shares of its letter when they are there, for the wording
        letter = bias.get("letter", bias.get("max_letter"))
        letter = letter if isinstance(letter, str) else None
        p = pred.get(letter) if pred and letter else None
        g = gold.get(letter) if gold and letter else None
        return LetterGap(float(max_gap), letter, p, g)
    if pred is None:
        pred = _shares(bias)
        if pred is None:
            return None
        gold = {k: 1.0 / len(pred) for k in pred}
    if gold is None:
        gold = {k: 1.0 / len(pred) for k in pred}
    letters = sorted(set(pred) | set(gold))
    # sorted letters + strict ">" keep the reported letter stable when gaps tie
    best = LetterGap(-1.0, None, None, None)
    for letter in letters:
        p, g = pred.get(letter, 0.0), gold.get(letter, 0.0)
        if abs(p - g) > best.gap:
            best = LetterGap(abs(p - g), letter, p, g)
    return best


def describe_gap(gap: LetterGap) -> str:
    """Human wording, e.g. 'answers "A" 46.0% of the time vs 25.0% in the gold answers'."""
    if gap.letter is not None and gap.predicted is not None and gap.gold is not None:
        return (
            f'answers "{gap.letter}" {100 * gap.predicted:.1f}% of the time vs '
            f"{100 * gap.gold:.1f}% in the gold answers (gap {100 * gap.gap:.1f} points)"
        )
    where = f' (letter "{gap.letter}")' if gap.letter else ""
    return f"largest predicted-vs-gold letter share gap {100 * gap.gap:.1f} points{where}"

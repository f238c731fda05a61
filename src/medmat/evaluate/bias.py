"""Answer-letter bias: does a model favour some option letters regardless of content?

A model that always answers "A" scores exactly the share of gold "A"s, which can look like
learning when the letters are unbalanced. We compare the distribution of predicted letters
with the distribution of gold letters on the same items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from medmat.evaluate._checks import LETTERS, check_predictions
from medmat.evaluate.stats import chi_square
from medmat.records import Prediction

# Rule of thumb for the chi-square approximation: every expected count at least 5.
_MIN_EXPECTED = 5.0


def letter_bias(preds: Sequence[Prediction]) -> dict:
    """Predicted vs gold answer-letter counts, shares and a chi-square goodness-of-fit test.

    Returned keys:

    - ``letters``: A.. up to the largest option count (plus any other letter predicted);
    - ``n``, ``n_answered``, ``no_answer``: no-answer items (``predicted is None``) are counted
      here and left out of the predicted letters;
    - ``predicted`` / ``gold``: counts per letter (gold over all ``n`` items);
    - ``predicted_share`` (over answered items) / ``gold_share`` (over all items);
    - ``max_share_gap`` and ``max_letter``: the largest ``|predicted_share - gold_share|``;
    - ``chi2``, ``dof``, ``p_value``: chi-square test of the predicted counts against
      ``gold_share * n_answered``. None when undefined (nothing answered, or a single gold
      letter). If a letter that is never gold is predicted, the fit is impossible under the
      null: ``chi2`` is None and ``p_value`` 0.0;
    - ``note``: why the test is missing or unreliable, else "".
    """
    check_predictions(preds, "letter_bias")
    n = len(preds)
    answered = [p for p in preds if p.predicted is not None]
    n_answered = len(answered)
    pred_counts = Counter(p.predicted for p in answered)
    gold_counts = Counter(p.answer for p in preds)
    top = max(p.n_options for p in preds)
    letters = sorted(set(LETTERS[:top]) | set(pred_counts))

    predicted = {x: pred_counts.get(x, 0) for x in letters}
    gold = {x: gold_counts.get(x, 0) for x in letters}
    gold_share = {x: gold[x] / n for x in letters}
    predicted_share = {x: (predicted[x] / n_answered if n_answered else 0.0) for x in letters}
    gaps = {x: abs(predicted_share[x] - gold_share[x]) for x in letters}
    max_letter = max(letters, key=lambda x: (gaps[x], -ord(x)))  # ties: earliest letter

    chi2: float | None = None
    dof: int | None = None
    p_value: float | None = None
    note = ""
    expected = {x: gold_share[x] * n_answered for x in letters}
    never_gold = [x for x in letters if gold[x] == 0 and predicted[x] > 0]
    tested = [x for x in letters if gold[x] > 0]
    if n_answered == 0:
        note = "no answered items: no letter distribution to test"
    elif never_gold:
        p_value = 0.0
        note = f"predicted letter(s) {never_gold} never gold: incompatible with no bias"
    elif len(tested) < 2:
        note = "a single gold letter: the chi-square test needs at least two"
    else:
        dof = len(tested) - 1
        chi2, p_value = chi_square([predicted[x] for x in tested], [expected[x] for x in tested])
        small = [x for x in tested if expected[x] < _MIN_EXPECTED]
        if small:
            note = (f"expected count below {_MIN_EXPECTED:g} for {small}: "
                    "the chi-square p-value is approximate")
    return {
        "letters": letters,
        "n": n,
        "n_answered": n_answered,
        "no_answer": n - n_answered,
        "predicted": predicted,
        "gold": gold,
        "predicted_share": predicted_share,
        "gold_share": gold_share,
        "max_share_gap": gaps[max_letter],
        "max_letter": max_letter,
        "chi2": chi2,
        "dof": dof,
        "p_value": p_value,
        "note": note,
    }

"""Degenerate-model checks and the verdict that respects them.

A model that answers the same *text* on (nearly) every item, or answers the same whatever image
it is shown, learned nothing about the images: its accuracy is the share of items whose gold
answer happens to be that text, and two such arms compared give a zero-width interval that reads
like a measured "no difference". The letter-bias check misses this because options are
shuffled (a constant text lands on every letter). So a comparison involving such an arm is
*uninformative*, not "no evidence".

Checks (each returns a :class:`Check`; ``flagged`` means "do not read a verdict from this"):

- :func:`constant_answer`: the most common answer text of a run covers at least
  ``CONSTANT_SHARE`` (95%) of its items, averaged over seeds. 95% because a learning model on a
  label-balanced test set gives each of 2 to 4 labels about 1/2 to 1/4 of the answers; the
  audit found 7 of 20 null-lab runs at or above it, all of them answering blindly.
- :func:`image_independence`: the answers on the same items with the images shuffled among
  them (:func:`shuffled_images`) agree with the normal answers on at least
  ``IMAGE_AGREEMENT`` (95%) of items: the image does not drive the answer.
- :func:`learnability`: the negative control is informative only if the target is learnable:
  the ``target_trained`` interval's lower bound lies above chance.
- :func:`upper_bound_check`: ``target_trained`` below another arm is not an upper bound.

:func:`verdict` turns a difference interval and these flags into one of :data:`VERDICTS`.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from medmat.errors import MedmatError
from medmat.evaluate._checks import LETTERS, check_predictions
from medmat.records import Prediction, QAItem

CONSTANT_SHARE = 0.95
IMAGE_AGREEMENT = 0.95
NO_ANSWER = "<no answer>"
CG_GAIN, NO_EVIDENCE, NEGATIVE, UNINFORMATIVE = (
    "CG gain", "no evidence", "negative transfer", "uninformative")
VERDICTS = (CG_GAIN, NO_EVIDENCE, NEGATIVE, f"{UNINFORMATIVE}: <why>")
_ZERO_WIDTH = 1e-12

Options = Mapping[int, Sequence[str]] | Iterable[QAItem]


@dataclass(frozen=True)
class Check:
    """One check of one arm. ``share`` is the measured share (mean over seeds), ``per_seed``
    the per-run shares; ``reason`` says in words what was found (used by :func:`verdict`)."""

    check: str
    flagged: bool
    share: float
    threshold: float
    reason: str
    per_seed: tuple[float, ...] = ()
    top_answers: tuple[str, ...] = ()
    n_distinct: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_seed"], d["top_answers"] = list(self.per_seed), list(self.top_answers)
        return d


def options_by_item(options: Options) -> dict[int, tuple[str, ...]]:
    """item id -> option texts in letter order, from QA items or an existing mapping."""
    if isinstance(options, Mapping):
        return {int(k): tuple(v) for k, v in options.items()}
    return {it.id: tuple(it.options) for it in options}


def answer_texts(preds: Sequence[Prediction], options: Options) -> list[str]:
    """The option *text* each prediction chose (``NO_ANSWER`` for None), in ``preds`` order."""
    by_id = options_by_item(options)
    out = []
    for p in preds:
        if p.item_id not in by_id:
            raise MedmatError(f"item {p.item_id} has a prediction but no options; pass the QA "
                              "items the predictions were made on")
        opts = by_id[p.item_id]
        if p.predicted is None:
            out.append(NO_ANSWER)
            continue
        k = LETTERS.index(p.predicted)
        if k >= len(opts):
            raise MedmatError(f"item {p.item_id}: predicted {p.predicted!r} but the item has "
                              f"{len(opts)} options")
        out.append(opts[k])
    return out


def _runs(runs: Sequence[Prediction] | Sequence[Sequence[Prediction]], what: str
          ) -> list[Sequence[Prediction]]:
    """One run (a prediction list) or several (one per seed) -> a list of runs."""
    if len(runs) and isinstance(runs[0], Prediction):
        runs = [runs]  # type: ignore[list-item]
    if not runs:
        raise MedmatError(f"{what}: no predictions to check")
    for r, run in enumerate(runs):
        check_predictions(run, f"{what} (run {r})")  # type: ignore[arg-type]
    return list(runs)  # type: ignore[arg-type]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def constant_answer(runs: Sequence[Prediction] | Sequence[Sequence[Prediction]],
                    options: Options, *, threshold: float = CONSTANT_SHARE,
                    what: str = "arm") -> Check:
    """Flag an arm whose runs give (nearly) one answer text on every item.

    ``runs`` is one prediction list or one per seed; each run's share is that of its most
    common answer text (no answer counts as a text of its own); the arm's share is the mean
    over runs, flagged at ``>= threshold``.
    """
    by_id = options_by_item(options)
    shares, tops, distinct = [], [], set()
    for run in _runs(runs, what):
        texts = answer_texts(run, by_id)
        text, count = Counter(texts).most_common(1)[0]
        shares.append(count / len(texts))
        tops.append(text)
        distinct |= set(texts)
    share = sum(shares) / len(shares)
    flagged = share >= threshold
    top = ", ".join(f"'{t}'" for t in dict.fromkeys(tops))
    reason = (f"{what} answers {top} on {_pct(share)} of items"
              + (f" (mean over {len(shares)} seeds)" if len(shares) > 1 else "")
              + (f", at or above the {_pct(threshold)} constant-answer threshold" if flagged
                 else f"; {len(distinct)} distinct answers"))
    return Check("constant_answer", flagged, share, threshold, reason, tuple(shares),
                 tuple(tops), len(distinct))


def shuffled_images(items: Sequence[QAItem], seed: int = 0) -> list[QAItem]:
    """The shuffled-image control: the same items (question, options, gold) with every image
    moved to another item (a seeded derangement), in the same order."""
    items = list(items)
    if len(items) < 2:
        raise MedmatError("shuffled_images: need at least two items to swap images between")
    order = sorted(range(len(items)), key=lambda i: items[i].id)
    random.Random(f"shuffled-images|{seed}").shuffle(order)
    # each item in the shuffled cycle takes the next one's image: no item keeps its own
    source = {order[k]: order[(k + 1) % len(order)] for k in range(len(order))}
    return [dataclasses.replace(it, image=items[source[i]].image) for i, it in enumerate(items)]


def image_independence(normal: Sequence[Prediction] | Sequence[Sequence[Prediction]],
                       shuffled: Sequence[Prediction] | Sequence[Sequence[Prediction]],
                       options: Options | None = None, *, threshold: float = IMAGE_AGREEMENT,
                       what: str = "arm") -> Check:
    """Flag an arm that answers the same with the images shuffled among the items.

    ``normal`` and ``shuffled`` are predictions of the same model(s) on the same items (one
    list, or one per seed in the same seed order), paired by item id. Answers are compared as
    option texts when ``options`` is given, else as letters (the control keeps each item's
    option order, so both agree). ``share`` is the agreement, flagged at ``>= threshold``.
    """
    runs_n, runs_s = _runs(normal, what), _runs(shuffled, f"{what} (shuffled images)")
    if len(runs_n) != len(runs_s):
        raise MedmatError(f"{what}: {len(runs_n)} normal runs but {len(runs_s)} shuffled-image "
                          "runs; give one of each per seed")
    by_id = options_by_item(options) if options is not None else None
    shares = []
    for run_n, run_s in zip(runs_n, runs_s, strict=True):
        answer = dict(zip((p.item_id for p in run_n),
                          answer_texts(run_n, by_id) if by_id else [p.predicted for p in run_n],
                          strict=True))
        other = dict(zip((p.item_id for p in run_s),
                         answer_texts(run_s, by_id) if by_id else [p.predicted for p in run_s],
                         strict=True))
        if answer.keys() != other.keys():
            raise MedmatError(f"{what}: the shuffled-image control answered other items than "
                              "the normal run; score the same items with shuffled images")
        shares.append(sum(answer[i] == other[i] for i in answer) / len(answer))
    share = sum(shares) / len(shares)
    flagged = share >= threshold
    reason = (f"{what} gives the same answer with shuffled images on {_pct(share)} of items"
              + (", so its answers do not depend on the image" if flagged else ""))
    return Check("image_independent", flagged, share, threshold, reason, tuple(shares))


def _estimate(result: object) -> float:
    for attr in ("estimate", "accuracy"):
        if hasattr(result, attr):
            return float(getattr(result, attr))
    raise MedmatError(f"{result!r}: expected an accuracy result (AccuracyResult or SeedAccuracy)")


def learnability(target_trained: object, chance: float | None = None, *,
                 what: str = "target_trained") -> Check:
    """Is the target learnable, i.e. is a null-lab test of it informative?

    ``target_trained`` is an :class:`AccuracyResult` or :class:`SeedAccuracy`; ``chance``
    defaults to its own ``chance``. Learnable when the interval's lower bound lies strictly
    above chance; otherwise ``flagged`` (the CG test of this target says nothing).
    """
    chance = getattr(target_trained, "chance", None) if chance is None else chance
    if chance is None:
        raise MedmatError(f"{what}: no chance level; pass chance= (e.g. 0.25 for 4 options)")
    lo, hi = target_trained.ci95  # type: ignore[attr-defined]
    learnable = lo > chance
    est = _estimate(target_trained)
    reason = (f"{what} {_pct(est)} [{_pct(lo)}, {_pct(hi)}] is "
              + ("above" if learnable else "not above")
              + f" chance {_pct(chance)}"
              + ("" if learnable else ": the target was not learnable, so this test is "
                 "uninformative"))
    return Check("not_learnable", not learnable, lo, chance, reason)


def upper_bound_check(target_trained: object, others: Mapping[str, object], *,
                      what: str = "target_trained") -> Check:
    """``target_trained`` is an upper bound only if no other arm scores higher (estimates).

    Flagged when another arm is above it: name it "target-trained (same budget)" in a report,
    not "upper bound". ``share`` is the target-trained estimate, ``threshold`` the best other.
    """
    own = _estimate(target_trained)
    best_name, best = max(((n, _estimate(r)) for n, r in others.items()), key=lambda x: x[1],
                          default=("", float("-inf")))
    flagged = best > own
    reason = (f"{what} {_pct(own)} is below {best_name} {_pct(best)}: not an upper bound"
              if flagged else f"{what} {_pct(own)} is at or above every other arm")
    return Check("not_upper_bound", flagged, own, best, reason)


def verdict(diff: object, *flags: Check | str, positive: str = CG_GAIN,
            negative: str = NEGATIVE) -> str:
    """One of :data:`VERDICTS` for a difference interval (``diff.ci95`` or a (low, high) pair).

    - any flagged check (or non-empty string) -> ``"uninformative: <reasons>"``;
    - a zero-width interval -> ``"uninformative: zero-width interval ..."`` (every resample gave
      the same difference, typically two arms with constant answers: never a result);
    - lower bound > 0 -> ``positive`` ("CG gain"); upper bound < 0 -> ``negative``
      ("negative transfer"); otherwise "no evidence".

    ``positive``/``negative`` rename the two directions for other contrasts (e.g.
    "beats its best component" for related vs the best single component).
    """
    reasons = [f if isinstance(f, str) else f.reason
               for f in flags if (f if isinstance(f, str) else f.flagged)]
    if reasons:
        return f"{UNINFORMATIVE}: " + "; ".join(reasons)
    lo, hi = (float(x) for x in (diff.ci95 if hasattr(diff, "ci95") else diff))
    if hi - lo <= _ZERO_WIDTH:
        return (f"{UNINFORMATIVE}: zero-width interval [{100 * lo:+.1f}, {100 * hi:+.1f}] (every "
                "resample gives the same difference; check the arms for constant answers)")
    if lo > 0:
        return positive
    if hi < 0:
        return negative
    return NO_EVIDENCE

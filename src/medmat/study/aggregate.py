"""A plan folder's experiments -> one :class:`~medmat.study.results.StudyResult`.

Each pairwise combination takes its numbers from its experiment's typed results (arms, the
related-minus-unrelated contrast with its two-level interval, the flags and the verdict); the
study adds the count of combinations whose interval lies above 0 and the Holm and
Benjamini-Hochberg verdicts over all of them. An ablation target gets every arm's accuracy and
its paired difference to ``all_related`` and to ``untrained``, from the arms' predictions with
the experiment's own bootstrap settings.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from medmat.errors import MedmatError
from medmat.evaluate.degenerate import CG_GAIN, UNINFORMATIVE
from medmat.evaluate.results import ArmResult, Contrast, ExperimentResult, LabInfo, TargetResult
from medmat.study.multiplicity import (
    ALPHA,
    BH_RULE,
    HOLM_RULE,
    ONE_SIDED_RULE,
    benjamini_hochberg,
    holm,
    one_sided_p,
)
from medmat.study.results import (
    STUDY_SCHEMA_VERSION,
    AblationArmResult,
    AblationTarget,
    CombinationResult,
    Estimate,
    Multiplicity,
    StudyResult,
)

NOT_CORRECTED = "no gain after correction"
QUESTION = "related vs unrelated"


def read_plan_rows(plan_dir: Path) -> list[dict[str, str]]:
    path = plan_dir / "plan.csv"
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise MedmatError(f"{path}: the plan table is missing; replan with `medmat study DESIGN "
                          "--out DIR --force`") from None  # fmt: skip


def _arm(t: TargetResult, name: str, experiment: str) -> ArmResult:
    arm = t.arm(name)
    if arm is None:
        raise MedmatError(f"experiment {experiment}: no arm {name!r} in its metrics.json; a "
                          "pairwise config needs arms related, unrelated and untrained; replan")
    return arm


def _estimate(arm: ArmResult) -> Estimate:
    return Estimate(value=arm.accuracy, ci95=arm.ci95, per_seed=arm.per_seed)


def _contrast(c: Contrast | None) -> Estimate | None:
    return None if c is None else Estimate(value=c.diff, ci95=c.ci95, per_seed=c.per_seed)


def combination(row: Mapping[str, str], result: ExperimentResult) -> CombinationResult:
    """One combination from its plan row and its experiment (multiplicity not applied yet)."""
    name = row["experiment"]
    t = result.targets[0]
    related, unrelated = _arm(t, "related", name), _arm(t, "unrelated", name)
    gain = t.gain
    if gain is None:
        raise MedmatError(f"experiment {name}: no related_minus_unrelated contrast; rerun it")
    said = next((v.verdict for v in t.verdicts if v.question == QUESTION), "")
    flags = tuple(f"{arm.name}/{f.check}: {f.reason}" for arm in (related, unrelated)
                  for f in arm.flagged)  # fmt: skip
    lo = gain.ci95[0] if gain.ci95 is not None else None
    return CombinationResult(
        experiment=name, target=t.target, direction=row["direction"], fixed=row["fixed"],
        source_a=row["source_a"], source_a_mat=row["source_a_mat"], source_b=row["source_b"],
        source_b_mat=row["source_b_mat"], source_c=row.get("source_c", ""),
        source_c_mat=row.get("source_c_mat", ""), task_match=row["task_match"],
        primary=row["primary"] == "True", untrained=_estimate(_arm(t, "untrained", name)),
        unrelated=_estimate(unrelated), related=_estimate(related),
        gain=Estimate(value=gain.diff, ci95=gain.ci95, per_seed=gain.per_seed), n_items=gain.n,
        n_seeds=gain.n_seeds, ci_method=gain.method,
        succeeds=lo is not None and lo > 0 and not said.startswith(UNINFORMATIVE),
        flags=flags, verdict=said, p_value=one_sided_p(gain.diff, gain.p_value, gain.n_boot),
    )  # fmt: skip


def _corrected(verdict: str, p: float | None, alpha: float) -> str:
    if verdict.startswith(UNINFORMATIVE):
        return verdict
    if p is None:
        return f"{UNINFORMATIVE}: no p-value (the contrast has no bootstrap)"
    return CG_GAIN if p <= alpha else NOT_CORRECTED


def with_multiplicity(
    combos: Sequence[CombinationResult], alpha: float = ALPHA
) -> tuple[list[CombinationResult], Multiplicity]:
    """Holm and BH over every combination with a p-value (flagged ones count in the family but
    can never be a gain: their verdict stays uninformative)."""
    tested = [i for i, c in enumerate(combos) if c.p_value is not None]
    ps = [combos[i].p_value for i in tested]
    adj_holm = dict(zip(tested, holm(ps), strict=True))  # type: ignore[arg-type]
    adj_bh = dict(zip(tested, benjamini_hochberg(ps), strict=True))  # type: ignore[arg-type]
    out = []
    for i, c in enumerate(combos):
        ph, pb = adj_holm.get(i), adj_bh.get(i)
        out.append(c.model_copy(update={
            "p_holm": ph, "p_bh": pb, "verdict_holm": _corrected(c.verdict, ph, alpha),
            "verdict_bh": _corrected(c.verdict, pb, alpha)}))  # fmt: skip
    m = len(tested)
    summary = Multiplicity(
        alpha=alpha, family=m, p_rule=ONE_SIDED_RULE,
        holm_rule=HOLM_RULE.format(alpha=alpha, m=m), bh_rule=BH_RULE.format(alpha=alpha, m=m),
        n_gain_holm=sum(c.verdict_holm == CG_GAIN for c in out),
        n_gain_bh=sum(c.verdict_bh == CG_GAIN for c in out),
    )  # fmt: skip
    return out, summary


def ablation_target(name: str, result: ExperimentResult, run_dir: Path) -> AblationTarget:
    """Every arm of one ablation experiment, with paired differences to all_related/untrained."""
    from medmat import evaluate
    from medmat.experiment.arms import PREDICTIONS, read_predictions

    t = result.targets[0]
    seeds = list(result.seeds)
    n_boot = int(result.config.get("bootstrap", 2000))

    def runs(arm: str) -> list:
        base = run_dir / "runs" / t.target.subset / arm
        return [read_predictions(base / f"seed{s}" / PREDICTIONS) for s in seeds]

    def diff(a: str, b: str) -> Estimate | None:
        if a == b or b not in t.arms:
            return None
        d = evaluate.seed_diff(runs(a), runs(b), n_boot=n_boot, seed=seeds[0], names=(a, b))
        return Estimate(value=d.estimate, ci95=d.ci95, per_seed=d.per_seed)

    arms = tuple(
        AblationArmResult(name=a.name, accuracy=_estimate(a), n_train=a.n_train,
                          subsets=dict(a.budgets), minus_all_related=diff(a.name, "all_related"),
                          minus_untrained=diff(a.name, "untrained"),
                          flags=tuple(f.reason for f in a.flagged))
        for a in t.arms.values()
    )  # fmt: skip
    return AblationTarget(experiment=name, target=t.target, arms=arms)


def study_result(
    plan_dir: Path,
    design: str,
    source: str,
    results: Mapping[str, ExperimentResult],
    lab: LabInfo | None = None,
) -> StudyResult:
    """The study's typed result from its experiments (``results``: experiment name -> result)."""
    if not results:
        raise MedmatError(f"{plan_dir}: the plan has no experiment configs; replan")
    first = next(iter(results.values()))
    # the backbones design runs several backends: all of them, in order of appearance
    backend = ", ".join(dict.fromkeys(r.backend for r in results.values()))
    common = {"schema_version": STUDY_SCHEMA_VERSION, "design": design, "source": source,
              "lab": lab, "seeds": first.seeds, "backend": backend,
              "experiments": tuple(results)}  # fmt: skip
    if design == "ablation":
        ablation = tuple(ablation_target(n, r, plan_dir / "runs" / n) for n, r in results.items())
        return StudyResult(**common, ablation=ablation)
    if design == "cls-det":
        from medmat.study.clsdet_results import clsdet_result

        rows = {r["experiment"]: r for r in read_plan_rows(plan_dir)}
        return StudyResult(**common, clsdet=tuple(
            clsdet_result(n, rows.get(n, {}).get("direction", ""), r)
            for n, r in results.items()))
    rows = {r["experiment"]: r for r in read_plan_rows(plan_dir)}
    from medmat.study import designs

    mod = designs.module(design)
    if mod is not None and design != "three-source":  # three-source rows are pairwise's shape
        return StudyResult(**common, **mod.study_fields(plan_dir, results, rows))
    missing = [n for n in results if n not in rows]
    if missing:
        raise MedmatError(f"{plan_dir / 'plan.csv'}: no row for experiment(s) {missing}; the "
                          "configs and the plan table disagree: replan with --force")  # fmt: skip
    combos, multi = with_multiplicity([combination(rows[n], r) for n, r in results.items()])
    return StudyResult(**common, n_succeed=sum(c.succeeds for c in combos),
                       multiplicity=multi, combinations=tuple(combos))  # fmt: skip

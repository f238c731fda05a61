"""Labels match what was drawn: records -> PNG pixels -> drawn finding -> meaning of the label."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from medmat.records import read_records
from medmat.synth import MODALITIES, TASKS, Cell, LabConfig, full_lattice, render_item
from medmat.synth.findings import DEFAULT_APPEARANCE
from medmat.synth.lab import appearances


def _pixels(path):
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img)


def test_every_record_label_explains_its_png(default_lab, helpers):
    """Re-draw each item with the label from records.parquet: the PNG must be exactly that.

    A label shifted to another item, or an appearance swapped between labels, gives other pixels.
    Then the drawn finding must mean the label (side, count, shape, tissue).
    """
    cfg = LabConfig(size=32)
    problems, seen = [], Counter()
    for rec in read_records(default_lab):
        cell = Cell(rec.modality, rec.area, rec.task)
        index = int(rec.record_id.rsplit("/", 1)[1])
        (label,) = rec.labels
        drawn = helpers.rederive(cell, rec.split, index, cfg, label)
        assert np.array_equal(_pixels(default_lab / rec.image), drawn.image), rec.record_id
        problem = helpers.semantic_problem(label, drawn)
        if problem:
            problems.append(f"{rec.record_id} {label}: {problem}")
        seen[label] += 1
    assert not problems, problems[:10]
    all_labels = {lab for _, labels in TASKS.values() for lab in labels}
    assert set(seen) == all_labels  # every label of every task was checked


def test_label_meaning_across_the_whole_lattice(helpers):
    """Same semantic checks without disk, for every cell and both label cycles (64 px)."""
    cfg = LabConfig(size=64)
    problems = []
    for cell in full_lattice():
        for index in range(2 * len(cell.labels)):
            _, label = render_item(cell, "test", index, cfg)
            problem = helpers.semantic_problem(label, helpers.rederive(cell, "test", index, cfg,
                                                                       label))
            if problem:
                problems.append(f"{cell.subset}#{index} {label}: {problem}")
    assert not problems, problems[:10]


def test_severity_grows_with_the_grade(helpers):
    cfg = LabConfig(size=32)
    for cell in [c for c in full_lattice() if c.task == "Severity grade"]:
        area = defaultdict(list)
        for index in range(12):
            _, label = render_item(cell, "train", index, cfg)
            area[label].append(helpers.rederive(cell, "train", index, cfg, label).changed.sum())
        means = [np.mean(area[g]) for g in ("Mild", "Moderate", "Severe")]
        assert means[0] < means[1] < means[2], (cell.subset, means)


def test_every_labelled_finding_changes_the_pixels(helpers):
    cfg = LabConfig(size=32)
    missing = []
    for cell in full_lattice():
        for index in range(24):
            _, label = render_item(cell, "train", index, cfg)
            if label == "Normal":
                continue
            drawn = helpers.rederive(cell, "train", index, cfg, label)
            if np.array_equal(drawn.image, drawn.image_without):
                missing.append(f"{cell.subset}#{index} {label}")
    assert not missing, f"{len(missing)} labelled findings not visible: {missing[:8]}"


def test_findings_are_visible_through_every_modality(helpers):
    """The finding changes the pixels where it sits, in every modality (same noise both ways)."""
    cfg = LabConfig(size=32)
    for modality in MODALITIES:
        visible, total, strength = 0, 0, []
        for cell in [c for c in full_lattice() if c.modality == modality]:
            for index in range(8):
                _, label = render_item(cell, "train", index, cfg)
                drawn = helpers.rederive(cell, "train", index, cfg, label)
                if not drawn.changed.any():
                    continue
                diff = np.abs(drawn.image.astype(float) - drawn.image_without.astype(float))
                diff = diff.mean(axis=-1) if diff.ndim == 3 else diff
                inside = diff[drawn.changed].mean()
                strength.append(inside)
                visible += inside >= 12  # grey levels of 255
                total += 1
        assert total >= 100
        assert visible / total >= 0.85, (modality, visible, total)
        assert np.mean(strength) >= 25, (modality, np.mean(strength))


def test_a_finding_takes_each_modality_s_own_contrast(helpers):
    """One class map (brain + nodule) through every modality: the nodule is brighter than its
    surroundings in some modalities and darker in others, i.e. contrast comes from the modality."""
    cfg = LabConfig(size=64)
    signs = {}
    for modality in MODALITIES:
        cell = Cell(modality, "Brain", "Lesion type")
        drawn = helpers.rederive(cell, "train", 0, cfg, "Nodule")
        grey = lambda a: a.astype(float).mean(axis=-1) if a.ndim == 3 else a.astype(float)  # noqa: E731
        delta = (grey(drawn.image) - grey(drawn.image_without))[drawn.changed].mean()
        assert abs(delta) > 5, (modality, delta)
        signs[modality] = np.sign(delta)
    assert len(set(signs.values())) == 2, signs


def test_labels_balanced_in_every_split(default_lab):
    counts = defaultdict(Counter)
    for rec in read_records(default_lab):
        counts[(rec.subset, rec.split)][rec.labels[0]] += 1
    assert len(counts) == 30 * 3
    for (subset, split), c in counts.items():
        labels = Cell.from_subset(subset).labels
        n = sum(c.values())
        assert set(c) <= set(labels)
        if n >= len(labels):
            assert set(c) == set(labels), (subset, split, c)
        assert max(c.values()) - min(c.get(lab, 0) for lab in labels) <= 1, (subset, split, c)


def test_default_lab_shares_each_label_appearance_across_pairs():
    cfg = LabConfig()
    for task in TASKS:
        seen = {tuple(sorted(appearances(c, cfg).items())) for c in full_lattice()
                if c.task == task}
        assert seen == {tuple(sorted(DEFAULT_APPEARANCE[task].items()))}


def test_null_lab_draws_each_pair_independently():
    cfg = LabConfig(null=True, seed=3)
    for task, (_, labels) in TASKS.items():
        cells = [c for c in full_lattice() if c.task == task]
        maps = [appearances(c, cfg) for c in cells]
        for cell, app in zip(cells, maps, strict=True):
            assert set(app) == set(labels)
            # the same pair always gets the same appearances (fresh Cell objects, no cache)
            appearances.cache_clear()
            assert appearances(Cell(cell.modality, cell.area, task), cfg) == app
            # ... which are distinct within the task, so the labels stay learnable in the pair
            assert len(set(app.values())) == len(labels)
        # nothing shared: per label, (almost) every pair has its own appearance
        for label in labels:
            distinct = {m[label] for m in maps}
            assert len(distinct) >= 0.9 * len(cells), (task, label, len(distinct))
        assert maps[0] != appearances(cells[0], LabConfig(null=True, seed=4))  # seed matters


def test_null_lab_records_match_their_pixels(null_lab, helpers):
    """The null lab's labels are as faithful as the default's: each PNG is its label's drawing."""
    cfg = LabConfig(size=32, null=True)
    per_label = defaultdict(set)
    for rec in read_records(null_lab):
        cell = Cell(rec.modality, rec.area, rec.task)
        index = int(rec.record_id.rsplit("/", 1)[1])
        drawn = helpers.rederive(cell, rec.split, index, cfg, rec.labels[0])
        assert np.array_equal(_pixels(null_lab / rec.image), drawn.image), rec.record_id
        assert rec.source == "synthetic-lab-null"
        per_label[(rec.subset, rec.labels[0])].add(appearances(cell, cfg)[rec.labels[0]])
    assert all(len(v) == 1 for v in per_label.values())  # one appearance per label per pair

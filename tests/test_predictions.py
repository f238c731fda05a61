"""Predictions tables: classification rows unchanged, grounding rows carry both boxes."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from medmat.predictions import Prediction, box_iou, row_to_prediction, write_predictions


def test_iou_of_hand_computed_boxes():
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert box_iou((0.1, 0.1, 0.5, 0.5), (0.1, 0.1, 0.5, 0.5)) == pytest.approx(1.0)


def test_classification_tables_have_no_box_columns(tmp_path):
    path = write_predictions(tmp_path / "p.parquet", [Prediction(0, "A", "B", 4, (0.1, 0.9))])
    assert pq.read_table(path).column_names == [
        "item_id", "answer", "predicted", "correct", "n_options", "scores"]


def test_grounding_predictions_round_trip_and_score_at_iou_half(tmp_path):
    gold = (0.0, 0.0, 0.5, 0.5)
    preds = [Prediction(0, "[0.000, 0.000, 0.500, 0.500]", "x", 0, (), (0.0, 0.0, 0.5, 0.4), gold),
             Prediction(1, "[0.000, 0.000, 0.500, 0.500]", "x", 0, (), (0.0, 0.0, 0.5, 0.2), gold),
             Prediction(2, "[0.000, 0.000, 0.500, 0.500]", None, 0, (), None, gold)]
    assert [p.correct for p in preds] == [True, False, False]  # IoU 0.8, 0.4, miss
    rows = pq.read_table(write_predictions(tmp_path / "p.parquet", preds)).to_pylist()
    assert [r["correct"] for r in rows] == [True, False, False]
    assert [row_to_prediction(r) for r in rows] == preds


def test_grounding_items_round_trip_and_classification_tables_are_unchanged():
    from medmat.records import QAItem, items_to_table, row_to_item

    common = dict(caption="", image="a.png", question_choice="", data_no="s",
                  modality="X-ray", area="Brain", task="Lesion detection", subset="s",
                  split="test", record_id="r0")
    cls = QAItem(id=0, question="Q?", answer="Nodule", answer_choice="A",
                 options=("Nodule", "Cyst"), **common)
    grounding = QAItem(id=1, question="Where?", answer="[0.100, 0.200, 0.300, 0.400]",
                       answer_choice="", options=(), answer_box=(0.1, 0.2, 0.3, 0.4), **common)
    assert "answer_box" not in items_to_table([cls]).column_names
    table = items_to_table([cls, grounding])
    back = [row_to_item(r) for r in table.to_pylist()]
    assert back == [cls, grounding]
    assert back[1].is_grounding and not back[0].is_grounding

"""lmms-eval: a task YAML per split, its Parquet data file, ``utils.py`` and the answer protocol.

``utils.py`` (from :mod:`medmat.export.lmms_eval_utils`) holds the task functions; it lays out
prompts and scores replies with ``medmat_answers.py``, a verbatim copy of
:mod:`medmat.qa.answers`, so lmms-eval and medmat give the same verdict on the same reply.

The YAML uses lmms-eval's ``!function utils.NAME`` tag (resolved relative to the YAML's folder).
``dataset_kwargs.data_files`` is an *absolute* path to the final export folder: lmms-eval hands
it to ``datasets.load_dataset``, which resolves relative paths against the working directory,
not the YAML. Moving the folder therefore means re-exporting (or editing that one line).

Grounding items (a true box) go to their own task per split, ``NAME[_SPLIT]_grounding``, with an
``answer_box`` column, scored by IoU through ``medmat_boxes.py`` (a verbatim copy of
:mod:`medmat.qa.boxes`): metrics ``ciou`` (sum of intersections over sum of unions), ``miou``,
``acc50`` and ``miss`` (share of replies without a box). Classification items keep their task
unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from medmat.export.common import dataset_name
from medmat.export.hf import BOX_COLUMN, hf_features, label_names, write_image_parquet
from medmat.export.registry import WriteContext
from medmat.qa import answers
from medmat.qa.grounding import GROUNDING_CLOSING

UTILS_FILE = "utils.py"
PROTOCOL_FILE = "medmat_answers.py"  # the name lmms_eval_utils.PROTOCOL_FILE loads
BOXES_FILE = "medmat_boxes.py"  # lmms_eval_utils.BOXES_FILE
GROUNDING_SUFFIX = "_grounding"
BOX_MAX_NEW_TOKENS = 48  # "[0.123, 0.456, 0.789, 0.900]" and some words around it


class _FunctionRef(str):
    """Dumped as ``!function utils.NAME`` (the tag lmms-eval's loader understands)."""


def _represent_function(dumper: yaml.SafeDumper, value: _FunctionRef) -> yaml.Node:
    return dumper.represent_scalar("!function", str(value))


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_FunctionRef, _represent_function)


def task_config(task: str, split: str, data_file: Path, max_new_tokens: int = 16) -> dict:
    fn = _FunctionRef
    return {
        "task": task,
        "dataset_path": "parquet",
        "dataset_kwargs": {"data_files": {split: str(data_file)}},
        "test_split": split,
        "output_type": "generate_until",
        "doc_to_visual": fn("utils.doc_to_visual"),
        "doc_to_text": fn("utils.doc_to_text"),
        "doc_to_target": fn("utils.doc_to_target"),
        "process_results": fn("utils.process_results"),
        "generation_kwargs": {"max_new_tokens": max_new_tokens, "temperature": 0,
                              "do_sample": False},
        "metric_list": [{"metric": "exact_match", "aggregation": "mean",
                         "higher_is_better": True}],
        "lmms_eval_specific_kwargs": {
            "default": {"pre_prompt": "", "post_prompt": answers.CLOSING}
        },
        "metadata": {"version": 0.0, "source": "medmat", "split": split},
    }


def grounding_task_config(task: str, split: str, data_file: Path,
                          max_new_tokens: int = BOX_MAX_NEW_TOKENS) -> dict:
    """A grounding task: the box question, the canonical box as target, IoU metrics."""
    cfg = task_config(task, split, data_file, max_new_tokens)
    fn = _FunctionRef
    cfg.update({
        "doc_to_text": fn("utils.doc_to_text_grounding"),
        "doc_to_target": fn("utils.doc_to_target_grounding"),
        "process_results": fn("utils.process_results_grounding"),
        "metric_list": [
            {"metric": "ciou", "aggregation": fn("utils.ciou_aggregation"),
             "higher_is_better": True},
            {"metric": "miou", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc50", "aggregation": "mean", "higher_is_better": True},
            {"metric": "miss", "aggregation": "mean", "higher_is_better": False},
        ],
        "lmms_eval_specific_kwargs": {
            "default": {"pre_prompt": "", "post_prompt": GROUNDING_CLOSING}
        },
    })
    return cfg


def _source(module: str) -> bytes:
    """The source file of one of medmat's modules, byte for byte (shipped, never re-typed)."""
    return Path(importlib.util.find_spec(module).origin).read_bytes()


def write_lmms_eval(ctx: WriteContext) -> list[str]:
    inp = ctx.inp
    labels = label_names(inp)
    features = hf_features(labels)
    tasks = []
    for split in inp.splits:
        base = dataset_name(ctx.name, split, len(inp.splits))
        rows = inp.rows(split)
        kinds = (([r for r in rows if r.get(BOX_COLUMN) is None], base, features, task_config),
                 ([r for r in rows if r.get(BOX_COLUMN) is not None], base + GROUNDING_SUFFIX,
                  hf_features(labels, boxes=True), grounding_task_config))
        for chosen, task, feats, make_config in kinds:
            if not chosen:
                continue
            data_name = f"{task}.parquet"
            write_image_parquet(chosen, ctx.images, ctx.stage / data_name, feats)
            cfg = make_config(task, split, ctx.final_out.resolve() / data_name)
            text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
            (ctx.stage / f"{task}.yaml").write_text(text, encoding="utf-8")
            tasks.append(task)
    (ctx.stage / UTILS_FILE).write_bytes(_source("medmat.export.lmms_eval_utils"))
    (ctx.stage / PROTOCOL_FILE).write_bytes(_source("medmat.qa.answers"))
    if any(t.endswith(GROUNDING_SUFFIX) for t in tasks):
        (ctx.stage / BOXES_FILE).write_bytes(_source("medmat.qa.boxes"))
    return [f"lmms-eval: python -m lmms_eval --include_path <out> --tasks {','.join(tasks)}"]

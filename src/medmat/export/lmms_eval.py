"""lmms-eval: a task YAML per split, its Parquet data file, ``utils.py`` and the answer protocol.

``utils.py`` (from :mod:`medmat.export.lmms_eval_utils`) holds the task functions; it lays out
prompts and scores replies with ``medmat_answers.py``, a verbatim copy of
:mod:`medmat.qa.answers`, so lmms-eval and medmat give the same verdict on the same reply.

The YAML uses lmms-eval's ``!function utils.NAME`` tag (resolved relative to the YAML's folder).
``dataset_kwargs.data_files`` is an *absolute* path to the final export folder: lmms-eval hands
it to ``datasets.load_dataset``, which resolves relative paths against the working directory,
not the YAML. Moving the folder therefore means re-exporting (or editing that one line).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from medmat.export.common import dataset_name
from medmat.export.hf import hf_features, label_names, write_image_parquet
from medmat.export.registry import WriteContext
from medmat.qa import answers

UTILS_FILE = "utils.py"
PROTOCOL_FILE = "medmat_answers.py"  # the name lmms_eval_utils.PROTOCOL_FILE loads


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


def _source(module: str) -> bytes:
    """The source file of one of medmat's modules, byte for byte (shipped, never re-typed)."""
    return Path(importlib.util.find_spec(module).origin).read_bytes()


def write_lmms_eval(ctx: WriteContext) -> list[str]:
    inp = ctx.inp
    features = hf_features(label_names(inp))
    tasks = []
    for split in inp.splits:
        task = dataset_name(ctx.name, split, len(inp.splits))
        data_name = f"{task}.parquet"
        write_image_parquet(inp.rows(split), ctx.images, ctx.stage / data_name, features)
        cfg = task_config(task, split, ctx.final_out.resolve() / data_name)
        text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
        (ctx.stage / f"{task}.yaml").write_text(text, encoding="utf-8")
        tasks.append(task)
    (ctx.stage / UTILS_FILE).write_bytes(_source("medmat.export.lmms_eval_utils"))
    (ctx.stage / PROTOCOL_FILE).write_bytes(_source("medmat.qa.answers"))
    return [f"lmms-eval: python -m lmms_eval --include_path <out> --tasks {','.join(tasks)}"]

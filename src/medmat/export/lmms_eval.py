"""lmms-eval: a task YAML per split, its Parquet data file and a small ``utils.py``.

The YAML uses lmms-eval's ``!function utils.NAME`` tag (resolved relative to the YAML's folder).
``dataset_kwargs.data_files`` is an *absolute* path to the final export folder: lmms-eval hands
it to ``datasets.load_dataset``, which resolves relative paths against the working directory,
not the YAML. Moving the folder therefore means re-exporting (or editing that one line).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from medmat.export import lmms_eval_utils
from medmat.export.common import ExportInput, ImageFile, dataset_name
from medmat.export.hf import write_image_parquet


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
            "default": {"pre_prompt": "", "post_prompt": lmms_eval_utils.DEFAULT_POST_PROMPT}
        },
        "metadata": {"version": 0.0, "source": "medmat", "split": split},
    }


def write_lmms_eval(
    inp: ExportInput, stage: Path, images: dict[str, ImageFile], *, name: str, final_out: Path
) -> list[str]:
    tasks = []
    for split in inp.splits:
        task = dataset_name(name, split, len(inp.splits))
        data_name = f"{task}.parquet"
        write_image_parquet(inp.rows(split), images, stage / data_name)
        cfg = task_config(task, split, final_out.resolve() / data_name)
        text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
        (stage / f"{task}.yaml").write_text(text, encoding="utf-8")
        tasks.append(task)
    source = Path(lmms_eval_utils.__file__).read_text(encoding="utf-8")
    (stage / "utils.py").write_text(source, encoding="utf-8")
    return [f"lmms-eval: python -m lmms_eval --include_path <out> --tasks {','.join(tasks)}"]

"""Hugging Face datasets: Parquet with the image embedded (``Image`` feature) + MAT metadata.

Layout ``data/{split}-00000-of-00001.parquet`` (the hub's own naming) plus a README whose YAML
header maps files to splits, so both ``load_dataset("parquet", data_files=...)`` and
``load_dataset(EXPORT_DIR)`` work. Rows are written in row groups through ``Features``'
Arrow schema (which carries the ``huggingface`` metadata), so memory stays bounded and no
``datasets`` cache is touched.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medmat.errors import MedmatError
from medmat.export.common import ExportInput, ImageFile, image_bytes

ROW_GROUP = 100  # datasets uses small row groups for image data too (fast random access)
METADATA_COLUMNS = ("id", "caption", "Question", "Answer", "Question-choice", "Answer-choice",
                    "data-no", "options", "modality", "area", "task", "subset", "split",
                    "record_id", "template")


def _datasets():
    try:
        import datasets
    except ImportError:
        raise MedmatError(
            "this export needs the `datasets` library; install it with "
            "`pip install 'medmat[export]'`"
        ) from None
    return datasets


def hf_features():
    ds = _datasets()
    string = ds.Value("string")
    return ds.Features(
        {
            "image": ds.Image(),
            "image_path": string,
            "id": ds.Value("int64"),
            "caption": string,
            "Question": string,
            "Answer": string,
            "Question-choice": string,
            "Answer-choice": string,
            "data-no": string,
            "options": ds.List(string),
            "modality": string,
            "area": string,
            "task": string,
            "subset": string,
            "split": string,
            "record_id": string,
            "template": ds.Value("int32"),
        }
    )


def write_image_parquet(rows: list[dict], images: dict[str, ImageFile], dest: Path) -> None:
    """Write items with embedded image bytes as a datasets-loadable Parquet file."""
    features = hf_features()
    schema = features.arrow_schema
    dest.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(dest, schema) as writer:
        for start in range(0, max(len(rows), 1), ROW_GROUP):
            chunk = rows[start : start + ROW_GROUP]
            batch: dict[str, list] = {name: [] for name in schema.names}
            for r in chunk:
                img = images[r["image"]]
                data, _ = image_bytes(img)
                batch["image"].append({"bytes": data, "path": img.rel})
                batch["image_path"].append(img.rel)
                for col in METADATA_COLUMNS:
                    batch[col].append(r[col])
            writer.write_table(pa.Table.from_pydict(features.encode_batch(batch), schema=schema))


def shard_name(split: str) -> str:
    return f"data/{split}-00000-of-00001.parquet"


def write_hf(
    inp: ExportInput, stage: Path, images: dict[str, ImageFile], *, name: str
) -> list[str]:
    for split in inp.splits:
        write_image_parquet(inp.rows(split), images, stage / shard_name(split))
    configs = "\n".join(
        f"  - split: {s}\n    path: {shard_name(s)}" for s in inp.splits
    )
    readme = (
        f"---\nconfigs:\n- config_name: default\n  data_files:\n{configs}\n---\n\n"
        f"# {name}\n\nMultiple-choice medical VQA items exported by medmat (MAT: modality, "
        "anatomical area, task). Columns: `image` (embedded), `image_path`, the Med-MAT keys "
        "(`id`, `caption`, `Question`, `Answer`, `Question-choice`, `Answer-choice`, `data-no`), "
        "`options` and the MAT metadata (`modality`, `area`, `task`, `subset`, `split`, "
        "`record_id`, `template`).\n"
    )
    (stage / "README.md").write_text(readme, encoding="utf-8")
    return [f'load with datasets.load_dataset("parquet", data_files={{"{inp.splits[0]}": '
            f'"<out>/{shard_name(inp.splits[0])}"}}) or load_dataset("<out>")']

"""The shipped example configs stay valid: experiment schema, hf options, accelerate files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medmat.experiment import load_config
from medmat.train.hf.options import HFOptions

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_hf_example_config_is_valid():
    path = EXAMPLES / "hf-qwen2vl-2b.yaml"
    raw = yaml.safe_load(path.read_text())
    assert raw["backend"] == "hf"
    opts = HFOptions.from_kwargs(**raw["backend_options"])
    assert opts.lora and opts.mode == "likelihood"
    cfg = load_config(path)
    assert cfg.backend == "hf"
    # the config keeps every option the file sets (validation may fill in the defaults)
    assert {k: cfg.backend_options[k] for k in raw["backend_options"]} == raw["backend_options"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("accelerate-multigpu.yaml", "MULTI_GPU"), ("accelerate-deepspeed-zero2.yaml", "DEEPSPEED")],
)
def test_accelerate_configs_parse(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(EXAMPLES / name))
    assert str(cfg.distributed_type).endswith(kind)
    assert cfg.mixed_precision == "bf16" and cfg.num_processes >= 2
    if kind == "DEEPSPEED":
        assert cfg.deepspeed_config["zero_stage"] == 2
        # the backend's grad_accum must rule: DeepSpeed's value would override it
        assert "gradient_accumulation_steps" not in cfg.deepspeed_config

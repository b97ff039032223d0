"""The accelerate configs in examples/accelerate/ load with accelerate's own reader (what
``accelerate launch --config_file FILE`` does first) and say what their names and docs say.
Loaded only: no GPU here to launch them on (docs/scaling.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "accelerate"

# file: (distributed_type, num_processes, num_machines)
EXPECTED = {
    "ddp_8gpu.yaml": ("MULTI_GPU", 8, 1),
    "ddp_2nodes.yaml": ("MULTI_GPU", 16, 2),
    "deepspeed_zero2.yaml": ("DEEPSPEED", 8, 1),
    "deepspeed_zero3.yaml": ("DEEPSPEED", 8, 1),
    "fsdp.yaml": ("FSDP", 8, 1),
}


def test_every_config_is_listed():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_loads_the_config(name):
    from accelerate.commands.config.config_args import ClusterConfig

    cfg = ClusterConfig.from_yaml_file(str(CONFIGS / name))
    kind, procs, machines = EXPECTED[name]
    assert (str(cfg.distributed_type).split(".")[-1], cfg.num_processes, cfg.num_machines) == (kind, procs, machines)
    assert cfg.mixed_precision in ("no", None)  # instructforge trains in fp32
    if kind == "DEEPSPEED":
        assert cfg.deepspeed_config["zero_stage"] == int(name[-6])  # deepspeed_zero2 / _zero3
    if kind == "FSDP":
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # the adapter saves whole
    if machines > 1:
        assert cfg.machine_rank == 0 and cfg.main_process_ip

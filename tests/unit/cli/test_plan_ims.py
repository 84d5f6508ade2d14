"""mcsim up tells every execution instance where the IMS emulator publishes its keys."""

from __future__ import annotations

from pathlib import Path

from services.cli.plan import StackOptions, plan_stack


def test_every_execution_instance_reads_the_ims_keys_from_the_control_instance(
    tmp_path: Path,
) -> None:
    plan = plan_stack(StackOptions(data_dir=tmp_path, instances=2, control_port=7070))
    for execution in plan.executions:
        assert execution.env["MCSIM_EXEC_IMS_URL"] == "http://127.0.0.1:7070"
    assert "MCSIM_CONTROL_IMS_URL" not in plan.get("control").env

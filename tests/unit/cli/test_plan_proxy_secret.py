"""mcsim up proves the balancer to the execution instances with a per-stack secret (F2)."""

from __future__ import annotations

import json

from services.cli.plan import StackOptions, describe_plan, plan_stack


def test_the_balancer_and_every_execution_instance_share_one_secret() -> None:
    plan = plan_stack(StackOptions(instances=3))
    secret = plan.get("load_balancer").env["MCSIM_LB_PROXY_SECRET"]
    assert len(secret) >= 32
    for execution in plan.executions:
        assert execution.env["MCSIM_EXEC_PROXY_SECRET"] == secret
        assert json.loads(execution.env["MCSIM_EXEC_TRUSTED_PROXIES"]) == []
    assert "MCSIM_CONTROL_PROXY_SECRET" not in plan.get("control").env
    assert secret not in json.dumps(describe_plan(plan))


def test_each_stack_gets_its_own_secret() -> None:
    one, two = StackOptions(), StackOptions()
    assert one == two  # the secret is not part of what the options compare
    assert one.proxy_secret != two.proxy_secret

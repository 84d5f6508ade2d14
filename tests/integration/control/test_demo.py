"""``--demo`` publishes the demo event types to every execution instance."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from control_instance.app import create_app as create_control
from control_instance.demo import DemoSetupError
from control_instance.settings import ControlSettings
from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from tests.support.asgi import serve


async def test_demo_event_types_reach_every_execution_instance(tmp_path: Path) -> None:
    one = create_execution(ExecutionSettings(instance_id=1, data_dir=tmp_path))
    two = create_execution(ExecutionSettings(instance_id=2, data_dir=tmp_path))
    async with serve(one) as first, serve(two) as second:
        client = httpx.AsyncClient(
            mounts={
                "http://exec-1": httpx.ASGITransport(app=one),
                "http://exec-2": httpx.ASGITransport(app=two),
            }
        )
        control = create_control(
            ControlSettings(
                data_dir=tmp_path, demo=True, execution_urls=["http://exec-1", "http://exec-2"]
            ),
            http_client=client,
        )
        async with serve(control):
            pass
        await client.aclose()
        for instance in (first, second):
            types = (await instance.get("/_mc/event-types", auth=("mc", "mc"))).json()
            assert types == ["ORDER_CONFIRMATION", "PASSWORD_RESET"]


async def test_a_wrong_execution_password_stops_the_control_instance_clearly(
    tmp_path: Path,
) -> None:
    one = create_execution(ExecutionSettings(instance_id=1, data_dir=tmp_path))
    async with serve(one):
        client = httpx.AsyncClient(mounts={"http://exec-1": httpx.ASGITransport(app=one)})
        control = create_control(
            ControlSettings(
                data_dir=tmp_path,
                demo=True,
                execution_urls=["http://exec-1"],
                execution_password="wrong",
            ),
            http_client=client,
        )
        with pytest.raises(DemoSetupError, match=r"refused to publish PASSWORD_RESET \(401\)"):
            async with serve(control):
                pass
        await client.aclose()

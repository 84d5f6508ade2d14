"""``--demo`` makes the demo workspace of DESIGN §6.2 through the use cases, once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from control_instance.app import create_app as create_control
from control_instance.demo import DemoSetupError
from control_instance.settings import ControlSettings
from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from tests.integration.control.conftest import control_cell, exec_url
from tests.support.asgi import serve

NAMES = [
    "ORDER_CONFIRMATION_android",
    "ORDER_CONFIRMATION_email",
    "ORDER_CONFIRMATION_ios",
    "PASSWORD_RESET_email",
    "PASSWORD_RESET_sms",
]


async def test_the_demo_workspace_is_published_to_every_instance(tmp_path: Path) -> None:
    async with control_cell(tmp_path, demo=True) as cell:
        admin = await cell.login()
        templates = (await cell.control.get("/api/v1/templates", headers=admin)).json()["items"]
        assert [(t["name"], t["state"], t["published_version"]) for t in templates] == [
            (name, "published", 1) for name in NAMES
        ]
        for template in templates:
            seeds = await cell.control.get(
                f"/api/v1/templates/{template['id']}/seeds", headers=admin
            )
            assert seeds.json()["total"] >= 1
            preview = await cell.control.post(
                f"/api/v1/templates/{template['id']}/preview", json={}, headers=admin
            )
            assert preview.status_code == 200, preview.text
            rendered = " ".join(preview.json()["fields"].values())
            assert "Ann" in rendered
        order = next(t for t in templates if t["name"] == "ORDER_CONFIRMATION_email")
        preview = await cell.control.post(
            f"/api/v1/templates/{order['id']}/preview", json={}, headers=admin
        )
        html = preview.json()["fields"]["html"]
        assert "<td>Blue mug</td><td>2</td><td>12.99</td>" in html
        assert "<td>Tea sampler</td><td>1</td><td>33.99</td>" in html
        reset = next(t for t in templates if t["name"] == "PASSWORD_RESET_email")
        reset_preview = await cell.control.post(
            f"/api/v1/templates/{reset['id']}/preview", json={}, headers=admin
        )
        assert (
            "https://shop.acme.test/reset?token=demo-4f2a" in reset_preview.json()["fields"]["text"]
        )
        for url in (exec_url(1), exec_url(2)):
            types = (await cell.mc(url, "GET", "/event-types")).json()
            assert types == ["ORDER_CONFIRMATION", "PASSWORD_RESET"]
            published = {t["name"] for t in (await cell.mc(url, "GET", "/templates")).json()}
            assert published == set(NAMES)


async def test_the_demo_is_idempotent_across_restarts(tmp_path: Path) -> None:
    async with control_cell(tmp_path, demo=True) as cell:
        admin = await cell.login()
        sms = next(
            t
            for t in (await cell.control.get("/api/v1/templates", headers=admin)).json()["items"]
            if t["name"] == "PASSWORD_RESET_sms"
        )
        await cell.control.post(f"/api/v1/templates/{sms['id']}/unpublish", headers=admin)
    async with control_cell(tmp_path, demo=True) as cell:
        admin = await cell.login()
        templates = (await cell.control.get("/api/v1/templates", headers=admin)).json()
        assert templates["total"] == 5
        states = {t["name"]: (t["state"], t["published_version"]) for t in templates["items"]}
        assert states["PASSWORD_RESET_sms"] == ("being_edited", 1)  # left as the operator left it
        assert states["PASSWORD_RESET_email"] == ("published", 1)  # no new version
        seeds = await cell.control.get(f"/api/v1/templates/{sms['id']}/seeds", headers=admin)
        assert seeds.json()["total"] == 1
        types = (await cell.control.get("/api/v1/event-types", headers=admin)).json()
        assert types["total"] == 2


async def test_the_demo_follows_its_instances_to_other_ports(tmp_path: Path) -> None:
    """``mcsim up --demo`` again on the same data directory with other ports: the accounts the
    settings made move to the new URLs (no second account, no id conflict) and the demo
    publishes to the instances where they now answer."""
    async with control_cell(tmp_path, demo=True) as cell:
        admin = await cell.login()
        first = (await cell.control.get("/api/v1/execution-instances", headers=admin)).json()

    def elsewhere(number: int) -> str:
        return f"http://exec-{number}.other.test"

    async with control_cell(tmp_path, demo=True, url_of=elsewhere) as cell:
        admin = await cell.login()
        accounts = (await cell.control.get("/api/v1/execution-instances", headers=admin)).json()
        moved = {a["name"]: (a["url"], a["instance_id"]) for a in accounts["items"]}
        assert moved == {"exec1": (elsewhere(1), 1), "exec2": (elsewhere(2), 2)}
        assert [a["id"] for a in accounts["items"]] == [a["id"] for a in first["items"]]
        for number in (1, 2):
            served = (await cell.mc(elsewhere(number), "GET", "/templates")).json()
            assert {t["name"] for t in served} == set(NAMES)


async def test_a_wrong_execution_password_stops_the_control_instance_clearly(
    tmp_path: Path,
) -> None:
    one = create_execution(ExecutionSettings(instance_id=1, data_dir=tmp_path, workers=0))
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
        with pytest.raises(
            DemoSetupError, match=r"http://exec-1 refused to publish PASSWORD_RESET_email: HTTP 401"
        ):
            async with serve(control):
                pass
        await client.aclose()

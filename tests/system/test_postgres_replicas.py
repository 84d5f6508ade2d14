"""PostgreSQL mode: two replicas of one execution instance share one queue, each event once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from services.cli.send import SendRequest, build_envelope
from services.db import normalize_url
from tests.support.live import free_port
from tests.support.smtp import SmtpSink
from tests.support.stack import running_stack, wait_until

POSTGRES_URL = os.environ.get("MCSIM_TEST_POSTGRES_URL")

pytestmark = [
    pytest.mark.system,
    pytest.mark.postgres,
    pytest.mark.skipif(POSTGRES_URL is None, reason="MCSIM_TEST_POSTGRES_URL is not set"),
]


def test_two_replicas_sharing_one_queue_deliver_every_event_once(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    prefix = f"r{uuid.uuid4().hex[:10]}"
    engine = create_engine(normalize_url(POSTGRES_URL))
    replica: subprocess.Popen[bytes] | None = None
    try:
        with SmtpSink() as relay:
            env = {"MCSIM_MID_SMTP_HOST": relay.host, "MCSIM_MID_SMTP_PORT": str(relay.port)}
            args = (
                "--demo",
                "--instances",
                "1",
                "--database-url",
                POSTGRES_URL,
                "--schema-prefix",
                prefix,
            )
            with running_stack(tmp_path / "data", *args, instances=1, env=env) as stack:
                port = free_port()
                replica = subprocess.Popen(
                    [sys.executable, "-m", "execution_instance"],
                    env={
                        **os.environ,
                        "MCSIM_EXEC_PORT": str(port),
                        "MCSIM_EXEC_INSTANCE_ID": "1",
                        "MCSIM_EXEC_DATABASE_URL": POSTGRES_URL,
                        "MCSIM_EXEC_DATABASE_SCHEMA": f"{prefix}_exec_1",
                        "MCSIM_EXEC_MIDSOURCING_URL": stack.mid_url,
                        "MCSIM_EXEC_PUBLIC_URL": stack.lb_url,
                        "MCSIM_EXEC_DATA_DIR": str(tmp_path / "replica"),
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                replica_url = f"http://127.0.0.1:{port}"
                assert wait_until(lambda: _healthy(replica_url), timeout=30)
                recipients = [f"replica{i}@example.com" for i in range(200)]
                asyncio.run(_push(recipients, [stack.exec_url(1), replica_url]))
                assert wait_until(lambda: relay.count() >= 200, timeout=60, interval=0.5)
                time.sleep(1.0)  # let a late duplicate land, if there were one
                assert [a for a in recipients if relay.count(a) != 1] == []
                assert relay.count() == 200
    finally:
        if replica is not None:
            replica.terminate()
            replica.wait(timeout=30)
        with engine.begin() as connection:
            for schema in ("exec_1", "control", "mid"):
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}_{schema}" CASCADE'))
        engine.dispose()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


async def _push(recipients: list[str], urls: list[str]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        semaphore = asyncio.Semaphore(16)

        async def one(index: int, address: str) -> None:
            request = SendRequest(lb_url="", event_type="PASSWORD_RESET", email=address)
            async with semaphore:
                answer = await client.post(
                    f"{urls[index % 2]}/nl/jsp/soaprouter.jsp",
                    content=build_envelope(request).encode(),
                    headers={"content-type": "text/xml", "soapaction": "nms:rtEvent#PushEvent"},
                )
            assert answer.status_code == 200, answer.text

        await asyncio.gather(*(one(i, a) for i, a in enumerate(recipients)))

"""mcsim package export --technical-account asks the control instance for that account."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.cli.package import export_to_file


def test_export_names_the_technical_accounts_by_client_id(tmp_path: Path) -> None:
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return httpx.Response(200, content=b"<package/>", headers={"x-mcsim-environment": "dev"})

    export_to_file(
        control="http://control.test",
        token="t",
        out=tmp_path / "p.xml",
        technical_accounts=["shop-website-01", "crm-0000001"],
        transport=httpx.MockTransport(answer),
    )
    (url,) = asked
    assert url.params.get_list("technical_account") == ["shop-website-01", "crm-0000001"]
    assert url.params.get_list("template") == []

"""The answer of ``xtk:session#Logon``, as every mcsim SOAP service gives it."""

from __future__ import annotations

from lxml import etree

from services.soap.envelope import Output
from services.version import VERSION
from services.xtk import xtk_now

__all__ = ["logon_outputs"]


def logon_outputs(
    *,
    session_token: str,
    security_token: str,
    login: str,
    ttl_seconds: int,
    instance_name: str,
    right: str,
) -> list[Output]:
    """Return the session token, the session info and the security token (campaign-facts §2.1)."""
    ttl = str(ttl_seconds)
    info = etree.Element("sessionInfo")
    etree.SubElement(
        info,
        "serverInfo",
        buildNumber="mcsim",
        buildVersion=VERSION,
        instanceName=instance_name,
        securityTimeOut=ttl,
        sessionTimeOut=ttl,
        serverDate=xtk_now(),
    )
    user = etree.SubElement(info, "userInfo", login=login, locale="en", timezone="UTC", loginId="0")
    etree.SubElement(user, "login-right", right=right)
    return [
        Output.string("pstrSessionToken", session_token),
        Output.xml("pSessionInfo", info),
        Output.string("pstrSecurityToken", security_token),
    ]

"""A website's integration written for Campaign v8.6: IMS token, then SOAP and REST."""

import zeep
from authlib.integrations.requests_client import OAuth2Session
from lxml import etree

IMS_URL = "http://127.0.0.1:8070"  # Adobe: https://ims-na1.adobelogin.com
CAMPAIGN_URL = "http://127.0.0.1:8080"  # Adobe: https://<instance>.campaign.adobe.com
CLIENT_ID, CLIENT_SECRET = "mcsim-dev-client", "p8e-mcsim-dev-client-secret"


def send_password_reset(email: str, ims_url: str = IMS_URL, campaign_url: str = CAMPAIGN_URL):
    """Push a PASSWORD_RESET event over SOAP, then over REST; return the plId and the PKey."""
    ims = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid,AdobeID,session",
        token_endpoint_auth_method="client_secret_post",
    )
    ims.fetch_token(f"{ims_url}/ims/token/v3", grant_type="client_credentials")
    # SOAP: the OAuth session sends Authorization: Bearer; <sessiontoken> stays empty.
    wsdl = f"{campaign_url}/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent"
    soap = zeep.Client(wsdl, transport=zeep.transports.Transport(session=ims))
    event = etree.Element("rtEvent", type="PASSWORD_RESET", email=email)
    etree.SubElement(etree.SubElement(event, "ctx"), "firstName").text = "Ann"
    pl_id = soap.service.PushEvent(sessiontoken="", domEvent={"_value_1": event})
    # REST: the same token, and the client id as X-Api-Key.
    answer = ims.post(
        f"{campaign_url}/acme/campaign/mcacme/EVTPASSWORD_RESET",
        json={"email": email, "ctx": {"firstName": "Ann"}},
        headers={"X-Api-Key": CLIENT_ID},
    )
    answer.raise_for_status()
    return pl_id, answer.json()["PKey"]

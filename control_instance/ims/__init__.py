"""Adobe IMS emulation: technical accounts, ``POST /ims/token/v3`` and the signing keys.

Campaign v8.5+ integrations exchange a technical account's client id and secret at Adobe IMS for
an access token (campaign-facts §2.7). The control instance answers that exchange because it
owns the configuration the tokens grant (accounts, product profiles) and is the one service every
other one already knows; the execution instances verify each token locally with the public keys
it publishes (``GET /ims/keys``), so no request costs a call to the control instance.
"""

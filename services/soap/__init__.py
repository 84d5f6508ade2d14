"""Campaign's SOAP codec: hardened parser, request envelopes, responses and faults, WSDLs.

- :mod:`services.soap.parser`: ``parse_xml`` — DTDs, entities, depth and size refused;
- :mod:`services.soap.envelope`: ``read_call`` → ``SoapCall``, ``render_response``,
  ``render_fault``;
- :mod:`services.soap.wsdl`: the WSDL of each schema, its address filled in at serve time.
"""

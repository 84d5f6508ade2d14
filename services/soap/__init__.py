"""Campaign's SOAP codec: hardened parser, request envelopes, responses and faults, WSDLs.

- :mod:`services.soap.parser`: ``parse_xml`` — DTDs, entities, depth and size refused;
- :mod:`services.soap.envelope`: ``read_call`` → ``SoapCall``, ``render_response``,
  ``render_fault``;
- :mod:`services.soap.router`: what every SOAP router shares (reading a call, its tokens);
- :mod:`services.soap.schemas`: the one description of every method, from which the WSDLs and
  the compiled schemas are rendered;
- :mod:`services.soap.wsdl`: the WSDL of each schema, its address filled in at serve time;
- :mod:`services.soap.session` and :mod:`services.soap.persist`: the ``xtk:session`` and
  ``xtk:persist`` methods every SOAP service answers the same way.
"""

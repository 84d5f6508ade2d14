// Push events through a client that npm's `soap` package generates from mcsim's WSDL.
//
//   node tests/node/soap_client.js '{"wsdl": "http://127.0.0.1:8080/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent",
//                                    "method": "PushEvent", "sessiontoken": "mc/mc",
//                                    "xml": "<rtEvent type=\"PASSWORD_RESET\" …/>"}'
//
// `xml` is the event document (PushEvent) or the collection (PushEvents), written as is inside
// the Element-typed parameter. Prints {"ok": true, "endpoint", "plIds", "result"} or
// {"ok": false, "error": {"message", "faultcode", "faultstring", "status"}}.
//
// A plId is a 64-bit number: node-soap turns xsd:long into a JS number (parseInt), which rounds
// it (72057594037927937 becomes 72057594037927940). The customDeserializer keeps it a string.
"use strict";

const soap = require("soap");

const DOCUMENT_PARAMETER = { PushEvent: "domEvent", PushEvents: "domEventCollection" };

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const client = await soap.createClientAsync(spec.wsdl, {
    customDeserializer: { long: (text) => text },
  });
  const endpoint = Object.values(client.wsdl.services)[0];
  const args = { sessiontoken: spec.sessiontoken };
  args[DOCUMENT_PARAMETER[spec.method]] = { $xml: spec.xml };
  try {
    const [result] = await client[`${spec.method}Async`](args);
    const plIds = [].concat(result && result.plId !== undefined ? result.plId : []).map(text);
    return { ok: true, endpoint: endpointOf(endpoint), plIds, result };
  } catch (error) {
    const fault = error.root && error.root.Envelope && error.root.Envelope.Body
      ? error.root.Envelope.Body.Fault
      : null;
    return {
      ok: false,
      error: {
        message: String(error.message),
        faultcode: fault ? text(fault.faultcode) : null,
        faultstring: fault ? text(fault.faultstring) : null,
        status: error.response ? error.response.status : null,
      },
    };
  }
}

// An element with attributes (xsi:type) comes back as {attributes, $value}.
function text(element) {
  return element !== null && typeof element === "object" ? element.$value : element;
}

function endpointOf(service) {
  if (!service) return null;
  const port = Object.values(service.ports)[0];
  return port ? port.location : null;
}

main().then(
  (output) => process.stdout.write(JSON.stringify(output) + "\n", () => process.exit(0)),
  (error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`, () => process.exit(2));
  },
);

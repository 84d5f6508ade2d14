// The SDK calls that Adobe's Message Center sample ("600 - message center - push event.js" in
// @adobe/acc-js-sdk 1.2.0) makes, for the system tests: the same connection modes, pushEvent and
// xtk:queryDef queries, driven from a JSON spec. The sample file itself is run unchanged by
// another test; this script returns what each step gets instead of printing it, and polls an
// event's status until it is final.
//
//   node tests/node/sample600.js '{"flow": "pushEvent", "url": "http://127.0.0.1:8080",
//                                  "eventType": "PASSWORD_RESET", "email": "ann@example.com"}'
//
// Prints one JSON object: {"ok": true, "value": …} or {"ok": false, "error": {…}}.
"use strict";

const sdk = require("@adobe/acc-js-sdk");

// Event statuses after which nothing changes: processed, ignored, deliveryFailed,
// routingFailed, tooOld.
const FINAL_STATUSES = new Set(["2", "3", "4", "5", "6"]);
const HIGH_BYTE_MASK = BigInt("0xFFFFFFFFFFFFFF");

function nodes(...expressions) {
  return { node: expressions.map((expr) => ({ expr })) };
}

function conditions(...expressions) {
  return { condition: expressions.map((expr) => ({ expr })) };
}

async function sessionTokenClient(spec) {
  const client = await sdk.init(sdk.ConnectionParameters.ofSessionToken(spec.url, "mc/mc"));
  await client.logon();
  return client;
}

function query(client, definition) {
  return client.NLWS.xtkQueryDef.create(definition).executeQuery();
}

function push(client, spec) {
  return client.NLWS.nmsRtEvent.pushEvent({
    wishedChannel: 0,
    type: spec.eventType,
    email: spec.email,
    ctx: { $firstName: "Alex" },
  });
}

async function pollStatus(client, eventId, timeoutSeconds) {
  const definition = {
    schema: "nms:rtEvent",
    operation: "get",
    select: nodes("@id", "@status", "@created", "@processing", "@processed"),
    where: conditions(`@id=${eventId}`),
  };
  const seen = [];
  const deadline = Date.now() + 1000 * timeoutSeconds;
  for (;;) {
    const event = await query(client, definition);
    seen.push(event.status);
    if (FINAL_STATUSES.has(String(event.status)) || Date.now() > deadline) return { event, seen };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const flows = {
  async sessionTokenLogon(spec) {
    const client = await sessionTokenClient(spec);
    const logged = client.isLogged();
    await client.logoff();
    return { logged };
  },

  async eventTypes(spec) {
    const client = await sessionTokenClient(spec);
    return query(client, {
      schema: "xtk:enumValue",
      operation: "select",
      select: nodes("@id", "@name", "@label"),
      where: conditions("[enum/@name]='eventType'"),
    });
  },

  async pushEvent(spec) {
    const client = await sessionTokenClient(spec);
    return { eventId: await push(client, spec) };
  },

  // The plId's high byte names the instance; the rest is the event's @id there.
  async eventStatus(spec) {
    const client = await sessionTokenClient(spec);
    const plId = await push(client, spec);
    const eventId = Number(BigInt(plId) & HIGH_BYTE_MASK);
    const { event, seen } = await pollStatus(client, eventId, spec.timeout || 20);
    return { plId, eventId, event, seen };
  },

  // The execution instances, read from the control (marketing) instance with Logon.
  async instances(spec) {
    const parameters = sdk.ConnectionParameters.ofUserAndPassword(
      spec.url,
      spec.user,
      spec.password,
      { clientApp: "acc-js-sdk sample" },
    );
    const client = await sdk.init(parameters);
    await client.logon();
    try {
      return await query(client, {
        schema: "nms:extAccount",
        operation: "select",
        select: nodes(
          "@id", "@name", "@label", "@active", "@server", "@port", "@account",
          "@executionInstanceId",
        ),
        where: conditions("@type=11", "@isMessageCenter=true"),
      });
    } finally {
      await client.logoff();
    }
  },
};

function describe(error) {
  return {
    name: (error && error.name) || null,
    message: error && error.message !== undefined ? String(error.message) : String(error),
    statusCode: error && error.statusCode !== undefined ? error.statusCode : null,
    errorCode: error && error.errorCode !== undefined ? error.errorCode : null,
    faultString: error && error.faultString !== undefined ? String(error.faultString) : null,
    detail: error && error.detail ? String(error.detail).slice(0, 2000) : null,
  };
}

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const flow = flows[spec.flow];
  if (flow === undefined) throw new Error(`unknown flow '${spec.flow}'`);
  try {
    return { ok: true, value: await flow(spec) };
  } catch (error) {
    return { ok: false, error: describe(error) };
  }
}

main().then(
  (output) => process.stdout.write(JSON.stringify(output) + "\n", () => process.exit(0)),
  (error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`, () => process.exit(2));
  },
);

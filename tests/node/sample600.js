// The flows of Adobe's sample "600 - message center - push event.js" (@adobe/acc-js-sdk 1.2.0,
// node_modules/@adobe/acc-js-sdk/samples/), for the system tests.
//
//   node tests/node/sample600.js '{"flow": "pushEvent", "url": "http://127.0.0.1:8080",
//                                  "eventType": "PASSWORD_RESET", "email": "ann@example.com"}'
//
// Each flow's body is the sample's code, unchanged but for three things: the URL, event type and
// e-mail address come from the spec instead of utils.js and the sample's constants; each flow
// returns what the sample prints with console.log; and "eventStatus" repeats the sample's status
// query until the event has a final status (the sample queries once). Prints one JSON object:
// {"ok": true, "value": …} or {"ok": false, "error": {…}}.
"use strict";

const sdk = require("@adobe/acc-js-sdk");

const FINAL_STATUSES = new Set(["2", "3", "4", "5", "6"]); // processed, ignored, failed…, too old

const flows = {
  // "Logon with user/password session token"
  async sessionTokenLogon(spec) {
    const connectionParameters = sdk.ConnectionParameters.ofSessionToken(spec.url, "mc/mc");
    const client = await sdk.init(connectionParameters);
    await client.logon();
    const logged = client.isLogged();
    await client.logoff();
    return { logged };
  },

  // "Getting all the published event types for an execution instance"
  async eventTypes(spec) {
    const connectionParameters = sdk.ConnectionParameters.ofSessionToken(spec.url, "mc/mc");
    const client = await sdk.init(connectionParameters);
    await client.logon();
    const NLWS = client.NLWS;

    var queryDef = {
      schema: "xtk:enumValue",
      operation: "select",
      select: {
        node: [{ expr: "@id" }, { expr: "@name" }, { expr: "@label" }],
      },
      where: { condition: [{ expr: "[enum/@name]='eventType'" }] },
    };
    var query = NLWS.xtkQueryDef.create(queryDef);
    const eventTypes = await query.executeQuery();
    return eventTypes;
  },

  // "Sending a transactional message"
  async pushEvent(spec) {
    const connectionParameters = sdk.ConnectionParameters.ofSessionToken(spec.url, "mc/mc");
    const client = await sdk.init(connectionParameters);
    await client.logon();
    const NLWS = client.NLWS;

    var eventId = await NLWS.nmsRtEvent.pushEvent({
      wishedChannel: 0,
      type: spec.eventType,
      email: spec.email,
      ctx: {
        $firstName: "Alex",
      },
    });
    return { eventId };
  },

  // "Getting the status of a transactional event"
  async eventStatus(spec) {
    const connectionParameters = sdk.ConnectionParameters.ofSessionToken(spec.url, "mc/mc");
    const client = await sdk.init(connectionParameters);
    await client.logon();
    const NLWS = client.NLWS;

    var eventId = await NLWS.nmsRtEvent.pushEvent({
      wishedChannel: 0,
      type: spec.eventType,
      email: spec.email,
      ctx: {
        $firstName: "Alex",
      },
    });
    const plId = eventId;

    // Clear high byte
    eventId = Number(BigInt(eventId) & BigInt("0xFFFFFFFFFFFFFF"));

    const queryDef = {
      schema: "nms:rtEvent",
      operation: "get",
      select: {
        node: [
          { expr: "@id" },
          { expr: "@status" },
          //{ expr: "delivery" },
          { expr: "@created" },
          { expr: "@processing" },
          { expr: "@processed" },
        ],
      },
      where: {
        condition: [{ expr: `@id=${eventId}` }],
      },
    };
    const seen = [];
    const deadline = Date.now() + 1000 * (spec.timeout || 20);
    for (;;) {
      const query = NLWS.xtkQueryDef.create(queryDef);
      var event = await query.executeQuery();
      seen.push(event.status);
      if (FINAL_STATUSES.has(String(event.status)) || Date.now() > deadline) {
        return { plId, eventId, event, seen };
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  },

  // "Getting all message center instances (from Marketing server)": utils.logon is
  // ofUserAndPassword(url, user, password, {clientApp: 'acc-js-sdk sample'}), logon, logoff.
  async instances(spec) {
    const connectionParameters = sdk.ConnectionParameters.ofUserAndPassword(
      spec.url,
      spec.user,
      spec.password,
      { clientApp: "acc-js-sdk sample" },
    );
    const client = await sdk.init(connectionParameters);
    await client.logon();
    try {
      const NLWS = client.NLWS;
      const queryDef = {
        schema: "nms:extAccount",
        operation: "select",
        select: {
          node: [
            { expr: "@id" },
            { expr: "@name" },
            { expr: "@label" },
            { expr: "@active" },
            { expr: "@server" },
            { expr: "@port" },
            { expr: "@account" },
            { expr: "@executionInstanceId" },
          ],
        },
        where: {
          condition: [{ expr: "@type=11" }, { expr: "@isMessageCenter=true" }],
        },
      };
      const query = NLWS.xtkQueryDef.create(queryDef);
      const instances = await query.executeQuery();
      return instances;
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

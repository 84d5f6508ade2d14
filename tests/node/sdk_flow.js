// Drive Adobe's Campaign JS SDK (@adobe/acc-js-sdk) through a list of steps, for the system tests.
//
//   echo '{"url": "http://127.0.0.1:8080",
//          "connection": {"kind": "sessionToken", "token": "mc/mc"},
//          "steps": [{"do": "logon"},
//                    {"do": "call", "schema": "nmsRtEvent", "method": "pushEvent",
//                     "args": [{"type": "PASSWORD_RESET", "email": "ann@example.com",
//                               "ctx": {"$firstName": "Ann"}}]},
//                    {"do": "logoff"}]}' | node tests/node/sdk_flow.js
//
// prints one JSON object: {"steps": [{"do": …, "ok": true, "value": …} or
// {"do": …, "ok": false, "error": {"name", "message", "statusCode", "errorCode", "faultCode",
// "faultString", "detail"}}, …]}. Every step runs, whatever the previous ones did, so that a
// test can assert what the SDK does after an error too. The SDK is used only through its
// public API, as Adobe's docs and samples use it, but for `tokens` and `expireSession`, which
// read the tokens the SDK keeps after a logon to reach the same session from a second client.
// `"refresh": true` in the connection adds the refreshClient callback of Adobe's docs.
"use strict";

const sdk = require("@adobe/acc-js-sdk");

let refreshes = 0;

function connectionParameters(url, connection) {
  const c = connection || { kind: "sessionToken", token: "mc/mc" };
  const P = sdk.ConnectionParameters;
  if (c.refresh) {
    // Adobe's pattern (docs/connecting.html, "Refreshing connection tokens"): log on again.
    c.options = {
      ...c.options,
      refreshClient: async (client) => {
        refreshes += 1;
        await client.logon();
        return client;
      },
    };
  }
  switch (c.kind) {
    case "sessionToken":
      return P.ofSessionToken(url, c.token, c.options);
    case "userAndPassword":
      return P.ofUserAndPassword(url, c.user, c.password, c.options);
    case "bearerToken":
      return P.ofBearerToken(url, c.token, c.options);
    case "imsBearerToken":
      return P.ofImsBearerToken(url, c.token, c.options);
    case "sessionAndSecurityToken":
      return P.ofSessionAndSecurityToken(url, c.sessionToken, c.securityToken, c.options);
    case "anonymous":
      return P.ofAnonymousUser(url, c.options);
    default:
      throw new Error(`unknown connection kind '${c.kind}'`);
  }
}

async function run(client, step) {
  const NLWS = client.NLWS;
  switch (step.do) {
    case "logon":
      await client.logon();
      return null;
    case "logoff":
      await client.logoff();
      return null;
    case "ping":
      return await client.ping();
    case "mcPing":
      return await client.mcPing();
    case "test":
      return await client.test();
    case "call":
      return await NLWS[step.schema][step.method](...(step.args || []));
    case "query":
      return await NLWS.xtkQueryDef.create(step.queryDef).executeQuery();
    case "getOption":
      return await client.getOption(step.name);
    case "sessionInfo": {
      const info = client.getSessionInfo();
      const app = client.application;
      return {
        sessionInfo: info === undefined ? null : info,
        instanceName: app ? app.instanceName : null,
        buildNumber: app ? app.buildNumber : null,
        operator: app && app.operator ? app.operator.login : null,
      };
    }
    case "tokens":
      return { sessionToken: client._sessionToken, securityToken: client._securityToken };
    case "isLogged":
      return client.isLogged();
    case "refreshes":
      return refreshes;
    case "expireSession": {
      // Close this client's session behind its back: another client on the same tokens logs off.
      const other = await sdk.init(
        sdk.ConnectionParameters.ofSessionAndSecurityToken(
          client._connectionParameters._endpoint,
          client._sessionToken,
          client._securityToken,
        ),
      );
      await other.logon();
      await other.logoff();
      return null;
    }
    default:
      throw new Error(`unknown step '${step.do}'`);
  }
}

function describe(error) {
  if (!(error instanceof Error) && typeof error !== "object") {
    return { name: typeof error, message: String(error) };
  }
  const detail = error.detail === undefined || error.detail === null ? null : String(error.detail);
  return {
    name: error.name || (error.constructor && error.constructor.name) || null,
    message: error.message === undefined ? String(error) : String(error.message),
    statusCode: error.statusCode === undefined ? null : error.statusCode,
    errorCode: error.errorCode === undefined ? null : error.errorCode,
    faultCode: error.faultCode === undefined ? null : error.faultCode,
    faultString: error.faultString === undefined ? null : String(error.faultString),
    detail: detail === null ? null : detail.slice(0, 2000),
  };
}

function readStdin() {
  return new Promise((resolve, reject) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => (text += chunk));
    process.stdin.on("end", () => resolve(text));
    process.stdin.on("error", reject);
  });
}

async function main() {
  const spec = JSON.parse(process.argv[2] || (await readStdin()));
  const results = [];
  const client = await sdk.init(connectionParameters(spec.url, spec.connection));
  for (const step of spec.steps) {
    const started = Date.now();
    try {
      const value = await run(client, step);
      results.push({ do: step.do, ok: true, value: value === undefined ? null : value });
    } catch (error) {
      results.push({ do: step.do, ok: false, error: describe(error) });
    }
    results[results.length - 1].ms = Date.now() - started;
  }
  return { steps: results };
}

main().then(
  (output) => process.stdout.write(JSON.stringify(output) + "\n", () => process.exit(0)),
  (error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`, () => process.exit(2));
  },
);

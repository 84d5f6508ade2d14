// Push one event to mcsim with Adobe's Campaign JS SDK, the way Adobe documents Message Center.
// Run: node push_event.js [email]   (MCSIM_URL defaults to the load balancer of `make up`)
const sdk = require("@adobe/acc-js-sdk");

(async () => {
  const url = process.env.MCSIM_URL || "http://127.0.0.1:8080";
  const connectionParameters = sdk.ConnectionParameters.ofSessionToken(url, "mc/mc");
  const client = await sdk.init(connectionParameters);
  await client.logon(); // no request: "mc/mc" travels with every call as login/password
  const plId = await client.NLWS.nmsRtEvent.pushEvent({
    wishedChannel: 0,
    type: "PASSWORD_RESET",
    email: process.argv[2] || "ann@example.com",
    ctx: { $firstName: "Ann", $resetUrl: "https://shop.example/reset?t=42" },
  });
  console.log(plId); // a string: "72057594037927937" (instance 1, event 1)
  await client.logoff();
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});

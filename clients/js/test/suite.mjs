// One gateway for a test file, and the clients its tests open: started before the file's
// tests, every client closed and the gateway stopped after them.
import { after, before } from "node:test";
import { PresenceClient } from "../dist/index.js";
import { Gateway, mint } from "./gateway.mjs";

/** `defaults` are every client's options, under what a test passes. */
export function gatewaySuite({ gateway: gatewayOptions = {}, defaults = {} } = {}) {
  const gateway = new Gateway(gatewayOptions);
  const clients = [];
  const open = (options) => {
    const client = new PresenceClient({ url: gateway.url, ...defaults, ...options });
    clients.push(client);
    return client;
  };
  const signIn = async (userId, options = {}) => {
    const client = open({ token: mint(userId), ...options });
    await client.connect();
    return client;
  };
  before(() => gateway.start());
  after(async () => {
    for (const client of clients) client.close();
    await gateway.stop();
  });
  return { gateway, open, signIn };
}

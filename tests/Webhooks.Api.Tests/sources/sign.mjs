// Signs a request body (read from stdin) as each sender does, with the sender's own library, and prints the headers as JSON.
//   node sign.mjs github <secret>                 -> { "X-Hub-Signature-256": ... }       (@octokit/webhooks-methods)
//   node sign.mjs stripe <secret> [unixSeconds]   -> { "Stripe-Signature": ... }          (stripe's generateTestHeaderString)
//   node sign.mjs standard <secret> <id> [unix]   -> { "webhook-id", "webhook-timestamp", "webhook-signature" } (standardwebhooks)
//   node sign.mjs github-example <event>          -> the first example payload of that GitHub event (@octokit/webhooks-examples), as GitHub sends it
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { sign as signGitHub } from "@octokit/webhooks-methods";
import Stripe from "stripe";
import { Webhook } from "standardwebhooks";

const [kind, ...args] = process.argv.slice(2);
const body = () => readFileSync(0, "utf8");

switch (kind) {
  case "github": {
    console.log(JSON.stringify({ "X-Hub-Signature-256": await signGitHub(args[0], body()) }));
    break;
  }
  case "stripe": {
    const stripe = new Stripe("sk_test_not_used");
    const timestamp = args[1] ? Number(args[1]) : Math.floor(Date.now() / 1000);
    console.log(JSON.stringify({ "Stripe-Signature": stripe.webhooks.generateTestHeaderString({ payload: body(), secret: args[0], timestamp }) }));
    break;
  }
  case "standard": {
    const [secret, id, unix] = args;
    const timestamp = new Date((unix ? Number(unix) : Math.floor(Date.now() / 1000)) * 1000);
    const signature = new Webhook(secret).sign(id, timestamp, body());
    console.log(JSON.stringify({ "webhook-id": id, "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)), "webhook-signature": signature }));
    break;
  }
  case "github-example": {
    const require = createRequire(import.meta.url);
    const examples = require("@octokit/webhooks-examples/api.github.com/index.json");
    const event = examples.find(e => e.name === args[0]);
    if (!event) throw new Error(`no example of ${args[0]}`);
    process.stdout.write(JSON.stringify(event.examples[0]));
    break;
  }
  default:
    throw new Error(`unknown kind ${kind}`);
}

// An independent Standard Webhooks peer for the SDK's tests, using the public `standardwebhooks` package.
//   node peer.mjs sign <secret> <id> <unix-seconds>     body on stdin → prints the webhook-signature header
//   node peer.mjs verify <secret> <id> <unix-seconds> <signature>   body on stdin → prints "valid" or the error
import { Webhook } from "standardwebhooks";

const [mode, secret, id, timestamp, signature] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const body = Buffer.concat(chunks);
const webhook = new Webhook(secret);

if (mode === "sign") {
  process.stdout.write(webhook.sign(id, new Date(Number(timestamp) * 1000), body));
} else if (mode === "verify") {
  try {
    webhook.verify(body, { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature });
    process.stdout.write("valid");
  } catch (error) {
    process.stdout.write(`invalid: ${error.message}`);
    process.exitCode = 1;
  }
} else {
  process.stderr.write(`unknown mode ${mode}`);
  process.exitCode = 2;
}

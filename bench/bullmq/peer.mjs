// The benchmark's peer: the webhook queue a team would hand-roll on BullMQ. One job per delivery; a worker at
// concurrency 64 signs each body with the Standard Webhooks scheme (HMAC-SHA256 with node:crypto, as a hand-rolled
// sender would; checked against the npm standardwebhooks package at start) and POSTs it over keep-alive connections to
// the same SDK receiver the platform's workers send to; a non-2xx answer fails the job, retried after 1 s (3 attempts).
// Completed jobs are removed (no delivery log is kept: the platform keeps one in Postgres).
//   node peer.mjs worker                       (REDIS_PORT, SECRET, CONCURRENCY): prints "ready", then runs until killed
//   node peer.mjs produce                      (REDIS_PORT, RECEIVER, COUNT, ENDPOINTS, ROUND): adds COUNT jobs in batches
//                                               of 500, two batches at a time; prints {"publishSeconds": …}
import { createHmac } from "node:crypto";
import http from "node:http";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { Webhook } from "standardwebhooks";

const role = process.argv[2];
// BullMQ takes an ioredis client of its own making in an ES module (a worker's blocking connection needs no retry limit).
const connection = new Redis({ host: "127.0.0.1", port: Number(process.env.REDIS_PORT), maxRetriesPerRequest: null });
const queueName = "webhooks";

function post(url, headers, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", headers, agent }, response => {
      response.resume();
      response.on("end", () => resolve(response.statusCode));
    });
    request.on("error", reject);
    request.end(body);
  });
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

if (role === "worker") {
  const key = Buffer.from(process.env.SECRET.replace(/^whsec_/, ""), "base64");
  const sign = (id, seconds, body) => "v1," + createHmac("sha256", key).update(`${id}.${seconds}.${body}`).digest("base64");
  // The same signature as the scheme's own package makes (so a mistake here cannot make the peer look faster).
  const check = new Webhook(process.env.SECRET).sign("msg_check", new Date(1_700_000_000_000), "{}");
  if (sign("msg_check", 1_700_000_000, "{}") !== check) throw new Error("the peer's signature differs from standardwebhooks'");
  const worker = new Worker(queueName, async job => {
    const { id, url, body } = job.data;
    const seconds = Math.floor(Date.now() / 1000);
    const status = await post(url, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "webhook-id": id,
      "webhook-timestamp": String(seconds),
      "webhook-signature": sign(id, seconds, body),
    }, body);
    if (status >= 300) throw new Error(`answered ${status}`);
  }, { connection, concurrency: Number(process.env.CONCURRENCY ?? 64) });
  await worker.waitUntilReady();
  console.log("ready");
  process.on("SIGTERM", async () => { await worker.close(); process.exit(0); });
} else if (role === "produce") {
  const queue = new Queue(queueName, { connection });
  const count = Number(process.env.COUNT), endpoints = Number(process.env.ENDPOINTS), round = process.env.ROUND;
  const receiver = process.env.RECEIVER;
  const filler = "x".repeat(900);
  // The same 1 KiB payloads as the platform's scenario, in the same envelope.
  const jobs = Array.from({ length: count }, (_, n) => ({
    name: "deliver",
    data: {
      id: `bull_${round}_${n}`,
      url: `${receiver}webhooks/e${n % endpoints}`,
      body: JSON.stringify({
        type: "bench",
        timestamp: new Date().toISOString(),
        data: { orderId: n, total: 42.5, currency: "EUR", note: filler.slice(0, 900 - (n % 7)) },
      }),
    },
    opts: { attempts: 3, backoff: { type: "fixed", delay: 1000 }, removeOnComplete: true },
  }));
  const started = performance.now();
  const batches = [];
  for (let i = 0; i < jobs.length; i += 500) batches.push(jobs.slice(i, i + 500));
  let next = 0;
  await Promise.all([0, 1].map(async () => {
    while (next < batches.length) await queue.addBulk(batches[next++]);
  }));
  console.log(JSON.stringify({ publishSeconds: (performance.now() - started) / 1000 }));
  await queue.close();
  connection.disconnect();
} else {
  throw new Error(`unknown role ${role}`);
}

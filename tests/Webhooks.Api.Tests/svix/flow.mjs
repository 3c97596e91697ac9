// The public npm `svix` SDK (2.5.0, exact) driving the API's Svix-compatible surface end to end, with a receiver of its
// own that verifies every delivery with the SDK's `Webhook` class. Run by SvixSdkTests.cs:
//
//   SVIX_SERVER_URL=http://127.0.0.1:5123 SVIX_TOKEN=<admin key> node flow.mjs
//
// Each step asserts what Svix's contract (docs/svix-contract.md) promises. A failing step prints its name, the error
// (for an ApiException its `code` and `body`) and what the receiver saw, and exits 1. Success prints one line of JSON
// on stdout and exits 0; progress goes to stderr.
//
// Method names are svix 2.5.0's (node_modules/svix/dist/index.d.mts): there is no `update` on applications, endpoints
// or event types (their PUT is `upsert`), and endpoint headers are `getHeaders` / `setHeaders` (PUT) / `patchHeaders`.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { ApiException, Svix, Webhook } from "svix";

const serverUrl = process.env.SVIX_SERVER_URL;
const token = process.env.SVIX_TOKEN;
if (!serverUrl || !token) {
  console.error("SVIX_SERVER_URL and SVIX_TOKEN must both be set.");
  process.exit(2);
}

const started = Date.now();
const rand = () => randomBytes(6).toString("hex");
const log = (line) => console.error(`[svix-flow ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
const svix = new Svix(token, { serverUrl, requestTimeout: 30_000 });

// ---------------------------------------------------------------------------------------------------------------------
// Receiver: one route per endpoint path, each with the endpoint's secrets (all of them are tried: during a rotation's
// grace period Svix signs with the new key and the old ones) and the status it answers with (500 to make attempts fail).

class Receiver {
  constructor() {
    this.routes = new Map();
    /** Every request that verified: { path, svixId, raw: Buffer, headers, verifiedWith: secret[], answered, at }. */
    this.deliveries = [];
    /** Every request that did not verify (answered 400) or came to an unknown path (answered 404). */
    this.failures = [];
    this.server = http.createServer((req, res) => this.handle(req, res));
    // Longer than .NET's pooled-connection idle timeout (1 min), so the sender never reuses a connection we just closed.
    this.server.keepAliveTimeout = 120_000;
    this.server.headersTimeout = 125_000;
  }

  async start() {
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", resolve);
    });
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this.url;
  }

  route(path) {
    let route = this.routes.get(path);
    if (!route) {
      route = { secrets: [], status: 204 };
      this.routes.set(path, route);
    }
    return route;
  }

  addSecret(path, secret) {
    this.route(path).secrets.push(secret);
  }

  answer(path, status) {
    this.route(path).status = status;
  }

  handle(req, res) {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("error", (err) => this.failures.push({ path: req.url, reason: `request error: ${err.message}` }));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const path = new URL(req.url, "http://receiver").pathname;
      const headers = {};
      for (const [name, value] of Object.entries(req.headers)) {
        headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const svixId = headers["svix-id"];
      const route = this.routes.get(path);
      if (!route) {
        this.failures.push({ path, svixId, reason: "no such path on the receiver" });
        res.writeHead(404).end();
        return;
      }
      const verifiedWith = [];
      const errors = [];
      for (const secret of route.secrets) {
        try {
          // svix 2.5.0: verify returns undefined and throws WebhookVerificationError when nothing matches.
          new Webhook(secret).verify(raw.toString("utf8"), headers);
          verifiedWith.push(secret);
        } catch (err) {
          errors.push(`${err?.name}: ${err?.message}`);
        }
      }
      if (verifiedWith.length === 0) {
        this.failures.push({
          path,
          svixId,
          reason: `no secret of ${route.secrets.length} verified it: ${errors.join(" | ")}`,
          headers,
          body: raw.toString("utf8").slice(0, 500),
        });
        res.writeHead(400, { "content-type": "text/plain" }).end("signature not verified");
        return;
      }
      const answered = route.status;
      this.deliveries.push({ path, svixId, raw, headers, verifiedWith, answered, at: Date.now() });
      if (answered === 204) {
        res.writeHead(204).end();
      } else {
        res.writeHead(answered, { "content-type": "text/plain" }).end(`receiver told to answer ${answered}`);
      }
    });
  }

  /** Deliveries to `path` answered 204 (accepted), optionally only those of one message. */
  accepted(path, svixId) {
    return this.deliveries.filter((d) => d.path === path && d.answered === 204 && (svixId === undefined || d.svixId === svixId));
  }

  summary() {
    const byPath = {};
    for (const d of this.deliveries) {
      const entry = (byPath[d.path] ??= { accepted: 0, refusedOnPurpose: 0, ids: [] });
      if (d.answered === 204) entry.accepted++;
      else entry.refusedOnPurpose++;
      if (!entry.ids.includes(d.svixId)) entry.ids.push(d.svixId);
    }
    return { byPath, failures: this.failures };
  }

  close() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const receiver = new Receiver();

// ---------------------------------------------------------------------------------------------------------------------
// Helpers

function describe(err) {
  if (err instanceof ApiException) {
    return `ApiException code=${err.code} body=${JSON.stringify(err.body)} (${err.message.split("\n")[0]})`;
  }
  if (err instanceof assert.AssertionError) {
    return `AssertionError: ${err.message}`;
  }
  const cause = err?.cause ? ` [cause: ${err.cause?.code ?? ""} ${err.cause?.message ?? err.cause}]` : "";
  return `${err?.name ?? "Error"}: ${err?.message ?? err}${cause}`;
}

function fail(stepName, err) {
  console.error(`\nSVIX FLOW FAILED at step "${stepName}": ${describe(err)}`);
  if (err instanceof ApiException) {
    console.error(`  err.code = ${err.code}`);
    console.error(`  JSON.stringify(err.body) = ${JSON.stringify(err.body)}`);
  }
  if (err?.stack) console.error(err.stack);
  console.error(`Receiver so far: ${JSON.stringify(receiver.summary(), null, 2)}`);
  process.exit(1);
}

let currentStep = "(start)";

async function step(name, body) {
  currentStep = name;
  const t0 = Date.now();
  try {
    const result = await body();
    log(`ok  ${name} (${Date.now() - t0} ms)`);
    return result;
  } catch (err) {
    fail(name, err);
  }
}

/** Runs `call`, which must throw an ApiException with HTTP status `code`; returns it. */
async function expectApiError(what, code, call) {
  let value;
  try {
    value = await call();
  } catch (err) {
    if (!(err instanceof ApiException)) {
      throw new Error(`${what}: expected an ApiException with code ${code}, got ${describe(err)}`, { cause: err });
    }
    assert.equal(err.code, code, `${what}: expected HTTP ${code}, got ${err.code} with body ${JSON.stringify(err.body)}`);
    return err;
  }
  assert.fail(`${what}: expected an ApiException with code ${code}, but the call succeeded and returned ${JSON.stringify(value)}`);
}

function assertList(what, page) {
  assert.ok(page && Array.isArray(page.data), `${what}: 'data' must be an array, got ${JSON.stringify(page)}`);
  assert.equal(typeof page.done, "boolean", `${what}: 'done' must be a boolean, got ${JSON.stringify(page.done)}`);
  if (!page.done) {
    assert.ok(
      typeof page.iterator === "string" && page.iterator.length > 0,
      `${what}: done=false needs an iterator, got ${JSON.stringify(page.iterator)}`,
    );
  }
}

/**
 * Pages through a list with `iterator` until `done` (or, with `until`, until an item satisfies it). `fetch(iterator)`
 * returns one ListResponse; the first call gets `undefined`.
 */
async function pages(what, fetch, { until, maxPages = 400 } = {}) {
  const items = [];
  const seen = new Set();
  let iterator;
  for (let n = 0; n < maxPages; n++) {
    const page = await fetch(iterator);
    assertList(`${what} (page ${n + 1})`, page);
    items.push(...page.data);
    if (page.done || (until && page.data.some(until))) {
      return items;
    }
    assert.ok(!seen.has(page.iterator), `${what}: the iterator ${page.iterator} came back twice (page ${n + 1})`);
    seen.add(page.iterator);
    iterator = page.iterator;
  }
  assert.fail(`${what}: still not done after ${maxPages} pages`);
}

/** Polls `check` (returning { ok: true, value } or { ok: false, why }) every 250 ms until ok, or fails after `timeoutMs`. */
async function waitFor(what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last.ok) return last.value;
    if (Date.now() > deadline) {
      assert.fail(`${what}: not within ${timeoutMs / 1000} s; last seen: ${last.why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const isDate = (value) => value instanceof Date && !Number.isNaN(value.getTime());
const sameJson = (value) => JSON.parse(JSON.stringify(value));
const headerValue = (headers, name) =>
  Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];

function checkApp(app, { id, uid, name, metadata }, what) {
  assert.equal(typeof app.id, "string", `${what}: id`);
  assert.ok(app.id.startsWith("app_"), `${what}: id ${app.id} should start with app_`);
  if (id !== undefined) assert.equal(app.id, id, `${what}: id`);
  if (uid !== undefined) assert.equal(app.uid, uid, `${what}: uid`);
  if (name !== undefined) assert.equal(app.name, name, `${what}: name`);
  if (metadata !== undefined) assert.deepEqual(app.metadata, metadata, `${what}: metadata`);
  assert.equal(typeof app.metadata, "object", `${what}: metadata must be an object, got ${JSON.stringify(app.metadata)}`);
  assert.ok(isDate(app.createdAt), `${what}: createdAt is not a date`);
  assert.ok(isDate(app.updatedAt), `${what}: updatedAt is not a date`);
}

function checkEndpoint(ep, expected, what) {
  assert.equal(typeof ep.id, "string", `${what}: id`);
  assert.ok(ep.id.startsWith("ep_"), `${what}: id ${ep.id} should start with ep_`);
  for (const [key, value] of Object.entries(expected)) {
    if (value === null) {
      assert.ok(ep[key] == null, `${what}: ${key} should be null or absent, got ${JSON.stringify(ep[key])}`);
    } else {
      assert.deepEqual(ep[key], value, `${what}: ${key}`);
    }
  }
  assert.equal(typeof ep.description, "string", `${what}: description must be a string`);
  assert.equal(typeof ep.metadata, "object", `${what}: metadata must be an object`);
  assert.ok(isDate(ep.createdAt), `${what}: createdAt is not a date`);
  assert.ok(isDate(ep.updatedAt), `${what}: updatedAt is not a date`);
}

function checkEventType(et, { name, description }, what) {
  assert.equal(et.name, name, `${what}: name`);
  assert.equal(et.description, description, `${what}: description`);
  assert.equal(typeof et.deprecated, "boolean", `${what}: deprecated must be a boolean, got ${JSON.stringify(et.deprecated)}`);
  assert.ok(isDate(et.createdAt), `${what}: createdAt is not a date`);
  assert.ok(isDate(et.updatedAt), `${what}: updatedAt is not a date`);
}

function checkAttempt(attempt, { msgId, endpointId, url, status = 0, code = 204, trigger = 0 }, what) {
  assert.equal(typeof attempt.id, "string", `${what}: id`);
  assert.ok(attempt.id.startsWith("atmpt_"), `${what}: id ${attempt.id} should start with atmpt_`);
  assert.equal(attempt.msgId, msgId, `${what}: msgId`);
  assert.equal(attempt.endpointId, endpointId, `${what}: endpointId`);
  assert.equal(attempt.status, status, `${what}: status`);
  assert.equal(attempt.statusText, { 0: "success", 2: "fail" }[status], `${what}: statusText`);
  assert.equal(attempt.responseStatusCode, code, `${what}: responseStatusCode`);
  assert.equal(attempt.triggerType, trigger, `${what}: triggerType`);
  assert.ok(isDate(attempt.timestamp), `${what}: timestamp is not a date (${attempt.timestamp})`);
  assert.equal(attempt.url, url, `${what}: url`);
  assert.equal(typeof attempt.response, "string", `${what}: response must be a string`);
  assert.equal(typeof attempt.responseDurationMs, "number", `${what}: responseDurationMs must be a number`);
}

const attemptsText = (list) =>
  JSON.stringify(list.map((a) => ({ id: a.id, msgId: a.msgId, endpointId: a.endpointId, status: a.status, code: a.responseStatusCode, trigger: a.triggerType })));

// ---------------------------------------------------------------------------------------------------------------------
// The flow

const overall = setTimeout(() => fail(currentStep, new Error("the flow took more than 220 s")), 220_000);
overall.unref();
process.on("unhandledRejection", (err) => fail(currentStep, err));

const run = rand();
const appUid = `svix-flow-${run}`;
const appName = `svix flow ${run}`;
const typeName = `invoice.paid-${run}`;
const otherType = `order.created-${run}`; // never created: a message's event type need not exist (contract §3)

await step("receiver: listen on 127.0.0.1, port 0", () => receiver.start());
log(`receiver on ${receiver.url}, API ${serverUrl}`);

// a. Applications -----------------------------------------------------------------------------------------------------
const app = await step("a. application.getOrCreate twice with one uid gives one application", async () => {
  const first = await svix.application.getOrCreate({ name: appName, uid: appUid });
  checkApp(first, { uid: appUid, name: appName }, "first getOrCreate");
  const second = await svix.application.getOrCreate({ name: appName, uid: appUid });
  checkApp(second, { id: first.id, uid: appUid, name: appName }, "second getOrCreate");
  return first;
});
const appId = app.id;

await step("a. application.get by uid and by id", async () => {
  checkApp(await svix.application.get(appUid), { id: appId, uid: appUid, name: appName }, "get by uid");
  checkApp(await svix.application.get(appId), { id: appId, uid: appUid, name: appName }, "get by id");
});

await step("a. application.list contains it", async () => {
  const all = await pages(
    "application.list",
    (iterator) => (iterator === undefined ? svix.application.list() : svix.application.list({ iterator, limit: 250 })),
    { until: (a) => a.id === appId },
  );
  const found = all.find((a) => a.id === appId);
  assert.ok(found, `application.list: ${appId} not in any page (${all.length} applications listed)`);
  checkApp(found, { id: appId, uid: appUid, name: appName }, "listed application");
  const newest = await svix.application.list({ order: "descending", limit: 10 });
  assertList("application.list descending", newest);
  assert.ok(
    newest.data.some((a) => a.id === appId),
    `application.list({order: "descending", limit: 10}) should hold the newest application ${appId}: ${JSON.stringify(newest.data.map((a) => a.id))}`,
  );
});

const renamed = `${appName} renamed`;
await step("a. application.upsert (PUT) by uid renames it", async () => {
  const updated = await svix.application.upsert(appUid, { name: renamed, uid: appUid });
  checkApp(updated, { id: appId, uid: appUid, name: renamed }, "upsert");
});

await step("a. application.patch by uid sets metadata and keeps the rest", async () => {
  const patched = await svix.application.patch(appUid, { metadata: { team: "svix-flow", run } });
  checkApp(patched, { id: appId, uid: appUid, name: renamed, metadata: { team: "svix-flow", run } }, "patch");
  checkApp(await svix.application.get(appId), { id: appId, name: renamed, metadata: { team: "svix-flow", run } }, "get after patch");
});

// b. Event types ------------------------------------------------------------------------------------------------------
await step("b. eventType.create", async () => {
  const created = await svix.eventType.create({ name: typeName, description: "An invoice was paid" });
  checkEventType(created, { name: typeName, description: "An invoice was paid" }, "create");
  assert.equal(created.deprecated, false, "create: deprecated");
  assert.ok(created.archived === undefined || created.archived === false, `create: archived should be false, got ${created.archived}`);
});

await step("b. eventType.get", async () => {
  checkEventType(await svix.eventType.get(typeName), { name: typeName, description: "An invoice was paid" }, "get");
});

await step("b. eventType.list contains it", async () => {
  const all = await pages(
    "eventType.list",
    (iterator) => (iterator === undefined ? svix.eventType.list() : svix.eventType.list({ iterator, limit: 250 })),
    { until: (t) => t.name === typeName },
  );
  const found = all.find((t) => t.name === typeName);
  assert.ok(found, `eventType.list: ${typeName} not in any page (${all.length} listed)`);
  checkEventType(found, { name: typeName, description: "An invoice was paid" }, "listed event type");
});

await step("b. eventType.upsert (PUT) and eventType.patch change the description", async () => {
  const upserted = await svix.eventType.upsert(typeName, { description: "Invoice paid (upserted)" });
  checkEventType(upserted, { name: typeName, description: "Invoice paid (upserted)" }, "upsert");
  const patched = await svix.eventType.patch(typeName, { description: "Invoice paid (patched)" });
  checkEventType(patched, { name: typeName, description: "Invoice paid (patched)" }, "patch");
  checkEventType(await svix.eventType.get(typeName), { name: typeName, description: "Invoice paid (patched)" }, "get after patch");
});

await step("b. eventType.create of an existing name is a 409", async () => {
  const err = await expectApiError("second eventType.create", 409, () =>
    svix.eventType.create({ name: typeName, description: "again" }),
  );
  assert.equal(typeof err.body?.code, "string", `409 body.code must be a string: ${JSON.stringify(err.body)}`);
  assert.equal(typeof err.body?.detail, "string", `409 body.detail must be a string: ${JSON.stringify(err.body)}`);
});

// c. Endpoints --------------------------------------------------------------------------------------------------------
const urlA = () => `${receiver.url}/a`;
const urlB = () => `${receiver.url}/b`;

const epA = await step("c. endpoint.create /a (uid ep-a, filtered on the event type)", async () => {
  const ep = await svix.endpoint.create(appId, {
    url: urlA(),
    uid: "ep-a",
    eventTypes: [typeName],
    description: "endpoint a",
    metadata: { role: "a" },
  });
  checkEndpoint(ep, { uid: "ep-a", url: urlA(), eventTypes: [typeName], description: "endpoint a", metadata: { role: "a" } }, "create a");
  assert.ok(ep.disabled === undefined || ep.disabled === false, `create a: disabled should be false, got ${ep.disabled}`);
  return ep;
});

const epB = await step("c. endpoint.create /b (no filter)", async () => {
  const ep = await svix.endpoint.create(appId, { url: urlB(), uid: "ep-b", description: "endpoint b" });
  checkEndpoint(ep, { uid: "ep-b", url: urlB(), eventTypes: null, description: "endpoint b" }, "create b");
  return ep;
});

await step("c. endpoint.get by id and by uid", async () => {
  checkEndpoint(await svix.endpoint.get(appId, epA.id), { id: epA.id, uid: "ep-a", url: urlA() }, "get a by id");
  checkEndpoint(await svix.endpoint.get(appId, "ep-a"), { id: epA.id, uid: "ep-a", url: urlA() }, "get a by uid");
  checkEndpoint(await svix.endpoint.get(appUid, "ep-b"), { id: epB.id, uid: "ep-b", url: urlB() }, "get b by app uid and endpoint uid");
});

await step("c. endpoint.list holds both", async () => {
  const all = await pages("endpoint.list", (iterator) => svix.endpoint.list(appId, iterator === undefined ? undefined : { iterator }));
  const ids = all.map((e) => e.id);
  assert.ok(ids.includes(epA.id) && ids.includes(epB.id), `endpoint.list: expected ${epA.id} and ${epB.id}, got ${JSON.stringify(ids)}`);
  assert.equal(all.length, 2, `endpoint.list: expected exactly 2 endpoints, got ${JSON.stringify(ids)}`);
});

await step("c. endpoint.upsert (PUT) and endpoint.patch", async () => {
  const upserted = await svix.endpoint.upsert(appId, epA.id, {
    url: urlA(),
    uid: "ep-a",
    eventTypes: [typeName],
    description: "endpoint a (upserted)",
    metadata: { role: "a", v: "2" },
  });
  checkEndpoint(
    upserted,
    { id: epA.id, uid: "ep-a", url: urlA(), eventTypes: [typeName], description: "endpoint a (upserted)", metadata: { role: "a", v: "2" } },
    "upsert a",
  );
  const patched = await svix.endpoint.patch(appId, "ep-a", { description: "endpoint a (patched)" });
  checkEndpoint(
    patched,
    { id: epA.id, uid: "ep-a", url: urlA(), eventTypes: [typeName], description: "endpoint a (patched)", metadata: { role: "a", v: "2" } },
    "patch a (only the description changes)",
  );
});

const secretA = await step("c. endpoint.getSecret", async () => {
  const a = await svix.endpoint.getSecret(appId, epA.id);
  const b = await svix.endpoint.getSecret(appId, "ep-b");
  for (const [name, s] of [["a", a], ["b", b]]) {
    assert.equal(typeof s?.key, "string", `getSecret ${name}: key must be a string, got ${JSON.stringify(s)}`);
    assert.ok(s.key.startsWith("whsec_"), `getSecret ${name}: key should start with whsec_, got ${s.key}`);
    assert.doesNotThrow(() => new Webhook(s.key), `getSecret ${name}: the SDK's Webhook refuses the key ${s.key}`);
  }
  assert.notEqual(a.key, b.key, "the two endpoints have the same secret");
  receiver.addSecret("/a", a.key);
  receiver.addSecret("/b", b.key);
  return a.key;
});

await step("c. endpoint.getHeaders / setHeaders / patchHeaders", async () => {
  const initial = await svix.endpoint.getHeaders(appId, epA.id);
  assert.equal(typeof initial?.headers, "object", `getHeaders: headers must be an object, got ${JSON.stringify(initial)}`);
  assert.ok(Array.isArray(initial.sensitive), `getHeaders: sensitive must be an array, got ${JSON.stringify(initial)}`);
  assert.deepEqual(initial.headers, {}, "getHeaders of a new endpoint");

  assert.equal(await svix.endpoint.setHeaders(appId, epA.id, { headers: { "X-Custom": "1" } }), undefined);
  let got = await svix.endpoint.getHeaders(appId, epA.id);
  assert.equal(headerValue(got.headers, "X-Custom"), "1", `getHeaders after setHeaders: ${JSON.stringify(got)}`);

  await svix.endpoint.patchHeaders(appId, epA.id, { headers: { "X-Other": "2" } });
  got = await svix.endpoint.getHeaders(appId, epA.id);
  assert.equal(headerValue(got.headers, "X-Custom"), "1", `patchHeaders must keep X-Custom: ${JSON.stringify(got)}`);
  assert.equal(headerValue(got.headers, "X-Other"), "2", `patchHeaders must add X-Other: ${JSON.stringify(got)}`);

  // Contract §2: in a patch a null value deletes that header.
  await svix.endpoint.patchHeaders(appId, epA.id, { headers: { "X-Other": null } });
  got = await svix.endpoint.getHeaders(appId, epA.id);
  assert.equal(headerValue(got.headers, "X-Other"), undefined, `patchHeaders with null must delete X-Other: ${JSON.stringify(got)}`);
  assert.equal(headerValue(got.headers, "X-Custom"), "1", `patchHeaders with null must keep X-Custom: ${JSON.stringify(got)}`);

  // /b gets its header by a patch of the empty set.
  await svix.endpoint.patchHeaders(appId, "ep-b", { headers: { "X-Custom": "1" } });
  got = await svix.endpoint.getHeaders(appId, epB.id);
  assert.equal(headerValue(got.headers, "X-Custom"), "1", `getHeaders of b: ${JSON.stringify(got)}`);
});

// d. Messages ---------------------------------------------------------------------------------------------------------
// The SDK sends JSON.stringify(messageIn), so a payload arrives at the server as JSON.stringify(payload) and must reach
// the receiver byte for byte (contract §8). Whitespace between tokens cannot be expressed through the SDK; whitespace
// and unusual characters inside strings, number spellings and key order can.
const payloads = {
  unicode: {
    text: "café ✓ 😀 naïve — “quotes” €",
    combining: "e\u0301 is not \u00e9 (no NFC here)",
    scripts: "日本語 עברית العربية 𝄞 \u{1F469}\u200D\u{1F4BB}",
    nested: { list: [1, [2, [3, { deep: [true, false, null, "x"] }]]], empty: {}, none: [] },
  },
  other: { kind: "order", items: [{ sku: "A-1", qty: 2 }, { sku: "B-2", qty: 1 }], note: "to every unfiltered endpoint" },
  strings: {
    whitespace: "\t tab \n newline \r\n crlf \u00a0 nbsp \u2028 ls \u2029 ps \u3000 ideographic \u200b zwsp \ufeff bom  two  spaces ",
    escapes: 'quote " backslash \\ slash / <script>alert(1)</script> &amp; \u0001\u001f\u007f',
    numbers: [0, -1, 1.5, 0.1, 1e21, 1e-7, 12345678901234567890, 2 ** 53 + 2, 3.141592653589793],
    order: { zeta: 1, alpha: 2, 10: "ten", 2: "two", "": "empty key", Alpha: 3 },
  },
};
const wire = (payload) => Buffer.from(JSON.stringify(payload), "utf8");

const eventId1 = `evt-${run}`;
const messages = {};

await step("d. message.create (202, msg_ id) and the same eventId again is a 409", async () => {
  const m1 = await svix.message.create(appId, { eventType: typeName, payload: payloads.unicode, eventId: eventId1 });
  assert.equal(typeof m1.id, "string", "create: id");
  assert.ok(m1.id.startsWith("msg_"), `create: id ${m1.id} should start with msg_`);
  assert.equal(m1.eventType, typeName, "create: eventType");
  assert.equal(m1.eventId, eventId1, "create: eventId");
  assert.ok(isDate(m1.timestamp), "create: timestamp is not a date");
  messages.m1 = m1;

  const err = await expectApiError("message.create with a used eventId", 409, () =>
    svix.message.create(appId, { eventType: typeName, payload: payloads.unicode, eventId: eventId1 }),
  );
  assert.equal(typeof err.body?.code, "string", `409 body.code must be a string: ${JSON.stringify(err.body)}`);
  assert.equal(typeof err.body?.detail, "string", `409 body.detail must be a string: ${JSON.stringify(err.body)}`);

  const m2 = await svix.message.create(appId, { eventType: otherType, payload: payloads.other });
  assert.ok(m2.id.startsWith("msg_"), `create m2: id ${m2.id}`);
  assert.ok(m2.eventId == null, `create m2 without eventId: eventId should be null, got ${JSON.stringify(m2.eventId)}`);
  assert.equal(m2.eventType, otherType, "create m2: eventType");
  messages.m2 = m2;

  const m3 = await svix.message.create(appId, { eventType: typeName, payload: payloads.strings, eventId: `${eventId1}-3` });
  assert.ok(m3.id.startsWith("msg_"), `create m3: id ${m3.id}`);
  messages.m3 = m3;
  assert.equal(new Set([m1.id, m2.id, m3.id]).size, 3, "three messages, three ids");
});
const sent = { m1: payloads.unicode, m2: payloads.other, m3: payloads.strings };

await step("d. message.list: all three, newest first; eventTypes filter", async () => {
  const all = await pages("message.list", (iterator) => svix.message.list(appId, iterator === undefined ? undefined : { iterator }));
  const ids = all.map((m) => m.id);
  const [i1, i2, i3] = ["m1", "m2", "m3"].map((k) => ids.indexOf(messages[k].id));
  assert.ok(i1 >= 0 && i2 >= 0 && i3 >= 0, `message.list should hold all three: ${JSON.stringify(ids)}`);
  assert.ok(i3 < i2 && i2 < i1, `message.list should be newest first (m3, m2, m1): ${JSON.stringify(ids)}`);
  for (const m of all) assert.ok(isDate(m.timestamp), `message.list: ${m.id} timestamp is not a date`);

  const filtered = await pages("message.list eventTypes", (iterator) =>
    svix.message.list(appId, { eventTypes: [typeName], ...(iterator === undefined ? {} : { iterator }) }),
  );
  const fids = filtered.map((m) => m.id);
  assert.ok(fids.includes(messages.m1.id) && fids.includes(messages.m3.id), `eventTypes filter should keep m1 and m3: ${JSON.stringify(fids)}`);
  assert.ok(!fids.includes(messages.m2.id), `eventTypes filter should drop m2 (${otherType}): ${JSON.stringify(fids)}`);
  for (const m of filtered) assert.equal(m.eventType, typeName, `eventTypes filter let ${m.id} of ${m.eventType} through`);

  const withContent = await svix.message.list(appId, { withContent: true });
  assertList("message.list withContent", withContent);
  for (const key of ["m1", "m2", "m3"]) {
    const listed = withContent.data.find((m) => m.id === messages[key].id);
    assert.ok(listed, `message.list withContent: ${key} missing`);
    assert.deepEqual(listed.payload, sameJson(sent[key]), `message.list withContent: payload of ${key}`);
  }
});

await step("d. message.get by id and by eventId (withContent: true) gives the payload back", async () => {
  for (const key of ["m1", "m2", "m3"]) {
    const got = await svix.message.get(appId, messages[key].id, { withContent: true });
    assert.equal(got.id, messages[key].id, `get ${key}: id`);
    assert.equal(got.eventType, messages[key].eventType, `get ${key}: eventType`);
    assert.equal(got.eventId ?? null, messages[key].eventId ?? null, `get ${key}: eventId`);
    assert.ok(isDate(got.timestamp), `get ${key}: timestamp is not a date`);
    const drift = Math.abs(got.timestamp.getTime() - messages[key].timestamp.getTime());
    assert.ok(drift <= 1, `get ${key}: timestamp ${got.timestamp.toISOString()} differs from create's ${messages[key].timestamp.toISOString()}`);
    assert.deepEqual(got.payload, sameJson(sent[key]), `get ${key}: payload`);
  }
  const byEventId = await svix.message.get(appId, eventId1, { withContent: true });
  assert.equal(byEventId.id, messages.m1.id, "get by eventId: id");
  assert.equal(byEventId.eventId, eventId1, "get by eventId: eventId");
  assert.equal(byEventId.eventType, typeName, "get by eventId: eventType");
  assert.deepEqual(byEventId.payload, sameJson(payloads.unicode), "get by eventId: payload");
});

// e. Deliveries -------------------------------------------------------------------------------------------------------
function checkDeliveries(path, key) {
  const msg = messages[key];
  const got = receiver.accepted(path, msg.id);
  for (const d of got) {
    assert.ok(
      d.raw.equals(wire(sent[key])),
      `${path} got ${key} (${msg.id}) with a body that is not byte for byte JSON.stringify(payload):\n  got      ${JSON.stringify(d.raw.toString("utf8"))}\n  expected ${JSON.stringify(wire(sent[key]).toString("utf8"))}`,
    );
    assert.equal(d.svixId, msg.id, `${path}: svix-id`);
    assert.equal(d.headers["x-custom"], "1", `${path}: the endpoint's X-Custom header did not arrive with ${key}: ${JSON.stringify(d.headers)}`);
    assert.equal(d.headers["x-other"], undefined, `${path}: the deleted X-Other header arrived with ${key}`);
    assert.ok(
      (d.headers["content-type"] ?? "").startsWith("application/json"),
      `${path}: content-type of ${key} should be application/json, got ${d.headers["content-type"]}`,
    );
  }
  return got.length;
}

function unknownIds() {
  const known = new Set(Object.values(messages).map((m) => m.id));
  return receiver.deliveries.filter((d) => !known.has(d.svixId)).map((d) => `${d.path}:${d.svixId}`);
}

await step("e. the receiver gets each message on each endpoint that should get it, verified, byte for byte", async () => {
  const expected = { "/a": ["m1", "m3"], "/b": ["m1", "m2", "m3"] };
  await waitFor("deliveries of m1..m3", 60_000, () => {
    const missing = [];
    for (const [path, keys] of Object.entries(expected)) {
      for (const key of keys) {
        if (receiver.accepted(path, messages[key].id).length === 0) missing.push(`${path}:${key}`);
      }
    }
    if (receiver.failures.length > 0) {
      assert.fail(`requests the receiver refused: ${JSON.stringify(receiver.failures, null, 2)}`);
    }
    return missing.length === 0 ? { ok: true } : { ok: false, why: `missing ${missing.join(", ")}; ${JSON.stringify(receiver.summary().byPath)}` };
  });
  for (const [path, keys] of Object.entries(expected)) {
    for (const key of keys) checkDeliveries(path, key);
  }
  assert.deepEqual(unknownIds(), [], "deliveries whose svix-id is no message id (an eventId sent as svix-id?)");
  // Give a wrongly routed delivery a moment to show up, then make sure /a never got the unfiltered type.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(receiver.deliveries.filter((d) => d.path === "/a" && d.svixId === messages.m2.id).length, 0, `/a (filtered on ${typeName}) got m2 of ${otherType}`);
  assert.deepEqual(receiver.failures, [], "requests that failed verification");
});

// f. Attempts ---------------------------------------------------------------------------------------------------------
const attemptsSeen = { byMsg: 0, byEndpoint: 0 };

await step("f. messageAttempt.listByMsg / listByEndpoint / get", async () => {
  const want = [
    ["m1", epA, urlA()],
    ["m1", epB, urlB()],
    ["m2", epB, urlB()],
    ["m3", epA, urlA()],
    ["m3", epB, urlB()],
  ];
  for (const [key, ep, url] of want) {
    const msgId = messages[key].id;
    const attempts = await waitFor(`a successful attempt of ${key} on ${ep.uid}`, 30_000, async () => {
      const list = await svix.messageAttempt.listByMsg(appId, msgId);
      assertList(`listByMsg ${key}`, list);
      const ok = list.data.some((a) => a.endpointId === ep.id && a.status === 0);
      return ok ? { ok: true, value: list.data } : { ok: false, why: attemptsText(list.data) };
    });
    attemptsSeen.byMsg += attempts.length;
    const success = attempts.find((a) => a.endpointId === ep.id && a.status === 0);
    checkAttempt(success, { msgId, endpointId: ep.id, url }, `listByMsg ${key} on ${ep.uid}`);
    const fetched = await svix.messageAttempt.get(appId, msgId, success.id);
    checkAttempt(fetched, { msgId, endpointId: ep.id, url }, `messageAttempt.get ${success.id}`);
    assert.equal(fetched.id, success.id, "messageAttempt.get: id");
  }
  const m2Attempts = await svix.messageAttempt.listByMsg(appId, messages.m2.id);
  assert.ok(!m2Attempts.data.some((a) => a.endpointId === epA.id), `m2 was attempted on the filtered endpoint a: ${attemptsText(m2Attempts.data)}`);

  const onlyA = await svix.messageAttempt.listByMsg(appId, messages.m1.id, { endpointId: epA.id });
  assertList("listByMsg endpointId", onlyA);
  assert.ok(onlyA.data.length > 0 && onlyA.data.every((a) => a.endpointId === epA.id), `listByMsg with endpointId a: ${attemptsText(onlyA.data)}`);

  for (const [ep, url, keys] of [[epA, urlA(), ["m1", "m3"]], [epB, urlB(), ["m1", "m2", "m3"]]]) {
    const list = await pages(`listByEndpoint ${ep.uid}`, (iterator) =>
      svix.messageAttempt.listByEndpoint(appId, ep.id, iterator === undefined ? undefined : { iterator }),
    );
    attemptsSeen.byEndpoint += list.length;
    for (const key of keys) {
      const success = list.find((a) => a.msgId === messages[key].id && a.status === 0);
      assert.ok(success, `listByEndpoint ${ep.uid}: no successful attempt of ${key}: ${attemptsText(list)}`);
      checkAttempt(success, { msgId: messages[key].id, endpointId: ep.id, url }, `listByEndpoint ${ep.uid} ${key}`);
    }
    assert.ok(list.every((a) => a.endpointId === ep.id), `listByEndpoint ${ep.uid} holds attempts of another endpoint: ${attemptsText(list)}`);
  }
});

// g. Secret rotation --------------------------------------------------------------------------------------------------
await step("g. endpoint.rotateSecret: a new key, and later messages verify with it", async () => {
  assert.equal(await svix.endpoint.rotateSecret(appId, epA.id, {}), undefined);
  const rotated = await svix.endpoint.getSecret(appId, epA.id);
  assert.ok(rotated.key.startsWith("whsec_"), `getSecret after rotation: ${rotated.key}`);
  assert.notEqual(rotated.key, secretA, "getSecret after rotateSecret returned the old key");
  receiver.addSecret("/a", rotated.key);

  const m4 = await svix.message.create(appId, { eventType: typeName, payload: { after: "rotation", run } });
  messages.m4 = m4;
  sent.m4 = { after: "rotation", run };
  await waitFor("m4 on /a and /b", 60_000, () => {
    const a = receiver.accepted("/a", m4.id).length;
    const b = receiver.accepted("/b", m4.id).length;
    return a > 0 && b > 0 ? { ok: true } : { ok: false, why: `a=${a} b=${b}; failures ${JSON.stringify(receiver.failures)}` };
  });
  checkDeliveries("/a", "m4");
  checkDeliveries("/b", "m4");
  for (const d of receiver.accepted("/a", m4.id)) {
    assert.ok(d.verifiedWith.includes(rotated.key), `m4 on /a does not verify with the new key; svix-signature: ${d.headers["svix-signature"]}`);
    // Contract §2/§8: the old key stays valid, and is also signed with, for the grace period (default 24 h).
    assert.ok(
      d.verifiedWith.includes(secretA),
      `m4 on /a does not verify with the old key during its grace period; svix-signature: ${d.headers["svix-signature"]}`,
    );
  }
  assert.deepEqual(receiver.failures, [], "requests that failed verification");
});

// h. Resend and recover -----------------------------------------------------------------------------------------------
async function failedAttemptOnB(key) {
  return waitFor(`a failed attempt (status 2) of ${key} on b`, 60_000, async () => {
    const list = await svix.messageAttempt.listByEndpoint(appId, epB.id);
    assertList("listByEndpoint b", list);
    const failed = list.data.find((a) => a.msgId === messages[key].id && a.status === 2);
    return failed ? { ok: true, value: failed } : { ok: false, why: attemptsText(list.data) };
  });
}

await step("h. messageAttempt.resend after a failed attempt delivers the message", async () => {
  receiver.answer("/b", 500);
  const m5 = await svix.message.create(appId, { eventType: otherType, payload: { resend: true, run } });
  messages.m5 = m5;
  sent.m5 = { resend: true, run };
  const failed = await failedAttemptOnB("m5");
  checkAttempt(failed, { msgId: m5.id, endpointId: epB.id, url: urlB(), status: 2, code: 500 }, "failed attempt of m5");
  assert.ok(receiver.deliveries.some((d) => d.path === "/b" && d.svixId === m5.id && d.answered === 500), "the receiver never answered m5 with 500");

  receiver.answer("/b", 204);
  const resent = await svix.messageAttempt.resend(appId, m5.id, epB.id);
  // 202 {} gives {}; a 204 gives null (the SDK skips the body). Either is fine.
  assert.ok(resent === null || (typeof resent === "object" && Object.keys(resent).length === 0), `resend returned ${JSON.stringify(resent)}`);
  await waitFor("m5 accepted by /b after the resend", 60_000, () =>
    receiver.accepted("/b", m5.id).length > 0 ? { ok: true } : { ok: false, why: JSON.stringify(receiver.summary().byPath["/b"]) },
  );
  checkDeliveries("/b", "m5");
  assert.equal(receiver.deliveries.filter((d) => d.path === "/a" && d.svixId === m5.id).length, 0, `/a got m5 of ${otherType}`);
  // Contract §4: a resend is an attempt with triggerType 1 (Manual).
  const manual = await waitFor("a successful manual (triggerType 1) attempt of m5 on b", 30_000, async () => {
    const list = await svix.messageAttempt.listByMsg(appId, m5.id, { endpointId: epB.id });
    assertList("listByMsg m5", list);
    const found = list.data.find((a) => a.triggerType === 1 && a.status === 0);
    return found ? { ok: true, value: found } : { ok: false, why: attemptsText(list.data) };
  });
  checkAttempt(manual, { msgId: m5.id, endpointId: epB.id, url: urlB(), trigger: 1 }, "manual attempt of m5");
});

const recovered = await step("h. endpoint.recover after a failed attempt", async () => {
  receiver.answer("/b", 500);
  const m6 = await svix.message.create(appId, { eventType: otherType, payload: { recover: true, run } });
  messages.m6 = m6;
  sent.m6 = { recover: true, run };
  const failed = await failedAttemptOnB("m6");
  checkAttempt(failed, { msgId: m6.id, endpointId: epB.id, url: urlB(), status: 2, code: 500 }, "failed attempt of m6");

  receiver.answer("/b", 204);
  const out = await svix.endpoint.recover(appId, epB.id, { since: new Date(Date.now() - 3600e3) });
  assert.equal(typeof out?.id, "string", `recover: id must be a string, got ${JSON.stringify(out)}`);
  assert.ok(out.id.startsWith("qtask_"), `recover: id ${out.id} should start with qtask_`);
  assert.ok(["running", "finished", "failed"].includes(out.status), `recover: status ${JSON.stringify(out.status)}`);
  assert.equal(out.task, "endpoint.recover", "recover: task");
  assert.ok(isDate(out.updatedAt), "recover: updatedAt is not a date");
  await waitFor("m6 accepted by /b after the recover", 60_000, () =>
    receiver.accepted("/b", m6.id).length > 0 ? { ok: true } : { ok: false, why: JSON.stringify(receiver.summary().byPath["/b"]) },
  );
  checkDeliveries("/b", "m6");
  return out;
});

// i. App portal -------------------------------------------------------------------------------------------------------
await step("i. authentication.appPortalAccess", async () => {
  const access = await svix.authentication.appPortalAccess(appId, {});
  assert.equal(typeof access?.url, "string", `appPortalAccess: url must be a string, got ${JSON.stringify(access)}`);
  let parsed;
  assert.doesNotThrow(() => {
    parsed = new URL(access.url);
  }, `appPortalAccess: url ${access.url} is not an absolute URL`);
  assert.ok(["http:", "https:"].includes(parsed.protocol), `appPortalAccess: url ${access.url} is not http(s)`);
  assert.equal(typeof access.token, "string", "appPortalAccess: token must be a string");
  assert.ok(access.token.length > 0, "appPortalAccess: token is empty");
});

// j. Errors -----------------------------------------------------------------------------------------------------------
await step("j. 404 body {code, detail}; 422 body {detail: [{loc, msg, type}]}", async () => {
  const notFound = await expectApiError("application.get of an unknown uid", 404, () => svix.application.get(`does-not-exist-${run}`));
  assert.equal(typeof notFound.body?.code, "string", `404 body.code must be a string: ${JSON.stringify(notFound.body)}`);
  assert.equal(typeof notFound.body?.detail, "string", `404 body.detail must be a string: ${JSON.stringify(notFound.body)}`);

  const invalid = await expectApiError("endpoint.create with url 'not a url'", 422, () => svix.endpoint.create(appId, { url: "not a url" }));
  const detail = invalid.body?.detail;
  assert.ok(Array.isArray(detail) && detail.length > 0, `422 body.detail must be a non-empty array: ${JSON.stringify(invalid.body)}`);
  for (const item of detail) {
    assert.ok(Array.isArray(item.loc) && item.loc.every((part) => typeof part === "string"), `422 item loc must be string[]: ${JSON.stringify(item)}`);
    assert.equal(item.loc[0], "body", `422 item loc should start with "body": ${JSON.stringify(item)}`);
    assert.equal(typeof item.msg, "string", `422 item msg must be a string: ${JSON.stringify(item)}`);
    assert.equal(typeof item.type, "string", `422 item type must be a string: ${JSON.stringify(item)}`);
  }
  const endpoints = await svix.endpoint.list(appId);
  assert.equal(endpoints.data.length, 2, `the refused endpoint was stored: ${JSON.stringify(endpoints.data.map((e) => e.url))}`);
});

// k. Cleanup ----------------------------------------------------------------------------------------------------------
await step("k. endpoint.delete, eventType.delete (archive, then expunge), application.delete", async () => {
  assert.equal(await svix.endpoint.delete(appId, epA.id), undefined);
  await svix.endpoint.delete(appId, "ep-b");
  await expectApiError("endpoint.get after delete", 404, () => svix.endpoint.get(appId, epA.id));
  await expectApiError("endpoint.get by uid after delete", 404, () => svix.endpoint.get(appId, "ep-b"));

  await svix.eventType.delete(typeName);
  // Contract §5: without expunge a delete archives; get still answers, with archived: true.
  const archived = await svix.eventType.get(typeName);
  assert.equal(archived.archived, true, `eventType.get after delete: ${JSON.stringify(archived)}`);
  // expunge: gone for good (the catalogue is shared by every application of the deployment, tests included).
  await svix.eventType.delete(typeName, { expunge: true });
  await expectApiError("eventType.get after expunge", 404, () => svix.eventType.get(typeName));

  await svix.application.delete(appId);
  await expectApiError("application.get after delete", 404, () => svix.application.get(appId));
  await expectApiError("application.get by uid after delete", 404, () => svix.application.get(appUid));
});

// Summary -------------------------------------------------------------------------------------------------------------
const byPath = await step("summary: no refused request, no unknown svix-id", async () => {
  assert.deepEqual(receiver.failures, [], "requests that failed verification");
  assert.deepEqual(unknownIds(), [], "deliveries whose svix-id is no message id");
  const summary = receiver.summary().byPath;
  await receiver.close();
  return summary;
});
clearTimeout(overall);
console.log(
  JSON.stringify({
    ok: true,
    app: appId,
    messages: Object.keys(messages).length,
    received: {
      a: { accepted: byPath["/a"]?.accepted ?? 0, messages: byPath["/a"]?.ids.length ?? 0 },
      b: { accepted: byPath["/b"]?.accepted ?? 0, refusedOnPurpose: byPath["/b"]?.refusedOnPurpose ?? 0, messages: byPath["/b"]?.ids.length ?? 0 },
    },
    attempts: attemptsSeen,
    recoverTask: recovered.id,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  }),
);
process.exit(0);

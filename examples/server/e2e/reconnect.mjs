// switchboard.js's reconnect in Node, no browser and no packages: the
// client runs as the page runs it, against a WebSocket stand-in that the
// script plays the server through (Node 20 has no WebSocket). TestJSReconnect
// (examples/server/jsclient_test.go) runs it and reads the JSON line it
// prints last: {"ok":bool,"checks":[{name,ok,detail}],"error":...}.
import { readFile } from "node:fs/promises";

// static/ has no package.json saying its .js files are modules: load the
// source as one.
const src = await readFile(new URL("../static/switchboard.js", import.meta.url), "utf8");
const { Client } = await import("data:text/javascript," + encodeURIComponent(src));

class FakeSocket {
  static OPEN = 1;
  static all = [];
  constructor(url) {
    this.url = new URL(url);
    this.readyState = FakeSocket.OPEN;
    this.sent = [];
    this.closed = null;
    FakeSocket.all.push(this);
  }
  send(s) { this.sent.push(JSON.parse(s)); }
  close(code, reason) {
    this.closed = { code, reason };
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code: 1012, reason: "server draining" }), 0); // the server's close crosses ours
  }
  // The server's side.
  deliver(m) { this.onmessage?.({ data: JSON.stringify(m) }); }
  refuse() { this.onerror?.({}); this.onclose?.({ code: 1006, reason: "" }); }
}
globalThis.WebSocket = FakeSocket;

const checks = [];
function check(name, ok, detail = "") { checks.push({ name, ok: !!ok, detail: String(detail) }); }

// until polls cond for at most ms (the client works on promises and timers).
async function until(cond, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}
async function socket(i) {
  if (!(await until(() => FakeSocket.all.length > i))) throw new Error(`the client opened no connection #${i}`);
  return FakeSocket.all[i];
}

async function main() {
  let n = 0;
  const sb = new Client({ url: "ws://node-1/v1/signal", tokenProvider: async () => `token-${++n}`, reconnectTimeoutMs: 5000 });
  const events = [];
  for (const ev of ["status", "reconnect", "error", "close"]) sb.on(ev, (d) => events.push([ev, d]));

  const connected = sb.connect();
  const s0 = await socket(0);
  s0.deliver({ type: "status", status: "connected", identity: "alice" });
  await connected;
  check("first connection", s0.url.host === "node-1" && s0.url.searchParams.get("access_token") === "token-1" && sb.status === "connected", s0.url);

  // A request pending when the server sends us on is rejected (draining).
  const pending = sb.request({ type: "join", room: "standup" }).then(() => "resolved", (e) => e.reason);
  sb.pc = { close() { this.closed = true; } }; // the session's PeerConnection (no WebRTC in Node)
  const pc = sb.pc;
  s0.deliver({ type: "reconnect", reason: "draining", url: "ws://node-2/v1/signal" });

  const s1 = await socket(1);
  check("reconnect event", events.some(([ev, d]) => ev === "reconnect" && d.url === "ws://node-2/v1/signal" && d.reason === "draining"), JSON.stringify(events));
  check("old connection closed by the client", s0.closed && s0.closed.code === 1000, JSON.stringify(s0.closed));
  check("session ended", pc.closed && sb.pc === null);
  check("pending request rejected", (await pending) === "draining", await pending);
  check("status connecting while reconnecting", sb.status === "connecting", sb.status);
  check("dials the new URL with a fresh token", s1.url.host === "node-2" && s1.url.searchParams.get("access_token") === "token-2", s1.url);

  // The first attempt is refused (503 before the upgrade): it retries.
  s1.refuse();
  const s2 = await socket(2);
  check("retries after a refusal", s2.url.host === "node-2" && s2.url.searchParams.get("access_token") === "token-3", s2.url);
  s2.deliver({ type: "status", status: "connected", identity: "alice" });
  check("connected again", await until(() => sb.status === "connected"), sb.status);
  check("no close event from the old connection", !events.some(([ev, d]) => ev === "close" && d.code === 1012), JSON.stringify(events));
  sb.send({ type: "ping", id: "p" });
  check("works on the new connection", s2.sent.some((m) => m.type === "ping"), JSON.stringify(s2.sent));

  // No url: the same URL again.
  s2.deliver({ type: "reconnect", reason: "draining" });
  const s3 = await socket(3);
  check("no url: same URL", s3.url.host === "node-2", s3.url);
  s3.deliver({ type: "status", status: "connected" });
  check("connected after the second reconnect", await until(() => sb.status === "connected"), sb.status);

  // Nothing takes it within reconnectTimeoutMs: an error, and it stops.
  const quick = new Client({ url: "ws://node-3/v1/signal", token: "fixed", reconnectTimeoutMs: 250 });
  const errors = [];
  quick.on("error", (e) => errors.push(e));
  const up = quick.connect();
  const q0 = await socket(4);
  q0.deliver({ type: "status", status: "connected" });
  await up;
  const before = FakeSocket.all.length;
  q0.deliver({ type: "reconnect", reason: "draining" });
  for (let i = 0; ; i++) {
    if (!(await until(() => FakeSocket.all.length > before + i, 1000))) break;
    FakeSocket.all[before + i].refuse();
  }
  check("gives up after reconnectTimeoutMs", errors.some((e) => e.reason === "reconnect_failed"), JSON.stringify(errors));
  const attempts = FakeSocket.all.length - before;
  check("a few attempts with backoff, same token", attempts >= 2 && attempts <= 4 && FakeSocket.all.slice(before).every((s) => s.url.searchParams.get("access_token") === "fixed"), attempts);
}

main().then(
  () => console.log(JSON.stringify({ ok: checks.every((c) => c.ok), checks })),
  (err) => console.log(JSON.stringify({ ok: false, checks, error: String(err && err.stack || err) })),
);

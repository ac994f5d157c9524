// Firefox end-to-end test of the demo page, beside Chromium. Run by
// TestFirefox in examples/server (go test), which starts the server and
// passes its address; it can also be run by hand against a running server:
//
//   SWITCHBOARD_BASE=http://127.0.0.1:8080 SWITCHBOARD_API_USER=u SWITCHBOARD_API_SECRET=s node firefox.mjs
//
// Two Firefox pages and a Chromium page join one room and must each receive
// the others' audio and video, with the right participant and stream alias on
// each track, and a REST broadcast; then Firefox calls Chromium in phone mode
// (states up to confirmed, audio both ways, DTMF in the audio stream both
// ways, hold, hang-up).
//
// It prints one JSON line on stdout: {"ok", "timings", "checks": [{"name",
// "ok", "detail"}], "error"} and exits 1 when a check failed or the run
// could not finish. Nothing goes anywhere but the server's loopback address.
import puppeteer from "puppeteer-core";

const env = process.env;
const base = env.SWITCHBOARD_BASE;
const firefoxPath = env.FIREFOX_PATH || "/usr/bin/firefox-esr";
const chromiumPath = env.CHROMIUM_PATH || "/usr/bin/chromium";
const budgetMs = Number(env.E2E_TIMEOUT_MS || 50000);

const t0 = Date.now();
const timings = {};
const checks = [];
let finished = false;

function finish(error) {
  if (finished) return;
  finished = true;
  const ok = !error && checks.every((c) => c.ok);
  process.stdout.write(JSON.stringify({ ok, timings, checks, error: error ? String(error.stack || error) : "" }) + "\n");
  process.exitCode = ok ? 0 : 1;
}

// check records an assertion; the run goes on so every failure is reported.
function check(name, ok, detail = "") {
  checks.push({ name, ok: !!ok, detail: typeof detail === "string" ? detail : JSON.stringify(detail) });
  if (env.E2E_VERBOSE) console.error(`${ok ? "ok  " : "FAIL"} ${name} ${checks.at(-1).detail}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitFor polls fn on a page until it returns a truthy value (there is no
// event to wait on across the automation boundary); it returns the last
// value, falsy when the time ran out.
async function waitFor(page, fn, ms, until = (v) => v) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await page.evaluate(fn);
    if (until(v) || Date.now() > deadline) return v;
    await sleep(100);
  }
}

// Firefox preferences: fake media granted without a prompt, and ICE that
// gathers host candidates on loopback (without these it gathers nothing in
// a loopback-only network namespace).
const firefoxPrefs = {
  "permissions.default.microphone": 1,
  "permissions.default.camera": 1,
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "media.peerconnection.ice.default_address_only": false,
  "media.peerconnection.ice.no_host": false,
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
};

async function launchFirefox() {
  const start = Date.now();
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: firefoxPath,
    headless: true,
    userDataDir: env.FIREFOX_PROFILE || undefined, // a fresh directory per run (puppeteer makes a temporary one otherwise)
    extraPrefsFirefox: firefoxPrefs,
    protocolTimeout: 20000,
  });
  timings["Firefox start"] = Date.now() - start;
  return browser;
}

async function launchChromium() {
  const start = Date.now();
  const browser = await puppeteer.launch({
    browser: "chrome",
    executablePath: chromiumPath,
    headless: true,
    userDataDir: env.CHROMIUM_PROFILE || undefined,
    protocolTimeout: 20000,
    args: [
      "--no-sandbox",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection",
      "--autoplay-policy=no-user-gesture-required",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-gpu",
    ],
  });
  timings["Chromium start"] = Date.now() - start;
  return browser;
}

// instrument runs in each page before the demo's scripts. It records every
// track event of the page's client (participant, alias, kind), and counts the
// audio frames each receiver gets by RTP payload type through an encoded
// transform, so the test sees whether DTMF arrives as telephone-event or as
// something else. The demo page itself is not changed.
function instrument() {
  const e2e = (window.e2e = { tracks: [], pt: {}, transformError: "" });
  let sb;
  Object.defineProperty(window, "sb", {
    configurable: true,
    get: () => sb,
    set: (v) => {
      sb = v;
      v.on("track", (e) => e2e.tracks.push({ participantId: e.participantId, alias: e.alias, kind: e.track.kind }));
    },
  });
  const workerSource = `onrtctransform = (ev) => {
    const counts = {};
    const { readable, writable } = ev.transformer;
    readable.pipeThrough(new TransformStream({ transform(frame, out) {
      const pt = frame.getMetadata().payloadType;
      const c = (counts[pt] ||= { frames: 0, small: 0 });
      c.frames++;
      if (frame.data.byteLength <= 4) c.small++;
      if (c.frames === 1 || c.frames % 10 === 0 || frame.data.byteLength <= 4) postMessage(counts);
      out.enqueue(frame);
    }})).pipeTo(writable);
  };`;
  const Native = window.RTCPeerConnection;
  if (!window.RTCRtpScriptTransform) e2e.transformError = "no RTCRtpScriptTransform";
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("track", (e) => {
        if (e.track.kind !== "audio" || !window.RTCRtpScriptTransform) return;
        try {
          const w = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" })));
          w.onmessage = (m) => { for (const [pt, c] of Object.entries(m.data)) e2e.pt[pt] = c; };
          e.receiver.transform = new RTCRtpScriptTransform(w, {});
        } catch (err) {
          e2e.transformError = String(err);
        }
      });
    }
  };
}

const usedFirst = new WeakSet();

async function openPage(browser, url) {
  const [first] = await browser.pages(); // the window the browser opened with, then new tabs
  const page = first && !usedFirst.has(browser) ? first : await browser.newPage();
  usedFirst.add(browser);
  page.on("pageerror", (e) => console.error(`page error ${url}: ${e.message}`));
  await page.evaluateOnNewDocument(instrument);
  await page.goto(url, { waitUntil: "load" });
  return page;
}

// inboundJS lists the packets received on each inbound RTP stream, by kind.
const inboundJS = async () => {
  if (window.demo.error) return { error: window.demo.error };
  const out = { audio: [], video: [] };
  if (!window.sb || !window.sb.pc) return out;
  (await window.sb.pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp") out[s.kind].push(s.packetsReceived); });
  return out;
};

// waitMedia waits until a page receives 50 packets or more on each of
// `senders` streams of each kind.
async function waitMedia(page, who, kinds, senders, since) {
  const enough = (s) => !s.error && kinds.every((k) => s[k].filter((n) => n >= 50).length >= senders);
  const deadline = Date.now() + 20000;
  let s;
  for (;;) {
    s = await page.evaluate(inboundJS);
    if (s.error || enough(s) || Date.now() > deadline) break;
    await sleep(100);
  }
  const ok = enough(s);
  if (ok) timings[`${who} media (ms after opening)`] = Date.now() - since;
  let diag = s;
  if (!ok) diag = await page.evaluate(() => ({ demo: window.demo, pc: window.sb && window.sb.pc && {
    conn: sb.pc.connectionState, ice: sb.pc.iceConnectionState,
    local: sb.pc.localDescription && sb.pc.localDescription.sdp.split("\n").filter((l) => l.startsWith("a=candidate")) } }));
  check(`${who} receives ${kinds.join(" and ")} from ${senders} other(s) (50 packets each)`, ok, diag);
  return ok;
}

// room: two Firefox pages (tabs of one browser) and a Chromium page in one
// room: Firefox ↔ Firefox and Firefox ↔ Chromium.
async function room(firefox, chromium) {
  const since = Date.now();
  const ff1 = await openPage(firefox, `${base}/?room=mixed&identity=ff-room-1`);
  const [ff2, cr] = await Promise.all([
    openPage(firefox, `${base}/?room=mixed&identity=ff-room-2`),
    openPage(chromium, `${base}/?room=mixed&identity=cr-room`),
  ]);
  const pages = [[ff1, "Firefox 1"], [ff2, "Firefox 2"], [cr, "Chromium"]];
  await Promise.all(pages.map(([page, who]) => waitMedia(page, `room: ${who}`, ["audio", "video"], pages.length - 1, since)));

  // Each track is labelled with the sender's participant id and the alias it published.
  const ids = await Promise.all(pages.map(([page]) => page.evaluate(() => window.demo.participantId)));
  for (const [i, [page, who]] of pages.entries()) {
    const tracks = await page.evaluate(() => window.e2e.tracks);
    const others = ids.filter((_, j) => j !== i);
    const has = (id, alias, kind) => tracks.some((t) => t.participantId === id && t.alias === alias && t.kind === kind);
    check(`room: ${who} labels the others' tracks with their participant and alias (microphone, camera)`,
      others.every((id) => has(id, "microphone", "audio") && has(id, "camera", "video")), { others, tracks });
  }

  // A broadcast through the REST API reaches every page.
  const sid = await ff1.evaluate(() => window.demo.sessionId);
  const res = await fetch(`${base}/v1/sessions/${sid}/broadcast`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Basic " + Buffer.from(`${env.SWITCHBOARD_API_USER}:${env.SWITCHBOARD_API_SECRET}`).toString("base64") },
    body: JSON.stringify({ text: "hello from the server" }),
  });
  const body = await res.text();
  check("room: broadcast accepted for all three", res.status === 200 && body.includes(`"received":${pages.length}`), `${res.status} ${body}`);
  for (const [page, who] of pages) {
    const got = await waitFor(page, () => window.demo.broadcasts.length > 0 && window.demo.broadcasts, 5000);
    check(`room: ${who} shows the broadcast`, got && got.length === 1 && got[0] === "hello from the server", got);
  }
  await ff2.close(); // the call uses one page per browser
  return [ff1, cr];
}

// telephoneEventsJS counts the audio frames a page received on the
// telephone-event payload types its offer negotiated. For diagnosis it also
// counts tiny frames (4 bytes or less) on other types: an RFC 4733 packet
// relabelled as Opus looks like that, but so do Opus frames of silence.
const telephoneEventsJS = () => {
  const sdp = (window.sb.pc && window.sb.pc.remoteDescription && window.sb.pc.remoteDescription.sdp) || "";
  const te = [...sdp.matchAll(/a=rtpmap:(\d+) telephone-event\/(\d+)/g)].map((m) => ({ pt: m[1], rate: m[2] }));
  let events = 0, smallOther = 0;
  const byRate = {};
  for (const [pt, c] of Object.entries(window.e2e.pt)) {
    const t = te.find((t) => t.pt === pt);
    if (t) { events += c.frames; byRate[t.rate] = (byRate[t.rate] || 0) + c.frames; } else smallOther += c.small;
  }
  return { events, byRate, smallOther, negotiated: te, byPT: window.e2e.pt, transformError: window.e2e.transformError };
};

// call: Firefox (alice) calls Chromium (bob) in phone mode.
async function call(ffPage, crPage) {
  const since = Date.now();
  await Promise.all([ffPage.goto(`${base}/?mode=phone&identity=ff-alice`), crPage.goto(`${base}/?mode=phone&identity=cr-bob`)]);
  for (const [page, who] of [[ffPage, "Firefox"], [crPage, "Chromium"]]) {
    const st = await waitFor(page, () => window.demo.status === "connected" || window.demo.error, 10000);
    if (st !== true) throw new Error(`call: ${who} signaling not connected: ${JSON.stringify(await page.evaluate(() => window.demo))}`);
  }
  await ffPage.evaluate(() => { document.getElementById("to").value = "cr-bob"; document.getElementById("dial").click(); });
  const rang = await waitFor(crPage, () => window.demo.incoming, 10000);
  check("call: Chromium rings with Firefox's identity", rang === "demo-ff-alice", rang);
  if (!rang) return;
  await crPage.evaluate(() => document.getElementById("answer").click());
  for (const [page, who] of [[ffPage, "Firefox"], [crPage, "Chromium"]]) {
    const ok = await waitFor(page, () => window.demo.callStates.includes("confirmed"), 15000);
    check(`call: ${who} reaches confirmed`, ok, await page.evaluate(() => window.demo.callStates));
  }
  timings["call: confirmed (ms after opening)"] = Date.now() - since;
  const states = await ffPage.evaluate(() => window.demo.callStates.join(","));
  check("call: Firefox's states are connecting, ringing, accepted, confirmed", states === "connecting,ringing,accepted,confirmed", states);
  await Promise.all([waitMedia(ffPage, "call: Firefox", ["audio"], 1, since), waitMedia(crPage, "call: Chromium", ["audio"], 1, since)]);

  // DTMF from Firefox: the signaled digits, and RTP telephone events that
  // reach Chromium as telephone-event (not as audio frames).
  await ffPage.evaluate(() => {
    const key = (k) => [...document.querySelectorAll("#pad button")].find((b) => b.textContent === k).click();
    key("5"); key("#");
  });
  const digits = await waitFor(crPage, () => window.demo.dtmf.join("") === "5#" && "5#", 5000);
  check("call: Chromium gets Firefox's DTMF digits 5#", digits === "5#", await crPage.evaluate(() => window.demo.dtmf));
  const canDTMF = await ffPage.evaluate(() => { const s = window.sb.pc.getSenders().find((s) => s.track && s.track.kind === "audio"); return !!(s && s.dtmf && s.dtmf.canInsertDTMF); });
  check("call: Firefox can send DTMF in its audio stream (telephone-event negotiated)", canDTMF);
  const te = await waitFor(crPage, telephoneEventsJS, 4000, (r) => r.events > 0);
  // Firefox sends telephone-event at 8 kHz only: Chromium, which negotiated
  // 8 and 48 kHz, gets it on its 8 kHz type.
  check("call: Firefox's RTP DTMF (8 kHz) reaches Chromium as telephone-event at 8 kHz", te.byRate["8000"] > 0, te);

  // And the other way.
  await crPage.evaluate(() => window.sb.sendDTMF("1"));
  const back = await waitFor(ffPage, () => window.demo.dtmf.join("") === "1" && "1", 5000);
  check("call: Firefox gets Chromium's DTMF digit 1", back === "1", await ffPage.evaluate(() => window.demo.dtmf));
  const te2 = await waitFor(ffPage, telephoneEventsJS, 4000, (r) => r.events > 0);
  // Firefox negotiated telephone-event at 8 kHz only.
  check("call: Chromium's RTP DTMF reaches Firefox as telephone-event", te2.events > 0, te2);

  await ffPage.evaluate(() => document.getElementById("hold").click());
  const held = await waitFor(crPage, () => window.demo.hold.some((h) => h.hold && h.isRemote), 5000);
  check("call: Chromium sees Firefox's hold", held, await crPage.evaluate(() => window.demo.hold));
  await crPage.evaluate(() => document.getElementById("hangup").click());
  for (const [page, who] of [[ffPage, "Firefox"], [crPage, "Chromium"]]) {
    const ended = await waitFor(page, () => window.demo.callStates.includes("ended (normal)"), 5000);
    check(`call: ${who} ends normally`, ended, await page.evaluate(() => window.demo.callStates));
  }
}

async function main() {
  if (!base) throw new Error("SWITCHBOARD_BASE is not set");
  const launched = await Promise.allSettled([launchFirefox(), launchChromium()]);
  const [firefox, chromium] = launched.map((r) => (r.status === "fulfilled" ? r.value : null));
  try {
    for (const r of launched) if (r.status === "rejected") throw r.reason;
    const [ff, cr] = await room(firefox, chromium);
    await call(ff, cr);
    timings.total = Date.now() - t0;
  } finally {
    await Promise.allSettled([firefox, chromium].filter(Boolean).map((b) => b.close()));
  }
}

const timer = setTimeout(() => { finish(new Error(`not finished after ${budgetMs} ms`)); process.exit(1); }, budgetMs);
main().then(() => finish(), (e) => finish(e)).finally(() => clearTimeout(timer));

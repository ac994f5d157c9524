import { Client } from "./switchboard.js";

const params = new URLSearchParams(location.search);
const mode = params.get("mode") || "room";
const room = params.get("room") || "demo";
const asked = params.get("identity") || "guest-" + Math.random().toString(36).slice(2, 8);
// record=1 asks for the call or room to be recorded (the recording policy's call option).
const recordOption = params.get("record") === "1" ? { recording: "AUDIO" } : {};
// Demo identities all start with this prefix (the server adds it): "alice" is demo-alice.
const demoPrefix = "demo-";
const demoIdentity = (name) => (name.startsWith(demoPrefix) ? name : demoPrefix + name);
const $ = (id) => document.getElementById(id);
$("room").textContent = room;
$("identity").textContent = demoIdentity(asked);

// State the end-to-end tests read.
window.demo = { status: "offline", broadcasts: [], messages: [], sessionId: "", participantId: "", error: "",
  callStates: [], incoming: "", dtmf: [], hold: [], media: "", tokens: 0, quality: { self: "", peers: {} }, recording: "", recordings: [] };
const log = (text, cls) => {
  const div = document.createElement("div");
  div.textContent = text;
  if (cls) div.className = cls;
  $("log").prepend(div);
};

// showQuality draws a network-quality badge for you and one for each peer
// (the worse of its uplink and downlink; the title says which is which).
function showQuality(q) {
  const badge = (el, level, title) => {
    el.textContent = level || "—";
    el.className = "badge " + (level || "UNKNOWN").toLowerCase();
    el.title = title;
  };
  const self = q.self;
  window.demo.quality.self = self ? self.level : "";
  badge($("q-self"), self && self.level, self ? `MOS ${self.mos}; up ${self.uplink.level} (loss ${self.uplink.loss} %, ` +
    `jitter ${self.uplink.jitterMs} ms, rtt ${self.uplink.rttMs} ms); down ${self.downlink.level} (loss ${self.downlink.loss} %, ` +
    `jitter ${self.downlink.jitterMs} ms)` : "");
  const peers = {};
  $("q-peers").replaceChildren();
  for (const [pid, p] of q.peers) {
    peers[pid] = p.level;
    const row = document.createElement("span");
    row.className = "peer";
    row.textContent = p.identity + " ";
    const b = document.createElement("span");
    badge(b, p.level, `uplink ${p.uplink}, downlink ${p.downlink}`);
    row.append(b);
    $("q-peers").append(row);
  }
  window.demo.quality.peers = peers;
}

// fetchToken asks the demo backend for a short-lived (60 s) token; the
// client calls it again before each token expires and refreshes in band.
async function fetchToken() {
  const res = await fetch("/demo/token", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ identity: asked }),
  });
  if (!res.ok) throw new Error("demo token: " + res.status + " " + (await res.text()));
  const { token, identity } = await res.json();
  $("identity").textContent = identity;
  window.demo.tokens++;
  return token;
}

async function main() {
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: mode === "room" });
  $("local").srcObject = media;
  const publish = [{ alias: "microphone", track: media.getAudioTracks()[0] }];
  if (mode === "room") publish.push({ alias: "camera", track: media.getVideoTracks()[0] });

  const wsURL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/signal";
  const sb = new Client({ url: wsURL, tokenProvider: fetchToken });
  window.sb = sb;
  sb.on("status", (s) => { window.demo.status = s; $("status").textContent = s; });
  sb.on("media", (s) => { window.demo.media = s; $("media").textContent = s; });
  sb.on("track", ({ participantId, track, stream }) => {
    const id = "v-" + participantId;
    let v = document.getElementById(id);
    if (!v) { v = document.createElement("video"); v.id = id; v.autoplay = true; v.playsInline = true; $("videos").append(v); }
    v.srcObject = stream || new MediaStream([track]);
  });
  sb.on("joined", (m) => { window.demo.sessionId = m.sessionId; window.demo.participantId = m.participantId; });
  sb.on("participantJoined", (m) => log(`${m.identity} joined`));
  sb.on("participantLeft", (m) => { log(`${m.identity} left`); document.getElementById("v-" + m.participantId)?.remove(); });
  sb.on("broadcast", (b) => { window.demo.broadcasts.push(b.text); log(`📣 ${b.text}`, "broadcast"); });
  sb.on("message", (m) => { window.demo.messages.push(m); log(`${m.from}: ${m.text}`); });
  sb.on("error", (e) => { window.demo.error = e.message || String(e); log(`error ${e.code}: ${e.message}`); });
  sb.on("quality", showQuality);
  sb.on("participantNetworkQuality", (m) => log(`${m.identity}'s ${m.direction} is ${m.level}`));
  // A draining server sends us on; a room is joined again once connected.
  let rejoin = false;
  sb.on("reconnect", (m) => { rejoin = mode === "room"; log(`server draining: reconnecting${m.url ? " to " + m.url : ""}`); });
  sb.on("status", (s) => {
    if (s !== "connected" || !rejoin) return;
    rejoin = false;
    sb.join({ room, publish, options: recordOption }).then(() => log(`joined ${room} again`), (e) => log(`rejoin failed: ${e.message}`));
  });
  recording(sb);

  await sb.connect();

  let muted = false;
  $("mute").onclick = () => {
    muted = !muted;
    sb.mute("microphone", muted);
    media.getAudioTracks()[0].enabled = !muted;
    $("mute").textContent = muted ? "Unmute" : "Mute";
  };
  $("leave").onclick = () => { sb.leave(); log("left"); };

  if (mode === "phone") return phone(sb, publish);
  const joined = await sb.join({ room, publish, options: recordOption });
  log(`joined ${room} (${joined.participants?.length || 0} others here)`);
}

// phone is the 1:1 view: dial, ring, answer, hold, DTMF keys, hang up.
function phone(sb, publish) {
  $("where").textContent = "Phone";
  $("hint").style.display = "none";
  $("phone").style.display = "block";
  let held = false;
  let ringing = "";
  sb.on("callState", (m) => {
    const s = m.cause ? `${m.state} (${m.cause})` : m.state;
    window.demo.callStates.push(s);
    $("callstate").textContent = s;
    if (m.state === "ended" || m.state === "failed") { $("incoming").style.display = "none"; held = false; }
  });
  sb.on("incoming", (m) => {
    ringing = m.callId;
    window.demo.incoming = m.from;
    $("caller").textContent = m.displayName || m.from;
    $("incoming").style.display = "block";
  });
  sb.on("holdStateChanged", (m) => { window.demo.hold.push({ hold: m.isHold, isRemote: !!m.isRemote }); log(`hold ${m.isHold} ${m.isRemote ? "(remote)" : ""}`); });
  sb.on("dtmf", (m) => { window.demo.dtmf.push(m.digits); log(`DTMF from ${m.from}: ${m.digits}`); });
  $("dial").onclick = () => sb.call(demoIdentity($("to").value.trim()), { publish, options: { audio: true, ...recordOption } }).catch((e) => log(String(e)));
  $("answer").onclick = () => { $("incoming").style.display = "none"; sb.accept(ringing, { publish, options: { audio: true, ...recordOption } }); };
  $("decline").onclick = () => { $("incoming").style.display = "none"; sb.reject(ringing); };
  $("hangup").onclick = () => sb.hangup();
  $("hold").onclick = () => { held = !held; sb.hold(held); $("hold").textContent = held ? "Resume" : "Hold"; };
  for (const k of "123A456B789C*0#D") {
    const b = document.createElement("button");
    b.textContent = k;
    b.onclick = () => sb.sendDTMF(k);
    $("pad").append(b);
  }
}

// recording shows the recording indicator from the server's events, starts
// and stops recording on demand through the demo's endpoint (the demo
// account's API, loopback only), and lists the demo account's recordings.
function recording(sb) {
  let target = null; // {callId} or {sessionId}: what Record records
  sb.on("joined", (m) => { target = m.callId ? { callId: m.callId } : { sessionId: m.sessionId }; });
  sb.on("callState", (m) => { if (m.state === "ended" || m.state === "failed") target = null; });
  const show = (type) => {
    window.demo.recording = type;
    $("rec").style.display = type ? "inline" : "none";
    $("rectype").textContent = type;
    $("record").textContent = type ? "Stop recording" : "Record";
  };
  sb.on("recordingStarted", (m) => { show(m.recordingType); log(`recording started (${m.recordingType})`); });
  sb.on("recordingStopped", () => { show(""); log("recording stopped"); setTimeout(listRecordings, 1500); });
  $("record").onclick = async () => {
    if (!target) return log("join a room or answer a call first");
    const res = window.demo.recording
      ? await fetch("/demo/recordings/active/" + (target.callId ? "calls/" + target.callId : "sessions/" + target.sessionId), { method: "DELETE" })
      : await fetch("/demo/recordings", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...target, type: "AUDIO" }) });
    if (!res.ok) log("recording: " + res.status + " " + (await res.text()));
  };
  listRecordings();
}

async function listRecordings() {
  const res = await fetch("/demo/recordings?limit=20");
  if (!res.ok) return;
  const { recordings } = await res.json();
  window.demo.recordings = recordings;
  const ul = $("recordings");
  ul.replaceChildren();
  for (const r of recordings) {
    const li = document.createElement("li");
    const who = r.composition ? "everyone (mix)" : r.identity;
    li.textContent = `${new Date(r.startedAt).toLocaleTimeString()} ${who}, ${(r.durationMs / 1000).toFixed(1)} s, ${r.status} `;
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = `/demo/recordings/${encodeURIComponent(r.id)}/media`;
    li.append(audio);
    ul.append(li);
  }
}

main().catch((e) => { window.demo.error = String(e); log(String(e)); });

import { Client } from "./switchboard.js";

const params = new URLSearchParams(location.search);
const room = params.get("room") || "demo";
const identity = params.get("identity") || "guest-" + Math.random().toString(36).slice(2, 8);
const $ = (id) => document.getElementById(id);
$("room").textContent = room;
$("identity").textContent = identity;

// State the end-to-end test reads.
window.demo = { status: "offline", broadcasts: [], messages: [], sessionId: "", participantId: "", error: "" };
const log = (text, cls) => {
  const div = document.createElement("div");
  div.textContent = text;
  if (cls) div.className = cls;
  $("log").prepend(div);
};

async function main() {
  const res = await fetch("/demo/token", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ identity }),
  });
  if (!res.ok) throw new Error("demo token: " + res.status);
  const { token } = await res.json();
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  $("local").srcObject = media;

  const wsURL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/signal";
  const sb = new Client({ url: wsURL, token });
  window.sb = sb;
  sb.on("status", (s) => { window.demo.status = s; $("status").textContent = s; });
  sb.on("track", ({ participantId, track, stream }) => {
    const id = "v-" + participantId;
    let v = document.getElementById(id);
    if (!v) { v = document.createElement("video"); v.id = id; v.autoplay = true; v.playsInline = true; $("videos").append(v); }
    v.srcObject = stream || new MediaStream([track]);
  });
  sb.on("participantJoined", (m) => log(`${m.identity} joined`));
  sb.on("participantLeft", (m) => { log(`${m.identity} left`); document.getElementById("v-" + m.participantId)?.remove(); });
  sb.on("broadcast", (b) => { window.demo.broadcasts.push(b.text); log(`📣 ${b.text}`, "broadcast"); });
  sb.on("message", (m) => { window.demo.messages.push(m); log(`${m.from}: ${m.text}`); });
  sb.on("error", (e) => { window.demo.error = e.message || String(e); log(`error ${e.code}: ${e.message}`); });

  await sb.connect();
  const joined = await sb.join({
    room,
    publish: [
      { alias: "microphone", track: media.getAudioTracks()[0] },
      { alias: "camera", track: media.getVideoTracks()[0] },
    ],
  });
  window.demo.sessionId = joined.sessionId;
  window.demo.participantId = joined.participantId;
  log(`joined ${room} (${joined.participants?.length || 0} others here)`);

  let muted = false;
  $("mute").onclick = () => {
    muted = !muted;
    sb.mute("microphone", muted);
    media.getAudioTracks()[0].enabled = !muted;
    $("mute").textContent = muted ? "Unmute" : "Mute";
  };
  $("leave").onclick = () => { sb.leave(); log("left"); };
}

main().catch((e) => { window.demo.error = String(e); log(String(e)); });

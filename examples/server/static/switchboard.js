// Switchboard browser client: an ES module, no build step, no framework.
// It speaks the signaling protocol of docs/protocol.md over a WebSocket and
// runs one RTCPeerConnection per session (room or call); the server always
// offers (no glare).
//
//   import { Client } from "./switchboard.js";
//   const sb = new Client({ url: "ws://host/v1/signal", tokenProvider: async () => fetchTokenFromMyBackend() });
//   sb.on("track", ({ participantId, alias, track, stream }) => ...);
//   await sb.connect();
//   await sb.join({ room: "demo", publish: [{ alias: "microphone", track }] });
//   // or: const callId = await sb.call("bob", { publish, options: { audio: true } });
//
// Events: status (signaling: offline|connecting|connected|error), media (the
// session's media transport: connecting|connected|failed), track,
// participantJoined, participantLeft, muted, incoming, callState,
// holdStateChanged, dtmf, broadcast, message, refreshed, left, unpublished,
// networkQuality (your own network: {level, mos, uplink, downlink}, each
// direction {level, mos, loss, jitterMs, rttMs}), participantNetworkQuality
// (another participant's: {participantId, identity, level, direction}),
// quality (both folded: {self, peers: Map participantId → {identity,
// uplink, downlink, level}}), error, close, reconnect. Levels: EXCELLENT,
// GOOD, FAIR, POOR, BAD (UNKNOWN: not scored yet).
//
// Draining: when the server is about to restart it sends reconnect
// ({reason, url}); the client emits "reconnect", ends the session it was in
// (rooms and calls are not resumed: join or call again once "status" is
// "connected" again), and connects to url (or to the same URL), with a fresh
// token from tokenProvider, retrying with backoff for reconnectTimeoutMs
// (30 s). Requests waiting for a reply are rejected with reason "draining".
//
// Tokens: pass token (a fixed one) or tokenProvider (an async function that
// asks your backend for a fresh one). With a provider the client sends a
// refresh message before each token expires (a quarter of its lifetime
// ahead, 1 to 30 s), so the connection outlives every single token.

export class Client {
  constructor({ url, token, tokenProvider, reconnectTimeoutMs = 30000 }) {
    this.url = url;
    this.token = token;
    this.tokenProvider = tokenProvider;
    this.reconnectTimeoutMs = reconnectTimeoutMs;
    this.refreshTimer = null;
    this.media = "";
    this.handlers = {};
    this.status = "offline";
    this.pendingICE = [];
    this.seq = 0;
    this.waiting = new Map();
    this.publish = [];
    this.pc = null;
    this.dc = null;
    this.callId = "";
    this.mids = new Map(); // the last offer's mid → { participantId, streamAlias, kind }
    this.quality = { self: null, peers: new Map() }; // the latest network quality levels
  }

  // noteQuality folds a networkQuality or participantNetworkQuality message
  // into this.quality and emits "quality". A peer's level is the worse of
  // its two directions' (an unknown direction does not count).
  noteQuality(m) {
    if (m.type === "networkQuality") {
      this.quality.self = { level: m.level, mos: m.mos, uplink: m.uplink, downlink: m.downlink };
    } else {
      const p = this.quality.peers.get(m.participantId) || { identity: m.identity, uplink: "UNKNOWN", downlink: "UNKNOWN" };
      p[m.direction] = m.level;
      const known = [p.uplink, p.downlink].filter((l) => l && l !== "UNKNOWN");
      p.level = known.sort((a, b) => Client.qualityRank(a) - Client.qualityRank(b))[0] || "UNKNOWN";
      this.quality.peers.set(m.participantId, p);
    }
    this.emit("quality", this.quality);
  }

  // qualityRank orders levels: 5 for EXCELLENT down to 1 for BAD, 0 unknown.
  static qualityRank(level) { return ["BAD", "POOR", "FAIR", "GOOD", "EXCELLENT"].indexOf(level) + 1; }

  on(event, fn) { (this.handlers[event] ||= []).push(fn); return this; }
  emit(event, data) { for (const fn of this.handlers[event] || []) fn(data); }
  setStatus(s) { if (this.status !== s) { this.status = s; this.emit("status", s); } }

  // connect opens the signaling WebSocket; it resolves once the server says
  // the connection is registered ("status": "connected").
  async connect() {
    this.setStatus("connecting");
    if (!this.token && this.tokenProvider) this.token = await this.tokenProvider();
    return new Promise((resolve, reject) => {
      const u = new URL(this.url);
      u.searchParams.set("access_token", this.token);
      this.ws = new WebSocket(u);
      this.connected = resolve;
      this.ws.onerror = () => { this.setStatus("error"); reject(new Error("signaling connection failed")); };
      this.ws.onclose = (e) => {
        clearTimeout(this.refreshTimer);
        this.emit("close", { code: e.code, reason: e.reason }); // 4401: token expired or revoked
        this.setStatus(e.code === 1000 ? "offline" : "error");
        reject(new Error(`closed ${e.code} ${e.reason}`));
      };
      // Handle messages one at a time, in order (onMessage awaits SDP work).
      this.queue = Promise.resolve();
      this.ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        this.queue = this.queue.then(() => this.onMessage(m)).catch((err) => this.emit("error", { code: 0, message: String(err) }));
      };
    });
  }

  send(msg) { if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg)); }

  request(msg) {
    const id = String(++this.seq);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.send({ ...msg, id });
    });
  }

  // announce lists what we publish; {alias, track, muted: true} starts muted.
  announce(publish) { return publish.map((p) => ({ streamAlias: p.alias, kind: p.track.kind, muted: !!p.muted })); }

  // scheduleRefresh sends a fresh token from tokenProvider before this one expires.
  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    if (!this.tokenProvider) return;
    let iat, exp;
    try {
      const b64 = this.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      ({ iat, exp } = JSON.parse(atob(b64)));
    } catch { return; }
    const lead = Math.min(Math.max((exp - (iat || exp - 60)) / 4, 1), 30);
    const wait = Math.max((exp - lead) * 1000 - Date.now(), 0);
    this.refreshTimer = setTimeout(async () => {
      try {
        const token = await this.tokenProvider();
        // A provider that hands back the same (cached) token must not make us
        // refresh in a loop: wait a second and ask again.
        const next = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
        if (!(next > exp)) throw new Error("the token provider returned no token that outlives the current one");
        await this.request({ type: "refresh", token });
        this.token = token;
      } catch (err) {
        this.emit("error", { code: 0, reason: "refresh_failed", message: String(err.message || err) });
        // Retry every second while the token lasts; after that the server
        // closes the connection (4401) and the app reconnects.
        if (Date.now() / 1000 < exp - 1) this.refreshTimer = setTimeout(() => this.scheduleRefresh(), 1000);
        return;
      }
      this.scheduleRefresh();
    }, wait);
  }

  setMedia(s) { if (this.media !== s) { this.media = s; this.emit("media", s); } }

  // newPC makes the peer connection of the session the server put us in.
  newPC(iceServers) {
    if (this.pc) this.pc.close();
    const pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    this.pc = pc;
    this.pendingICE = [];
    this.mids = new Map();
    pc.onicecandidate = (e) => { if (e.candidate) this.send({ type: "candidate", candidate: e.candidate.toJSON() }); };
    // The offer's "tracks" list says which m-line (mid) carries which
    // participant's stream; track ids are not reliable (Firefox ignores them).
    pc.ontrack = (e) => {
      const stream = e.streams[0];
      const info = e.transceiver && this.mids.get(e.transceiver.mid);
      const participantId = info ? info.participantId : (stream ? stream.id : "");
      const alias = info ? info.streamAlias : e.track.id;
      this.emit("track", { participantId, alias, track: e.track, stream, mid: e.transceiver ? e.transceiver.mid : null });
    };
    pc.ondatachannel = (e) => {
      if (e.channel.label !== "switchboard") return;
      this.dc = e.channel;
      this.dc.onmessage = (m) => {
        let env; try { env = JSON.parse(m.data); } catch { return; }
        this.emit(env.type, env); // "broadcast", "message", "error"
      };
    };
    this.setMedia("connecting");
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const st = pc.connectionState;
      if (st === "connected") this.setMedia("connected");
      else if (st === "failed") this.setMedia("failed");
      else if (st === "new" || st === "connecting") this.setMedia("connecting");
    };
    // addTrack (not addTransceiver): JSEP lets only addTrack's transceivers
    // take over the server's recvonly m-lines when its offer arrives. They
    // do so in order, so tracks are added in the order of the publish list
    // (two tracks of one kind are told apart by that order).
    const stream = new MediaStream(this.publish.map((p) => p.track));
    for (const p of this.publish) pc.addTrack(p.track, stream);
  }

  // join a room by name or a session by id, publishing [{alias, track}];
  // options.recording asks for the room to be recorded (AUDIO,
  // AUDIO_AND_VIDEO), as the recording policy allows.
  async join({ room, sessionId, publish = [], options }) {
    this.publish = publish;
    return this.request({ type: "join", room, sessionId, options, publish: this.announce(publish) });
  }

  // call an identity; resolves with the call id (states arrive as callState events).
  async call(to, { publish = [], options = { audio: true } } = {}) {
    this.publish = publish;
    const m = await this.request({ type: "call", to, options, publish: this.announce(publish) });
    this.callId = m.callId;
    return m.callId;
  }

  accept(callId, { publish = [], options = { audio: true } } = {}) {
    this.publish = publish;
    this.callId = callId;
    this.send({ type: "accept", id: String(++this.seq), callId, options, publish: this.announce(publish) });
  }
  reject(callId) { this.send({ type: "reject", id: String(++this.seq), callId }); }
  hangup(callId = this.callId) { this.send({ type: "hangup", id: String(++this.seq), callId }); }
  hold(on, callId = this.callId) { this.send({ type: "hold", id: String(++this.seq), callId, hold: on }); }
  // sendDTMF sends digits as RFC 4733 telephone events in the audio stream
  // (when negotiated) and always as a signaled event.
  sendDTMF(digits, callId = this.callId) {
    const sender = this.pc && this.pc.getSenders().find((s) => s.track && s.track.kind === "audio");
    if (sender && sender.dtmf && sender.dtmf.canInsertDTMF) sender.dtmf.insertDTMF(digits, 100, 70);
    this.send({ type: "dtmf", id: String(++this.seq), callId, digits });
  }
  // mute resolves when the server confirms (a muted message echoing the id).
  mute(alias, muted) { return this.request({ type: "mute", streamAlias: alias, muted }); }

  sendData(to, text) {
    if (!this.dc || this.dc.readyState !== "open") throw new Error("data channel not open");
    this.dc.send(JSON.stringify({ type: "message", to, text }));
  }

  // reconnect follows a reconnect message: it drops the session and the
  // connection, and connects to url (or the same URL) until it succeeds or
  // reconnectTimeoutMs has passed.
  async reconnect(url) {
    if (this.pc) { this.pc.close(); this.pc = null; }
    this.callId = "";
    this.dc = null;
    for (const w of this.waiting.values()) w.reject(Object.assign(new Error("the server asked to reconnect; retry"), { code: 503, reason: "draining" }));
    this.waiting.clear();
    clearTimeout(this.refreshTimer);
    const old = this.ws;
    old.onclose = old.onerror = old.onmessage = null; // its close (1012) is expected
    old.close(1000, "reconnecting");
    if (url) this.url = url;
    const deadline = Date.now() + this.reconnectTimeoutMs;
    for (let wait = 100; ; wait = Math.min(2 * wait, 2000)) {
      if (this.tokenProvider) this.token = null; // a fresh one: a single-use token is spent
      try {
        await this.connect();
        return;
      } catch (err) {
        if (Date.now() + wait > deadline) {
          this.emit("error", { code: 0, reason: "reconnect_failed", message: String(err.message || err) });
          return;
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  leave() {
    clearTimeout(this.refreshTimer);
    this.send({ type: "leave" });
    if (this.pc) this.pc.close();
    if (this.ws) this.ws.close(1000, "bye");
    this.setStatus("offline");
  }

  async onMessage(m) {
    const w = m.id && this.waiting.get(m.id);
    if (w) this.waiting.delete(m.id);
    switch (m.type) {
      case "status":
        this.setStatus("connected");
        this.scheduleRefresh();
        this.connected?.();
        return;
      case "left": // a refreshed token no longer grants the session
        if (this.pc) { this.pc.close(); this.pc = null; }
        this.emit("left", m);
        return;
      case "joined":
        this.newPC(m.iceServers);
        this.joined = m;
        this.quality = { self: null, peers: new Map() };
        if (w) w.resolve(m);
        this.emit("joined", m);
        return;
      case "error":
        if (w) w.reject(Object.assign(new Error(m.error.message), m.error));
        this.emit("error", m.error);
        return;
      case "callState":
        if (w) w.resolve(m);
        if ((m.state === "ended" || m.state === "failed") && m.callId === this.callId) {
          if (this.pc) { this.pc.close(); this.pc = null; }
          this.callId = "";
        }
        this.emit("callState", m);
        return;
      case "offer":
        if (!this.pc) return;
        this.mids = new Map((m.tracks || []).map((t) => [t.mid, t]));
        await this.pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
        for (const c of this.pendingICE) await this.pc.addIceCandidate(c);
        this.pendingICE = [];
        {
          const answer = await this.pc.createAnswer();
          await this.pc.setLocalDescription(answer);
          this.send({ type: "answer", sdp: answer.sdp });
        }
        return;
      case "candidate":
        if (!this.pc) return;
        if (!this.pc.remoteDescription) this.pendingICE.push(m.candidate);
        else await this.pc.addIceCandidate(m.candidate);
        return;
      case "reconnect": // the server is draining
        this.emit("reconnect", { reason: m.reason, url: m.url || "" });
        this.reconnect(m.url); // not awaited: connect replaces this message queue
        return;
      case "networkQuality":
      case "participantNetworkQuality":
        this.emit(m.type, m);
        this.noteQuality(m);
        return;
      case "participantLeft":
        if (this.quality.peers.delete(m.participantId)) this.emit("quality", this.quality);
        this.emit(m.type, m);
        return;
      default:
        if (w) w.resolve(m);
        this.emit(m.type, m); // participantJoined, participantLeft, muted, incoming, holdStateChanged, dtmf, refreshed, unpublished, bye, pong, recordingStarted, recordingStopped
    }
  }
}

// Switchboard browser client: an ES module, no build step, no framework.
// It speaks the signaling protocol of docs/protocol.md over a WebSocket and
// runs one RTCPeerConnection; the server always offers (no glare).
//
//   import { Client } from "./switchboard.js";
//   const sb = new Client({ url: "ws://host/v1/signal", token });
//   sb.on("track", ({ participantId, alias, track, stream }) => ...);
//   await sb.connect();
//   await sb.join({ room: "demo", publish: [{ alias: "microphone", track }] });

export class Client {
  constructor({ url, token }) {
    this.url = url;
    this.token = token;
    this.handlers = {};
    this.status = "offline";
    this.pendingICE = [];
    this.seq = 0;
    this.waiting = new Map();
    this.pc = null;
    this.dc = null;
  }

  on(event, fn) { (this.handlers[event] ||= []).push(fn); return this; }
  emit(event, data) { for (const fn of this.handlers[event] || []) fn(data); }
  setStatus(s) { if (this.status !== s) { this.status = s; this.emit("status", s); } }

  // connect opens the signaling WebSocket and the peer connection.
  connect() {
    this.setStatus("connecting");
    this.pc = new RTCPeerConnection();
    this.pc.onicecandidate = (e) => { if (e.candidate) this.send({ type: "candidate", candidate: e.candidate.toJSON() }); };
    this.pc.ontrack = (e) => {
      const stream = e.streams[0];
      this.emit("track", { participantId: stream ? stream.id : "", alias: e.track.id, track: e.track, stream });
    };
    this.pc.ondatachannel = (e) => {
      if (e.channel.label !== "switchboard") return;
      this.dc = e.channel;
      this.dc.onmessage = (m) => {
        let env; try { env = JSON.parse(m.data); } catch { return; }
        this.emit(env.type, env); // "broadcast", "message", "error"
      };
    };
    this.pc.onconnectionstatechange = () => {
      const s = this.pc.connectionState;
      if (s === "connected") this.setStatus("connected");
      if (s === "failed") this.setStatus("error");
    };
    return new Promise((resolve, reject) => {
      const u = new URL(this.url);
      u.searchParams.set("access_token", this.token);
      this.ws = new WebSocket(u);
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => { this.setStatus("error"); reject(new Error("signaling connection failed")); };
      this.ws.onclose = (e) => {
        this.emit("close", { code: e.code, reason: e.reason });
        this.setStatus(e.code === 1000 ? "offline" : "error");
      };
      this.ws.onmessage = (e) => this.onMessage(JSON.parse(e.data));
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

  // join a room by name or a session by id, publishing [{alias, track}].
  async join({ room, sessionId, publish = [] }) {
    // addTrack (not addTransceiver): JSEP lets only addTrack's transceivers
    // take over the server's recvonly m-lines when its offer arrives.
    this.localStream = this.localStream || new MediaStream();
    for (const p of publish) { this.localStream.addTrack(p.track); this.pc.addTrack(p.track, this.localStream); }
    const joined = await this.request({
      type: "join", room, sessionId,
      publish: publish.map((p) => ({ streamAlias: p.alias, kind: p.track.kind })),
    });
    if (joined.iceServers) this.pc.setConfiguration({ iceServers: joined.iceServers });
    this.joined = joined;
    return joined;
  }

  mute(alias, muted) { this.send({ type: "mute", id: String(++this.seq), streamAlias: alias, muted }); }

  sendData(to, text) {
    if (!this.dc || this.dc.readyState !== "open") throw new Error("data channel not open");
    this.dc.send(JSON.stringify({ type: "message", to, text }));
  }

  leave() {
    this.send({ type: "leave" });
    if (this.pc) this.pc.close();
    if (this.ws) this.ws.close(1000, "bye");
    this.setStatus("offline");
  }

  async onMessage(m) {
    const w = m.id && this.waiting.get(m.id);
    switch (m.type) {
      case "joined":
        if (w) { this.waiting.delete(m.id); w.resolve(m); }
        return;
      case "error":
        if (w) { this.waiting.delete(m.id); w.reject(Object.assign(new Error(m.error.message), m.error)); }
        this.emit("error", m.error);
        return;
      case "offer":
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
        if (!this.pc.remoteDescription) this.pendingICE.push(m.candidate);
        else await this.pc.addIceCandidate(m.candidate);
        return;
      default:
        this.emit(m.type, m); // participantJoined, participantLeft, muted, bye, pong
    }
  }
}

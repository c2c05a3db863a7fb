// Parley's browser client for the SFU (protocol: docs/signaling.md).
//
//   const client = new SfuClient({ url: "wss://box/sfu/ws", token });
//   client.addEventListener("track", (e) => show(e.detail.participantId, e.detail.track));
//   await client.connect();
//   await client.publish(await navigator.mediaDevices.getUserMedia({ audio: true, video: true }));
//
// Events: "state" (detail: connecting | connected | reconnecting | closed), "joined",
// "participant-joined", "participant-left", "track", "error".
//
// It reconnects by itself: when the websocket drops, and when the media does while the websocket
// stays up (a Wi-Fi change, a VPN coming up): a peer connection that fails, stays "disconnected"
// for MEDIA_GRACE_MS, or has not connected CONNECT_TIMEOUT_MS after its negotiation makes it
// rejoin with the same token and publish again, waiting longer each time until media flows
// again. A refused token, an ended room, or the same person joining from another page stops
// it for good.

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];
const MEDIA_GRACE_MS = 4000;
const CONNECT_TIMEOUT_MS = 15000;
const FINAL_ERRORS = new Set(["bad-token", "room-ended", "replaced"]);
// Which reply each request waits for: an error naming the request refuses that wait alone.
const REPLY_TO = { join: "joined", publish: "publish-answer" };

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class SfuClient extends EventTarget {
  constructor({ url, token, iceServers = [] }) {
    super();
    this.url = url;
    this.token = token;
    this.iceServers = iceServers;
    this.ws = null;
    this.publisher = null;
    this.subscriber = null;
    this.stream = null;
    this.tracksByMid = new Map();
    this.participantId = null;
    this.finished = false; // left, or refused for good: a closed socket is not reopened
    this.attempt = 0;
    this.mediaTimers = new Map();
    this.mediaLost = false;
    this.pending = new Map();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  send(message) {
    this.ws.send(JSON.stringify(message));
  }

  waitFor(type) {
    return new Promise((resolve, reject) => {
      this.pending.set(type, { resolve, reject });
    });
  }

  async connect() {
    this.emit("state", this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    // A socket being replaced may still deliver a last message or two: only the current one counts.
    ws.addEventListener("message", (event) => {
      if (ws === this.ws) this.onMessage(JSON.parse(event.data));
    });
    ws.addEventListener("close", () => {
      if (ws === this.ws) this.onClose();
    });
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", reject, { once: true });
    });
    const joined = this.waitFor("joined");
    this.send({ type: "join", token: this.token });
    const message = await joined;
    this.participantId = message.participant_id;
    this.emit("state", "connected");
    return message;
  }

  async publish(stream) {
    this.stream = stream;
    if (this.publisher) this.publisher.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.publisher = pc;
    this.watchMedia(pc);
    for (const track of stream.getTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    }
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const answer = this.waitFor("publish-answer");
      this.send({ type: "publish", sdp: pc.localDescription.sdp });
      await pc.setRemoteDescription({ type: "answer", sdp: (await answer).sdp });
      this.expectMedia(pc);
    } catch (error) {
      // Refused (no codec in common, not allowed): not a media failure to rejoin over.
      pc.close();
      if (this.publisher === pc) this.publisher = null;
      throw error;
    }
  }

  async onSubscribeOffer(sdp) {
    if (!this.subscriber) {
      this.subscriber = new RTCPeerConnection({ iceServers: this.iceServers });
      this.watchMedia(this.subscriber);
      this.subscriber.addEventListener("track", (event) => {
        const info = this.tracksByMid.get(event.transceiver.mid) || {};
        this.emit("track", {
          participantId: info.participant_id,
          kind: event.track.kind,
          track: event.track,
          mid: event.transceiver.mid,
        });
      });
    }
    const pc = this.subscriber;
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    this.send({ type: "subscribe-answer", sdp: pc.localDescription.sdp });
    this.expectMedia(pc);
  }

  // Rejoin (through onClose) when `pc` loses its media while it is current.
  watchMedia(pc) {
    pc.addEventListener("connectionstatechange", () => {
      const state = pc.connectionState;
      if (state === "connected" || state === "closed") {
        clearTimeout(this.mediaTimers.get(pc));
        this.mediaTimers.delete(pc);
      }
      if (state === "connected") {
        this.attempt = 0; // media flows: the next trouble starts again from the shortest wait
        if (this.mediaLost) {
          this.mediaLost = false;
          this.emit("state", "connected");
        }
      } else if (state === "failed") {
        this.restartFor(pc);
      } else if (state === "disconnected") {
        this.mediaLost = true;
        this.emit("state", "reconnecting");
        this.restartLater(pc, MEDIA_GRACE_MS);
      }
    });
  }

  // Rejoin unless `pc`, just negotiated, connects in time.
  expectMedia(pc) {
    if (pc.connectionState !== "connected") this.restartLater(pc, CONNECT_TIMEOUT_MS);
  }

  restartLater(pc, ms) {
    clearTimeout(this.mediaTimers.get(pc));
    this.mediaTimers.set(pc, setTimeout(() => this.restartFor(pc), ms));
  }

  restartFor(pc) {
    this.mediaTimers.delete(pc);
    if (pc !== this.publisher && pc !== this.subscriber) return;
    if (pc.connectionState === "connected") return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.close();
  }

  onMessage(message) {
    const waiting = this.pending.get(message.type);
    if (waiting) {
      this.pending.delete(message.type);
      waiting.resolve(message);
    }
    switch (message.type) {
      case "tracks":
        this.tracksByMid = new Map(message.tracks.map((t) => [t.mid, t]));
        break;
      case "subscribe-offer":
        this.onSubscribeOffer(message.sdp).catch((error) => this.emit("error", { message: String(error) }));
        break;
      case "error": {
        if (FINAL_ERRORS.has(message.code)) {
          this.finished = true;
          if (this.ws.readyState === WebSocket.OPEN) this.ws.close(); // onClose: "closed"
        }
        const refused = message.request ? [REPLY_TO[message.request]] : [...this.pending.keys()];
        for (const type of refused) {
          const waiter = this.pending.get(type);
          if (!waiter) continue;
          this.pending.delete(type);
          const error = new Error(message.message);
          error.code = message.code;
          waiter.reject(error);
        }
        this.emit("error", message);
        break;
      }
      default:
        this.emit(message.type, message);
    }
  }

  onClose() {
    for (const pc of [this.publisher, this.subscriber]) if (pc) pc.close();
    for (const timer of this.mediaTimers.values()) clearTimeout(timer);
    this.mediaTimers.clear();
    this.mediaLost = false;
    this.publisher = null;
    this.subscriber = null;
    if (this.finished) {
      this.emit("state", "closed");
      return;
    }
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.attempt += 1;
    this.emit("state", "reconnecting");
    setTimeout(async () => {
      try {
        await this.connect();
        if (this.stream) await this.publish(this.stream);
      } catch (error) {
        this.emit("error", { message: String(error) });
      }
    }, delay);
  }

  leave() {
    this.finished = true;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.send({ type: "leave" });
    if (this.ws) this.ws.close();
  }

  async stats() {
    // Totals over every received track: what a test or a status badge needs.
    const totals = { framesDecoded: 0, audioSamples: 0, tracks: 0, codecs: [] };
    if (!this.subscriber) return totals;
    const report = await this.subscriber.getStats();
    report.forEach((entry) => {
      if (entry.type !== "inbound-rtp") return;
      totals.tracks += 1;
      const codec = entry.codecId && report.get(entry.codecId);
      if (codec && !totals.codecs.includes(codec.mimeType)) totals.codecs.push(codec.mimeType);
      if (entry.kind === "video") totals.framesDecoded += entry.framesDecoded || 0;
      if (entry.kind === "audio") totals.audioSamples += entry.totalSamplesReceived || 0;
    });
    return totals;
  }
}

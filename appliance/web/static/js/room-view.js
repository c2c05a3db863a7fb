// What the panel's and the candidate's room pages share: reaching the SFU, one tile per
// participant (video, name, live captions), and the microphone and camera buttons.
import { SfuClient } from "./sfu-client.js";

export function sfuUrl(root) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = root.dataset.sfuUrl;
  if (url && url.startsWith("/")) return `${scheme}//${location.host}${url}`;
  if (url) return url;
  return `${scheme}//${location.hostname}:${root.dataset.sfuPort}/sfu/ws`;
}

export { csrfHeaders } from "./forms.js";

export function mediaErrorText(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "The browser was not allowed to use your camera or microphone. Allow them in your browser's site settings for this page, then reload.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone was found. Connect one (or close other programs using it) and reload.";
    case "NotReadableError":
    case "AbortError":
      return "Your camera or microphone is in use by another program. Close it and reload.";
    default:
      return `Your camera or microphone could not be started (${error ? error.message || error.name : "unknown error"}).`;
  }
}

// Camera and microphone, or the microphone alone when there is no camera: an interview can go
// on by voice. Throws with the reason when neither works.
export async function openMedia() {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  } catch (error) {
    if (error.name !== "NotFoundError" && error.name !== "OverconstrainedError") throw error;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    stream.cameraMissing = true;
    return stream;
  }
}

export function bindControls(stream, { mute, camera }) {
  const toggle = (button, kind, on, off) => {
    const tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
    if (!tracks.length) {
      button.disabled = true;
      return;
    }
    button.addEventListener("click", () => {
      const disabled = button.getAttribute("aria-pressed") !== "true";
      for (const track of tracks) track.enabled = !disabled;
      button.setAttribute("aria-pressed", String(disabled));
      button.textContent = disabled ? off : on;
    });
  };
  toggle(mute, "audio", "Mute microphone", "Unmute microphone");
  toggle(camera, "video", "Turn camera off", "Turn camera on");
}

export class RoomView {
  constructor(list) {
    this.list = list;
    this.tiles = new Map(); // participant id -> tile
    this.people = new Map(); // participant id -> { identity, name, role }
    this.captionsShown = true;
  }

  setCaptionsShown(shown) {
    this.captionsShown = shown;
    for (const tile of this.tiles.values()) tile.caption.hidden = !shown;
  }

  tile(participantId, name) {
    let tile = this.tiles.get(participantId);
    if (tile) return tile;
    const item = document.createElement("li");
    item.dataset.participant = participantId;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute("aria-label", `Video of ${name}`);
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const caption = document.createElement("p");
    caption.className = "caption";
    caption.setAttribute("aria-live", "polite");
    caption.hidden = !this.captionsShown;
    const final = document.createElement("span");
    const interim = document.createElement("span");
    interim.className = "interim";
    caption.append(final, interim);
    item.append(video, label, caption);
    this.list.append(item);
    tile = { item, video, label, caption, final, interim, stream: new MediaStream() };
    video.srcObject = tile.stream;
    this.tiles.set(participantId, tile);
    return tile;
  }

  showSelf(stream, name) {
    const tile = this.tile("self", `${name} (you)`);
    tile.video.muted = true;
    tile.video.srcObject = stream;
  }

  join(person) {
    this.people.set(person.participant_id, person);
    const tile = this.tiles.get(person.participant_id);
    if (tile) tile.label.textContent = person.name;
  }

  leave(participantId) {
    const tile = this.tiles.get(participantId);
    if (tile) tile.item.remove();
    this.tiles.delete(participantId);
    this.people.delete(participantId);
  }

  addTrack({ participantId, track }) {
    const person = this.people.get(participantId);
    const tile = this.tile(participantId, person ? person.name : "Participant");
    for (const old of tile.stream.getTracks().filter((t) => t.kind === track.kind)) tile.stream.removeTrack(old);
    tile.stream.addTrack(track);
    tile.video.srcObject = tile.stream;
  }

  caption(event, selfIdentity) {
    // Captions are keyed by the speaker's identity; show each under that speaker's tile.
    let id = null;
    for (const [participantId, person] of this.people) if (person.identity === event.speaker) id = participantId;
    if (event.speaker === selfIdentity) id = "self";
    const tile = id && this.tiles.get(id);
    if (!tile) return;
    if (event.final) {
      tile.final.textContent = `${tile.final.textContent} ${event.text}`.trim().slice(-300);
      tile.interim.textContent = "";
    } else {
      tile.interim.textContent = event.text ? ` ${event.text}` : "";
    }
  }
}

// Join the room with `token`, publish `stream`, and keep `view` in step with the room.
export async function joinRoom({ root, token, stream, view, onState, onRecording, onEnded }) {
  const iceServers = JSON.parse(root.dataset.iceServers || "[]");
  const client = new SfuClient({ url: sfuUrl(root), token, iceServers });
  let selfIdentity = null;
  client.addEventListener("state", (event) => onState(event.detail));
  client.addEventListener("error", (event) => onState(`error: ${event.detail.message}`));
  client.addEventListener("joined", (event) => {
    for (const person of event.detail.participants) view.join(person);
    onRecording(event.detail.recording);
  });
  client.addEventListener("participant-joined", (event) => view.join(event.detail.participant));
  client.addEventListener("participant-left", (event) => view.leave(event.detail.participant_id));
  client.addEventListener("track", (event) => view.addTrack(event.detail));
  client.addEventListener("recording", (event) => onRecording(event.detail.recording));
  client.addEventListener("caption", (event) => view.caption(event.detail, selfIdentity));
  client.addEventListener("room-ended", (event) => {
    client.leave();
    onEnded(event.detail);
  });
  const joined = await client.connect();
  selfIdentity = joined.identity;
  if (stream && joined.can_publish) await client.publish(stream);
  return client;
}

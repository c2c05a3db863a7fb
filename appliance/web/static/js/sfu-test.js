// The SFU test page: join with the token in the URL fragment, optionally publish, show everyone.
import { SfuClient } from "./sfu-client.js";

const params = new URLSearchParams(location.hash.slice(1));
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const client = new SfuClient({ url: `${scheme}//${location.host}/sfu/ws`, token: params.get("token") });
const state = document.getElementById("state");
const videos = document.getElementById("videos");

client.addEventListener("state", (event) => { state.textContent = event.detail; });
client.addEventListener("error", (event) => { state.textContent = `error: ${event.detail.message}`; });
client.addEventListener("track", (event) => {
  const element = document.createElement(event.detail.kind === "video" ? "video" : "audio");
  element.autoplay = true;
  element.playsInline = true;
  element.muted = true;
  element.srcObject = new MediaStream([event.detail.track]);
  element.dataset.participant = event.detail.participantId || "";
  videos.append(element);
});

window.parley = { client, stats: () => client.stats() };

await client.connect();
if (params.get("publish") === "1") {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  await client.publish(stream);
}

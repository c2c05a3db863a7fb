// The candidate's page after consent: check camera, microphone and speakers; wait in the lobby
// until the panel lets them in; then the interview itself. Nothing here can see the panel's kit,
// scores or notes: the server never sends them to this page.
import { RoomView, bindControls, csrfHeaders, joinRoom, mediaErrorText, openMedia } from "./room-view.js";

const root = document.getElementById("room");
const link = `/i/${root.dataset.link}`;
const $ = (selector) => document.getElementById(selector);
const view = new RoomView($("tiles"));
let stream = null;
let audioContext = null;

function show(section) {
  for (const name of ["check", "lobby", "live", "done"]) $(name).hidden = name !== section;
}

function fail(message) {
  $("device-error").hidden = false;
  $("device-error").textContent = message;
}

function context() {
  if (!audioContext) {
    audioContext = new AudioContext();
    audioContext.addEventListener("statechange", () => {
      $("level-hint").hidden = audioContext.state !== "suspended";
    });
  }
  return audioContext;
}

// Browsers start page audio only after a gesture on the page (Firefox even for a level meter):
// the candidate's first click or key press brings the meter and the test sound to life.
function wake() {
  if (audioContext && audioContext.state === "suspended") audioContext.resume();
}
for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, wake, { capture: true });

// --- device check ---------------------------------------------------------------------------
function meter(source) {
  const analyser = context().createAnalyser();
  analyser.fftSize = 512;
  context().createMediaStreamSource(source).connect(analyser);
  $("level-hint").hidden = context().state !== "suspended";
  const samples = new Float32Array(analyser.fftSize);
  const level = $("level");
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) sum += sample * sample;
    level.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
    window.parleyLevel = level.value;
    if (!$("check").hidden) requestAnimationFrame(tick);
  };
  tick();
}

$("speaker-test").addEventListener("click", () => {
  wake();
  const tone = context().createOscillator();
  const gain = context().createGain();
  gain.gain.value = 0.1;
  tone.frequency.value = 660;
  tone.connect(gain).connect(context().destination);
  tone.start();
  tone.stop(context().currentTime + 0.8);
  $("speaker-note").textContent = "Did you hear a tone? If not, check your speaker or headphones.";
});

async function check() {
  try {
    stream = await openMedia();
  } catch (error) {
    fail(mediaErrorText(error));
    return;
  }
  if (stream.cameraMissing) fail("No camera was found: you can join with your microphone only.");
  $("preview").srcObject = stream;
  meter(stream);
  $("ready").disabled = false;
}

// --- the lobby ------------------------------------------------------------------------------
async function lobbyState() {
  const response = await fetch(`${link}/join`);
  return { status: response.status, body: await response.json() };
}

function ended() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  show("done");
}

async function waitForAdmission() {
  for (;;) {
    const { status, body } = await lobbyState();
    if (status === 200) return body;
    if (body.state === "ended") return null;
    if (body.state !== "waiting") {
      $("lobby-text").textContent = body.message || "You cannot join right now.";
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

$("ready").addEventListener("click", async () => {
  $("ready").disabled = true;
  const response = await fetch(`${link}/lobby`, { method: "POST", headers: csrfHeaders() });
  const body = await response.json();
  if (!response.ok) {
    fail(body.message || "You cannot join right now.");
    $("ready").disabled = false;
    return;
  }
  show("lobby");
  const admitted = await waitForAdmission();
  if (!admitted) {
    ended();
    return;
  }
  show("live");
  view.showSelf(stream, "You");
  bindControls(stream, { mute: $("mute"), camera: $("camera") });
  const client = await joinRoom({
    root,
    token: admitted.token,
    stream,
    view,
    onState: (state) => { $("state").textContent = state; },
    onRecording: (on) => {
      const badge = $("recording");
      if (badge) badge.hidden = !on && root.dataset.recorded !== "yes";
    },
    onEnded: () => ended(),
  });
  window.parley = { client, stats: () => client.stats() };
  // The panel may end the interview while the SFU cannot tell this page: ask the server too.
  const watch = setInterval(async () => {
    if (!$("done").hidden) {
      clearInterval(watch);
      return;
    }
    try {
      const response = await fetch(`${link}/lobby`);
      if ((await response.json()).state !== "ended") return;
    } catch (error) {
      return;
    }
    clearInterval(watch);
    client.leave();
    ended();
  }, 3000);
});

$("captions").addEventListener("click", () => {
  const shown = $("captions").getAttribute("aria-pressed") !== "true";
  $("captions").setAttribute("aria-pressed", String(shown));
  $("captions").textContent = shown ? "Captions on" : "Captions off";
  view.setCaptionsShown(shown);
});

check();

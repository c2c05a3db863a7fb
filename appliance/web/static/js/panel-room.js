// The panel's room: video of everyone, the lobby and "Admit", the kit with scores and private
// notes that save themselves, elapsed time against the slot, and "End interview".
import { RoomView, bindControls, csrfHeaders, joinRoom, mediaErrorText, openMedia } from "./room-view.js";

const root = document.getElementById("room");
const id = root.dataset.interview;
const api = `/api/interviews/${id}`;
const $ = (selector) => document.getElementById(selector);
const view = new RoomView($("tiles"));
let client = null;

function minutes(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

// --- time: the countdown to the window, then elapsed time against the slot -------------------
// Times are measured on the server's clock: the page learns how far this computer's clock is
// off when it loads, so a countdown does not open the room early or late.
const skew = Date.parse(root.dataset.serverNow) - Date.now();
const now = () => Date.now() + skew;
const startsAt = Date.parse(root.dataset.startsAt);
const endsAt = Date.parse(root.dataset.endsAt);
const opensAt = Date.parse(root.dataset.opensAt);
$("slot").textContent = minutes(endsAt - startsAt);

function tick() {
  const elapsed = now() - startsAt;
  $("clock-label").textContent = elapsed < 0 ? "Starts in" : "Elapsed";
  $("clock-slot").hidden = elapsed < 0;
  $("elapsed").textContent = minutes(Math.abs(elapsed));
  $("elapsed").classList.toggle("over", now() > endsAt);
  $("opens-in").textContent = minutes(opensAt - now());
}
const clock = setInterval(tick, 1000);
tick();

// --- the scorecard: autosave, with a copy in this browser until the server has it -------------
const form = $("scorecard");
const saved = $("saved");
const backupKey = `parley-scorecard-${id}`;
let timer = null;
let saving = Promise.resolve();

function draft() {
  const scores = {};
  for (const field of form.querySelectorAll("fieldset.score")) {
    const name = field.querySelector("input[type=radio]").name;
    const checked = field.querySelector(`input[name="${name}"]:checked`);
    scores[name.slice("score-".length)] = checked ? Number(checked.value) : null;
  }
  const asked = [...form.querySelectorAll("input[name=asked]:checked")].map((box) => Number(box.value));
  return { notes: $("notes").value, scores, asked };
}

async function save(keepalive = false) {
  const body = JSON.stringify(draft());
  localStorage.setItem(backupKey, body);
  saved.textContent = "Saving…";
  try {
    const response = await fetch(`${api}/scorecard`, {
      method: "PUT",
      headers: csrfHeaders({ "content-type": "application/json" }),
      body,
      keepalive,
    });
    if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
    const result = await response.json();
    if (localStorage.getItem(backupKey) === body) localStorage.removeItem(backupKey);
    saved.textContent = `Saved at ${new Date(result.saved_at).toLocaleTimeString()}`;
  } catch (error) {
    saved.textContent = `Not saved yet (${error.message}); kept in this browser, retrying`;
    schedule(5000);
  }
}

function schedule(delay = 700) {
  clearTimeout(timer);
  timer = setTimeout(() => { saving = saving.then(() => save()); }, delay);
}

form.addEventListener("input", () => schedule());
form.addEventListener("change", () => schedule());
form.addEventListener("submit", (event) => event.preventDefault());
form.addEventListener("click", (event) => {
  const clear = event.target.closest("button[data-clear]");
  if (!clear) return;
  for (const radio of form.querySelectorAll(`input[name="score-${clear.dataset.clear}"]`)) radio.checked = false;
  schedule(0);
});
window.addEventListener("pagehide", () => {
  if (timer !== null) save(true);
});

// A draft this browser kept but the server never confirmed (a reload or a dropped network):
// put it back and save it.
const backup = localStorage.getItem(backupKey);
if (backup) {
  const kept = JSON.parse(backup);
  $("notes").value = kept.notes;
  for (const box of form.querySelectorAll("input[name=asked]")) box.checked = kept.asked.includes(Number(box.value));
  for (const [competency, score] of Object.entries(kept.scores)) {
    for (const radio of form.querySelectorAll(`input[name="score-${competency}"]`)) radio.checked = Number(radio.value) === score;
  }
  schedule(0);
}

// --- the lobby ------------------------------------------------------------------------------
const lobbyText = $("lobby-text");
const admit = $("admit");

function showLobby(lobby) {
  const texts = {
    ready: `${lobby.candidate} has not arrived yet.`,
    waiting: `${lobby.candidate} is waiting to be let in.`,
    admitted: `${lobby.candidate} has been let in.`,
    closed: now() < opensAt ? "The lobby opens with the room." : "The room is not open now.",
    ended: "This interview has ended.",
  };
  lobbyText.textContent = texts[lobby.state] || lobby.state;
  admit.hidden = lobby.state !== "waiting";
  admit.textContent = `Admit ${lobby.candidate}`;
}

async function pollLobby() {
  try {
    const response = await fetch(`${api}/lobby`);
    if (response.ok) {
      const lobby = await response.json();
      showLobby(lobby);
      if (lobby.state === "ended" && $("over").hidden) {
        leaveRoom(false);
        ended();
      }
    }
  } catch (error) {
    lobbyText.textContent = "The lobby could not be checked; retrying.";
  }
}

admit.addEventListener("click", async () => {
  admit.disabled = true;
  const response = await fetch(`${api}/lobby/admit`, { method: "POST", headers: csrfHeaders() });
  admit.disabled = false;
  if (response.ok) showLobby(await response.json());
});
setInterval(pollLobby, 2000);
pollLobby();

// --- ending -----------------------------------------------------------------------------------
let localStream = null;

// The interview is over for this page: camera and microphone released, no badge, no clock, no
// controls, and a way on to the review.
function ended() {
  clearInterval(clock);
  if (localStream) for (const track of localStream.getTracks()) track.stop();
  localStream = null;
  for (const id of [...view.tiles.keys()]) view.leave(id);
  $("state").textContent = "ended";
  $("recording").hidden = true;
  $("clock").hidden = true;
  $("not-yet").hidden = true;
  $("lobby").hidden = true;
  $("over").hidden = false;
  for (const button of ["end", "mute", "camera"]) $(button).disabled = true;
}

$("end").addEventListener("click", async () => {
  if (!window.confirm("End the interview for everyone? The recording will be finalized.")) return;
  $("end").disabled = true;
  clearTimeout(timer);
  await saving;
  await save();
  const response = await fetch(`${api}/end`, { method: "POST", headers: csrfHeaders() });
  if (!response.ok) {
    $("end").disabled = false;
    $("media-error").hidden = false;
    $("media-error").textContent = "The interview could not be ended; try again.";
    return;
  }
  // Just after a reload the room may still be joining: give it a moment, so the SFU hears the
  // end and closes the room for everyone at once (their pages also learn it from the server).
  await Promise.race([joining, new Promise((resolve) => setTimeout(resolve, 5000))]);
  leaveRoom(true);
  ended();
});

function leaveRoom(endForEveryone) {
  if (!client) return;
  try {
    if (endForEveryone) client.send({ type: "end" });
  } catch (error) {
    // The socket is down; the server already ended the interview, and every page learns it.
  }
  client.leave();
  client = null;
}

// --- media and the room -------------------------------------------------------------------
// Before the join window the page waits, counting down, with the camera off and nothing to end.
function windowOpens() {
  if (now() >= opensAt) return Promise.resolve();
  $("opens-at").textContent = new Date(opensAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  $("opens-at").setAttribute("datetime", root.dataset.opensAt);
  $("not-yet").hidden = false;
  return new Promise((resolve) => {
    const wait = setInterval(() => {
      if (now() < opensAt) return;
      clearInterval(wait);
      $("not-yet").hidden = true;
      resolve();
    }, 500);
  });
}

async function start() {
  if (root.dataset.ended === "yes") {
    ended();
    return;
  }
  await windowOpens();
  if (!$("over").hidden) return;
  $("end").disabled = false;  // ending needs only the server, even when the SFU cannot be reached
  try {
    localStream = await openMedia();
    view.showSelf(localStream, "You");
    bindControls(localStream, { mute: $("mute"), camera: $("camera") });
  } catch (error) {
    $("media-error").hidden = false;
    $("media-error").textContent = `${mediaErrorText(error)} You can still see and hear the others.`;
  }
  const response = await fetch(`${api}/room/token`);
  const body = await response.json();
  if (!response.ok) {
    $("state").textContent = body.detail || "the room is not open";
    return;
  }
  client = await joinRoom({
    root,
    token: body.token,
    stream: localStream,
    view,
    onState: (state) => { $("state").textContent = state; },
    onRecording: (on) => { $("recording").hidden = !on || !$("over").hidden; },
    onEnded: () => ended(),
  });
  window.parley = { client, stats: () => client.stats(), save: () => save() };
}

const joining = start().catch((error) => {
  $("state").textContent = `error: ${error.message}`;
});

// The review page's player: every participant's track on one timeline (the room recording's
// clock, which both the media timestamps and the transcript use), played, paused, seeked and
// sped up together; the transcript follows and seeks; comments are made at the moment playing.
import { csrfHeaders } from "./forms.js";

const media = [...document.querySelectorAll("[data-tile] video")];
const play = document.getElementById("play");
const position = document.getElementById("position");
const clock = document.getElementById("clock");
const speed = document.getElementById("speed");
const words = [...document.querySelectorAll(".word")];
const DRIFT = 0.1; // seconds a track may stray from the leader before it is put back

const leader = () => media.find((m) => !m.ended) || media[0];
const now = () => (media.length ? leader().currentTime : 0);
const playing = () => media.some((m) => !m.paused && !m.ended);

function format(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function seek(seconds) {
  for (const m of media) m.currentTime = Math.max(0, seconds);
  show();
}

function toggle(on = !playing()) {
  for (const m of media) {
    if (on) m.play().catch(() => {});
    else m.pause();
  }
  play.textContent = on ? "Pause" : "Play";
  play.setAttribute("aria-pressed", String(on));
}

let current = null;
function show() {
  const t = now();
  position.value = String(t);
  clock.textContent = format(t);
  const at = document.getElementById("comment-at");
  if (at) at.textContent = format(t);
  const word = words.find((w) => t >= Number(w.dataset.start) && t < Number(w.dataset.end));
  if (word !== current) {
    current?.classList.remove("current");
    word?.classList.add("current");
    current = word;
  }
}

function keepTogether() {
  if (!playing()) return;
  const t = now();
  for (const m of media) {
    if (Math.abs(m.currentTime - t) > DRIFT && !m.ended) m.currentTime = t;
  }
}

function end() {
  const finite = media.map((m) => m.duration).filter(Number.isFinite);
  const spoken = words.length ? Number(words[words.length - 1].dataset.end) : 0;
  return Math.max(spoken, ...finite, 0);
}

if (media.length) {
  for (const m of media) {
    m.addEventListener("loadedmetadata", () => { position.max = String(end()); });
    m.addEventListener("timeupdate", show);
  }
  play.addEventListener("click", () => toggle());
  position.addEventListener("input", () => seek(Number(position.value)));
  speed.addEventListener("change", () => {
    for (const m of media) m.playbackRate = Number(speed.value);
  });
  setInterval(keepTogether, 250);
  // A link to a moment (from search) ends in #t=<seconds>.
  const start = Number(new URLSearchParams(location.hash.slice(1)).get("t"));
  if (start > 0) {
    const cue = () => { if (media.every((m) => m.readyState >= 1)) seek(start); };
    for (const m of media) m.addEventListener("loadedmetadata", cue, { once: true });
    cue();
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea")) return;
    const steps = { ArrowLeft: -5, ArrowRight: 5, j: -10, J: -10, l: 10, L: 10 };
    if (event.key === " " && !event.target.closest("button")) {
      event.preventDefault();
      toggle();
    } else if (event.key === "k" || event.key === "K") {
      toggle(false);
    } else if (event.key in steps) {
      seek(now() + steps[event.key]);
    }
  });
}

for (const list of document.querySelectorAll(".turns, .thread")) {
  list.addEventListener("click", (event) => {
    const target = event.target.closest("a[data-start], button.word");
    if (!target || !media.length) return;
    event.preventDefault();
    seek(Number(target.dataset.start));
  });
}

const recording = document.querySelector("[data-recording]")?.dataset.recording;
const problem = document.getElementById("comment-error");

async function send(url, method, body) {
  const response = await fetch(url, {
    method,
    headers: csrfHeaders({ "content-type": "application/json", accept: "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.ok) {
    location.reload();
    return;
  }
  const answer = await response.json().catch(() => ({}));
  problem.textContent = answer.detail || `The comment was not saved (${response.status}).`;
  problem.hidden = false;
}

document.getElementById("new-comment")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = event.target.elements.body.value;
  send(`/api/recordings/${recording}/comments`, "POST", { body, at_ms: Math.round(now() * 1000) });
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches(".reply-form")) {
    event.preventDefault();
    send(`/api/recordings/${recording}/comments`, "POST", {
      body: form.elements.body.value,
      parent_id: Number(form.dataset.parent),
    });
  } else if (form.matches(".edit-form")) {
    event.preventDefault();
    send(`/api/comments/${form.dataset.comment}`, "PUT", { body: form.elements.body.value });
  }
});

document.addEventListener("click", (event) => {
  const button = event.target.closest(".delete-comment");
  if (button && !event.defaultPrevented) {
    send(`/api/comments/${button.dataset.comment}`, "DELETE");
  }
});

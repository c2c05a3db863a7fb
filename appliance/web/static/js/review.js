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

// Under the position bar: each speaker's turns (one row per speaker), the questions the panel
// marked as asked, and the comments; selecting one seeks there.
function drawTimeline() {
  const timeline = document.getElementById("timeline");
  const length = end();
  if (!timeline || !(length > 0)) return;
  timeline.replaceChildren();
  const mark = (kind, start, stop, label) => {
    const span = document.createElement("span");
    span.className = kind;
    span.title = label;
    span.dataset.start = String(start);
    span.style.left = `${(100 * start) / length}%`;
    if (stop > start) span.style.width = `${(100 * (stop - start)) / length}%`;
    timeline.append(span);
  };
  const speakers = [];
  for (const turn of document.querySelectorAll(".turn[data-speaker]")) {
    let row = speakers.indexOf(turn.dataset.speaker);
    if (row < 0) row = speakers.push(turn.dataset.speaker) - 1;
    mark(`turn-${Math.min(row, 2)}`, Number(turn.dataset.start), Number(turn.dataset.end), turn.dataset.speaker);
  }
  for (const asked of document.querySelectorAll(".asked a.at")) {
    mark("question", Number(asked.dataset.start), 0, asked.closest("li").textContent.trim());
  }
  for (const remark of document.querySelectorAll(".thread > .comment:not(.reply)")) {
    const at = remark.querySelector("a.at");
    mark("comment", Number(at.dataset.start), 0, remark.querySelector(".body")?.textContent || "");
  }
}

if (media.length) {
  document.getElementById("timeline")?.addEventListener("click", (event) => {
    const marker = event.target.closest("span[data-start]");
    if (marker) seek(Number(marker.dataset.start));
  });
  const measure = () => {
    position.max = String(end());
    drawTimeline();
  };
  for (const m of media) {
    m.addEventListener("loadedmetadata", measure);
    m.addEventListener("timeupdate", show);
  }
  // A track whose metadata arrived before this script ran fires no event for it.
  measure();
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

let anchor = null;
let passage = null; // [first, last] indices into words

function markPassage(from, to) {
  const [first, last] = from <= to ? [from, to] : [to, from];
  passage = [first, last];
  words.forEach((w, i) => w.classList.toggle("selected", i >= first && i <= last));
  const bar = document.getElementById("passage");
  document.getElementById("passage-label").textContent =
    `Passage ${format(Number(words[first].dataset.start))}–${format(Number(words[last].dataset.end))}`;
  document.getElementById("passage-status").textContent = "";
  bar.hidden = false;
}

function clearPassage() {
  passage = null;
  for (const w of words) w.classList.remove("selected");
  document.getElementById("passage").hidden = true;
  commentSpan(null);
}

for (const list of document.querySelectorAll(".turns, .thread, .asked, .figures, .evidence")) {
  list.addEventListener("click", (event) => {
    const target = event.target.closest("a[data-start], button.word");
    if (!target) return;
    event.preventDefault();
    const index = words.indexOf(target);
    if (index >= 0 && event.shiftKey && anchor !== null) {
      markPassage(anchor, index);
      return;
    }
    if (index >= 0) anchor = index;
    if (media.length) seek(Number(target.dataset.start));
  });
}

// The marked passage as text: a line per speaker's turn, with its time, then a link to it.
function passageText() {
  const [first, last] = passage;
  const lines = [];
  let turn = null;
  for (const word of words.slice(first, last + 1)) {
    const owner = word.closest(".turn");
    if (owner !== turn) {
      turn = owner;
      lines.push(`[${format(Number(word.dataset.start))}] ${owner.dataset.speaker}:`);
    }
    lines[lines.length - 1] += word.textContent;
  }
  const at = Number(words[first].dataset.start).toFixed(1);
  lines.push(`${location.origin}${location.pathname}#t=${at}`);
  return lines.map((line) => line.replace(/\s+/g, " ").trim()).join("\n");
}

async function copyPassage() {
  const text = passageText();
  const status = document.getElementById("passage-status");
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = Object.assign(document.createElement("textarea"), { value: text });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  status.textContent = "Copied with its time.";
}

document.getElementById("copy-passage")?.addEventListener("click", copyPassage);
document.getElementById("clear-passage")?.addEventListener("click", clearPassage);
document.getElementById("comment-passage")?.addEventListener("click", () => {
  const [first, last] = passage;
  commentSpan([Number(words[first].dataset.start), Number(words[last].dataset.end)]);
  document.getElementById("comment-body").focus();
});

// Find in the transcript: every run of words that reads as the text typed (the last word may
// be the start of one), one at a time with Next and Previous (or Enter and Shift+Enter).
const norm = (text) => text.toLocaleLowerCase().normalize("NFKC").replace(/[^\p{L}\p{N}']+/gu, " ").trim();
const spoken = words.map((w) => norm(w.textContent));
let found = [];
let at = -1;

function findAll() {
  const sought = norm(document.getElementById("find-text").value).split(" ").filter(Boolean);
  for (const w of words) w.classList.remove("found", "at-match");
  found = [];
  at = -1;
  if (sought.length) {
    for (let i = 0; i + sought.length <= words.length; i++) {
      const match = sought.every((part, k) =>
        k === sought.length - 1 ? spoken[i + k].startsWith(part) : spoken[i + k] === part);
      if (match) found.push([i, i + sought.length - 1]);
    }
  }
  for (const [first, last] of found) {
    for (let i = first; i <= last; i++) words[i].classList.add("found");
  }
  step(0);
}

function step(by) {
  const count = document.getElementById("find-count");
  if (!found.length) {
    count.textContent = document.getElementById("find-text").value.trim() ? "No match" : "";
    return;
  }
  for (const w of words) w.classList.remove("at-match");
  at = (Math.max(at, 0) + by + found.length) % found.length;
  const [first, last] = found[at];
  for (let i = first; i <= last; i++) words[i].classList.add("at-match");
  words[first].scrollIntoView({ block: "nearest" });
  count.textContent = `${at + 1} of ${found.length}`;
}

const findText = document.getElementById("find-text");
findText?.addEventListener("input", findAll);
findText?.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    step(event.shiftKey ? -1 : 1);
  }
});
document.getElementById("find-next")?.addEventListener("click", () => step(1));
document.getElementById("find-previous")?.addEventListener("click", () => step(-1));

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

// The new comment is on the moment playing, or on the passage marked for it.
let span = null;
function commentSpan(seconds) {
  span = seconds;
  const label = document.getElementById("comment-label");
  const submit = document.getElementById("comment-submit");
  if (!label) return;
  if (span) {
    label.textContent = `Comment on the passage ${format(span[0])}–${format(span[1])}`;
    submit.textContent = "Comment on the passage";
  } else {
    label.textContent = "Comment on the moment playing now";
    submit.replaceChildren("Comment at ", Object.assign(document.createElement("span"), { id: "comment-at" }));
    show();
  }
}

document.getElementById("new-comment")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = event.target.elements.body.value;
  const moment = span
    ? { at_ms: Math.round(span[0] * 1000), end_ms: Math.round(span[1] * 1000) }
    : { at_ms: Math.round(now() * 1000) };
  send(`/api/recordings/${recording}/comments`, "POST", { body, ...moment });
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

// The review page's single-file export: asking for it without leaving the page, and a progress
// bar while the worker makes it. Without JavaScript the form posts and the page says where the
// job stands when reloaded.
import { csrfHeaders } from "./forms.js";

const box = document.getElementById("composite");
if (box) {
  const form = box.querySelector("form");
  const bar = document.getElementById("composite-progress");
  const state = document.getElementById("composite-state");
  const link = document.getElementById("composite-download");
  const url = `/api/recordings/${box.dataset.recording}/composite`;

  const show = (job) => {
    const busy = job.status === "queued" || job.status === "running";
    bar.hidden = !busy;
    bar.value = job.progress;
    form.hidden = busy;
    if (job.status === "queued") state.textContent = "Waiting for the worker to start it…";
    else if (job.status === "running") state.textContent = `Making it: ${Math.round(job.progress * 100)}%`;
    else if (job.status === "failed") state.textContent = `It could not be made: ${job.error}`;
    else if (job.status === "done") state.textContent = `Ready: ${(job.bytes / 1e6).toFixed(1)} MB.`;
    link.hidden = job.status !== "done";
    if (busy) setTimeout(poll, 2000);
  };

  const poll = async () => {
    const answer = await fetch(url, { headers: { accept: "application/json" } });
    if (answer.ok) show(await answer.json());
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await fetch(url, {
      method: "POST",
      headers: csrfHeaders({ accept: "application/json" }),
    });
    const body = await answer.json();
    if (answer.ok) show(body);
    else state.textContent = body.detail || "It could not be asked for.";
  });

  if (box.dataset.status === "queued" || box.dataset.status === "running") poll();
}

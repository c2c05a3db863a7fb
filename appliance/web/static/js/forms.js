// Small progressive enhancements for every form; pages work without them.

// Ask before destructive actions marked with data-confirm.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

// Disable a form's submit button once it is sent, so a double click does not post twice.
document.addEventListener("submit", (event) => {
  if (event.defaultPrevented) return;
  const button = event.submitter;
  if (button) {
    window.setTimeout(() => { button.disabled = true; }, 0);
  }
});

// A refused form comes back with its error at the top of the page: put it beside the field it
// names (the first field whose label the message mentions), mark that field invalid and
// focus it. Without a matching field, or without this script, the message stays on top.
function placeFieldError() {
  const alert = document.querySelector("main > p.error[role=alert]");
  if (!alert) return;
  const message = alert.textContent.toLowerCase();
  let best = null;
  for (const label of document.querySelectorAll("main form label")) {
    const field = label.querySelector("input:not([type=hidden]), select, textarea");
    const name = label.firstChild && label.firstChild.nodeType === Node.TEXT_NODE
      ? label.firstChild.textContent.trim().toLowerCase() : "";
    if (!field || !name) continue;
    const escaped = name.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
    const at = message.search(new RegExp(`(^|[^a-z])${escaped}([^a-z]|$)`));
    if (at >= 0 && (!best || at < best.at)) best = { at, field, label };
  }
  if (!best) return;
  alert.id = alert.id || "form-error";
  alert.classList.add("field-error");
  best.label.insertAdjacentElement("afterend", alert);
  best.field.setAttribute("aria-invalid", "true");
  best.field.setAttribute("aria-describedby", alert.id);
  best.field.focus();
}
placeFieldError();

// The navigation's menus: one open at a time, closed by a click elsewhere or Escape.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});

// Headers for a script's POST, PUT or DELETE: the CSRF token of the page's #csrf form.
export function csrfHeaders(extra = {}) {
  const field = document.querySelector("#csrf input[name=_csrf_token]");
  return { "x-csrftoken": field ? field.value : "", ...extra };
}

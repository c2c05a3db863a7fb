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

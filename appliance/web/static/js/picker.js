// A search box that chooses one of many (templates/picker.html): typing lists the few whose
// name holds the text, from /api/choices/<kind>; arrows and Enter, or a click, choose one.
// The chosen id goes in the hidden field; emptying the box chooses none.

const WAIT_MS = 150;

function setUp(picker) {
  const source = picker.dataset.picker;
  const hidden = picker.querySelector("input[type=hidden]");
  const box = picker.querySelector("input[role=combobox]");
  const list = picker.querySelector("[role=listbox]");
  let chosenLabel = box.value;
  let timer = null;
  let active = -1;
  let asked = 0;

  function options() { return [...list.querySelectorAll("[role=option]")]; }

  function close() {
    list.hidden = true;
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    const all = options();
    all.forEach((option, n) => option.setAttribute("aria-selected", String(n === index)));
    active = index;
    if (index >= 0 && all[index]) {
      box.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    }
  }

  function choose(option) {
    hidden.value = option.dataset.id;
    box.value = chosenLabel = option.textContent;
    close();
    hidden.dispatchEvent(new Event("change", { bubbles: true }));
  }

  async function search() {
    const mine = ++asked;
    const url = `${source}?q=${encodeURIComponent(box.value.trim())}`;
    const response = await fetch(url, { headers: { accept: "application/json" } });
    if (mine !== asked || !response.ok) return;
    const choices = await response.json();
    list.replaceChildren(...choices.map((choice, n) => {
      const item = document.createElement("li");
      item.id = `${list.id}-${n}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.dataset.id = String(choice.id);
      item.textContent = choice.label;
      return item;
    }));
    if (!choices.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "Nothing by that name";
      list.append(empty);
    }
    list.hidden = false;
    box.setAttribute("aria-expanded", "true");
    highlight(choices.length ? 0 : -1);
  }

  box.addEventListener("input", () => {
    if (!box.value.trim()) {
      hidden.value = "";
      chosenLabel = "";
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(search, WAIT_MS);
  });
  box.addEventListener("focus", () => { if (list.hidden) search(); });
  box.addEventListener("keydown", (event) => {
    const all = options();
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) { search(); return; }
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight(Math.max(0, Math.min(all.length - 1, active + step)));
    } else if (event.key === "Enter" && !list.hidden && active >= 0) {
      event.preventDefault();
      choose(all[active]);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });
  // A click on an option lands before the box loses focus.
  list.addEventListener("mousedown", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) {
      event.preventDefault();
      choose(option);
    }
  });
  box.addEventListener("blur", () => {
    close();
    if (box.value.trim()) box.value = chosenLabel;
  });
}

document.querySelectorAll("[data-picker]").forEach(setUp);

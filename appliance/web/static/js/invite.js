// The invite form on a candidate's page: once an interview type is chosen, show whether its
// panel has time free together (and each interviewer's own next free times) before sending.
const form = document.getElementById("invite");
const out = document.getElementById("outlook");

function line(text, tag = "p") {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

async function show(typeId) {
  out.replaceChildren();
  if (!typeId) return;
  const response = await fetch(`/api/interview-types/${typeId}/outlook`, { headers: { accept: "application/json" } });
  if (!response.ok) return;
  const outlook = await response.json();
  out.className = outlook.free ? "card" : "card warning";
  out.append(line(outlook.free
    ? `The candidate will be offered ${outlook.free} times, the first ${outlook.first} (${outlook.timezone}).`
    : "This panel has no time free together: the candidate would find nothing to book."));
  const list = document.createElement("ul");
  for (const member of outlook.members) {
    const free = !member.has_hours ? "has set no weekly hours"
      : member.next_free.length ? `free ${member.next_free.join(", ")}` : "no free time within the horizon";
    const calendar = member.calendar_error ? ` (their calendar cannot be read: ${member.calendar_error})` : "";
    const item = line(`${member.name}: ${free}${calendar} — `, "li");
    const edit = document.createElement("a");
    edit.href = `/users/${member.user_id}/availability`;
    edit.textContent = "see or change their availability";
    item.append(edit);
    list.append(item);
  }
  out.append(list);
}

if (form) {
  const field = form.querySelector("input[name=interview_type_id]");
  form.addEventListener("change", () => show(field.value));
}

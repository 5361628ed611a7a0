// The console's only script (served from the package; the pages' Content-Security-Policy
// allows no inline script). Everything works without it: it adds confirmations, shows
// only the clocking fields that fit the chosen kind, and counts deltas' time down.
"use strict";

document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});

function showFieldsOfKind(form) {
  const kind = form.querySelector("select[name=kind]");
  if (!kind) return;
  for (const field of form.querySelectorAll("[data-kind]")) {
    field.classList.toggle("hidden", field.getAttribute("data-kind") !== kind.value);
  }
}

// The server says how many seconds a delta has left by the tenant's clock (which an
// operator may have moved), so the count starts from that, not from this browser's time.
const loadedAt = Date.now();

function countDown() {
  const elapsed = Math.floor((Date.now() - loadedAt) / 1000);
  for (const cell of document.querySelectorAll("[data-seconds-left]")) {
    const left = Number(cell.getAttribute("data-seconds-left")) - elapsed;
    if (left <= 0) {
      cell.textContent = "expired";
      cell.classList.add("expired");
      continue;
    }
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    cell.textContent = `${h} h ${String(m).padStart(2, "0")} min ${String(s).padStart(2, "0")} s`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.clocking-form")) {
    showFieldsOfKind(form);
    form.addEventListener("change", () => showFieldsOfKind(form));
  }
  if (document.querySelector("[data-seconds-left]")) {
    countDown();
    window.setInterval(countDown, 1000);
  }
});

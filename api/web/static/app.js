// Progressive enhancement only: every page works without this file.
// It replaces the GOV.UK template's inline script (our CSP forbids inline scripts), starts
// the GOV.UK components, and lets a relevance rating be sent without leaving the page.
import { initAll } from "./govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// One-click ratings: post the same form the no-JS page posts, then say so in place.
for (const form of document.querySelectorAll("form[data-rate-form]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById(form.dataset.statusId);
    const button = event.submitter;
    const body = new FormData(form);
    if (button && button.name) body.append(button.name, button.value);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const result = await response.json();
      if (status) status.textContent = result.message;
      if (response.ok) {
        for (const b of form.querySelectorAll("button")) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        }
      }
    } catch {
      form.submit(); // fall back to the plain form post
    }
  });
}

// "Back" returns to the page the worker came from: search results (a POST, so the link alone
// could only open an empty search form) or their suggestions.
for (const link of document.querySelectorAll("a[data-history-back]")) {
  link.addEventListener("click", (event) => {
    if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
}

// A page restored from the back-forward cache is shown without asking the server, so after
// sign-out Back would show a person's details again (Cache-Control: no-store and
// Clear-Site-Data do not stop it in Chromium). Reload it instead: the server then answers
// with the sign-in page.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});

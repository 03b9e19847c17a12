// gqlgov admin: copy buttons ([data-copy="#selector"]) and forms that ask first
// (<form data-confirm="question">). No dependencies, no network, no inline handlers: the admin's
// Content-Security-Policy (gqlgov/security.py) allows scripts from this origin's files only.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = (source.value ?? source.textContent).trim();
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectText(source));
  } else {
    selectText(source);
    try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected for Ctrl+C */ }
  }
});

function selectText(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// A page answering a POST that showed a secret (a new token) replaces its URL with the plain page,
// so Reload fetches that page (without the secret) instead of re-sending the POST.
document.addEventListener("DOMContentLoaded", () => {
  const marker = document.querySelector("[data-replace-url]");
  if (marker && window.history.replaceState) window.history.replaceState(null, "", marker.dataset.replaceUrl);
});

// Long work shows its progress: an element with data-poll="<JSON status URL>" fetches it every
// 1.5 s, writes each answer field into its [data-field] children, and reloads the page once the
// work has finished (so the full result renders). A failed fetch is retried at the next tick.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach((box) => {
    const tick = () => {
      fetch(box.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : null))
        .then((status) => {
          if (!status) return setTimeout(tick, 1500);
          box.querySelectorAll("[data-field]").forEach((node) => {
            if (node.dataset.field in status) node.textContent = status[node.dataset.field];
          });
          if (status.finished) window.location.reload();
          else setTimeout(tick, 1500);
        })
        .catch(() => setTimeout(tick, 1500));
    };
    setTimeout(tick, 1500);
  });
});

// Long requests say so while they run: a form with data-progress="<id>" reveals that element and
// disables its submit buttons once submitted (schema registration builds large SDL for seconds).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-progress]").forEach((form) => {
    form.addEventListener("submit", () => {
      const indicator = document.getElementById(form.dataset.progress);
      if (indicator) indicator.hidden = false;
      form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = true; });
    });
  });
});

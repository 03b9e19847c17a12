// Small form helpers of the rule editor and the simulator (no dependencies, no inline handlers):
//  - <select data-options="#json-id" data-options-by="#other-select">: options follow another select
//    (the simulator's policy versions follow its schema);
//  - <textarea data-subject-json data-subject-kinds="ai,service">: a typed subject checked as you type
//    (the server checks it again);
//  - <textarea data-autogrow>: as tall as its lines;
//  - .gg-checklist[data-filter-label]: a filter box over a long checkbox list.
(() => {
  const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);

  document.querySelectorAll("select[data-options][data-options-by]").forEach((select) => {
    const table = JSON.parse(document.querySelector(select.dataset.options).textContent);
    const by = document.querySelector(select.dataset.optionsBy);
    by.addEventListener("change", () => {
      const keep = select.value;
      select.replaceChildren(...(table[by.value] || []).map(([value, label]) => new Option(label, value)));
      if ([...select.options].some((o) => o.value === keep)) select.value = keep;
    });
  });

  function subjectProblem(text, kinds) {
    if (!text.trim()) return "";
    let value;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return `Not valid JSON: ${error.message}`;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) return 'Write a JSON object, e.g. {"name": "x"}.';
    if (typeof value.name !== "string" || !value.name.trim()) return '"name" must be a non-empty string.';
    if ("kind" in value && !kinds.includes(value.kind)) return `"kind" must be one of ${kinds.join(", ")}.`;
    if ("groups" in value && !(Array.isArray(value.groups) && value.groups.every((g) => typeof g === "string"))) {
      return '"groups" must be a list of strings, e.g. ["support"].';
    }
    for (const key of ["attributes", "claims"]) {
      if (key in value && (value[key] === null || typeof value[key] !== "object" || Array.isArray(value[key]))) {
        return `"${key}" must be a JSON object.`;
      }
    }
    const unknown = Object.keys(value).filter((k) => !["name", "kind", "groups", "attributes", "claims"].includes(k));
    return unknown.length ? `Unknown key${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}.` : "";
  }

  document.querySelectorAll("textarea[data-subject-json]").forEach((area) => {
    const kinds = (area.dataset.subjectKinds || "").split(",").filter(Boolean);
    const message = make("span", { className: "gg-live-error", id: `${area.id}-problem` });
    message.setAttribute("aria-live", "polite");
    area.after(message);
    area.setAttribute("aria-describedby", `${area.getAttribute("aria-describedby") || ""} ${message.id}`.trim());
    const check = () => {
      const problem = subjectProblem(area.value, kinds);
      area.setCustomValidity(problem);
      area.setAttribute("aria-invalid", String(Boolean(problem)));
      message.textContent = problem;
    };
    area.addEventListener("input", check);
    check();
  });

  document.querySelectorAll("textarea[data-autogrow]").forEach((area) => {
    const grow = () => { area.rows = Math.max(3, area.value.split("\n").length + 1); };
    area.addEventListener("input", grow);
    grow();
  });

  document.querySelectorAll(".gg-checklist[data-filter-label]").forEach((list) => {
    const options = [...list.querySelectorAll("label")];
    if (options.length <= 8) return;
    const filter = make("input", { type: "search", className: "gg-checklist-filter", placeholder: "Filter" });
    filter.setAttribute("aria-label", list.dataset.filterLabel);
    filter.addEventListener("input", () => {
      const text = filter.value.trim().toLowerCase();
      for (const label of options) label.closest("div").hidden = Boolean(text) && !label.textContent.toLowerCase().includes(text);
    });
    list.before(filter);
  });
})();

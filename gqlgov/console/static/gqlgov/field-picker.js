// The denied-field picker of the rule editor: the fields the rule's operations reach, as a tree of
// type -> field, with search and keyboard use (WAI-ARIA tree: arrows move, Right/Left open and close,
// Enter/Space toggles, typing a letter searches). The chosen fields are the form's hidden inputs
// `field_denies`; the tree data is a JSON [[type, [field, ...]], ...] written by the server.
// Only the types and the fields that are open or found are in the DOM, so a GitHub-sized schema
// (1,600 types, ~20,000 fields) loads and searches quickly (timings in data-ready-ms / data-search-ms).
(() => {
  const root = document.getElementById("field-picker");
  if (!root) return;
  const started = performance.now();
  const types = JSON.parse(document.querySelector(root.dataset.tree).textContent);
  const lower = types.map(([type, fields]) => [type.toLowerCase(), fields.map((f) => f.toLowerCase())]);
  const values = document.querySelector(root.dataset.values);
  const inputName = root.dataset.inputName;
  const search = root.querySelector("[data-picker-search]");
  const tree = root.querySelector("[role=tree]");
  const summary = root.querySelector("[data-picker-count]");
  const chosen = root.querySelector("[data-picker-chosen]");
  const selected = new Set([...values.querySelectorAll(`input[name="${inputName}"]`)].map((input) => input.value));
  const opened = new Set();
  const MAX_FIELD_ROWS = 500; // field rows shown for one search; the count says how many more matched

  const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);

  function deniedIn(type) {
    let n = 0;
    for (const coordinate of selected) if (coordinate.startsWith(type + ".")) n += 1;
    return n;
  }

  function typeItem(type, fields, shown, open) {
    const item = make("li", { className: "gg-tree-type", tabIndex: -1 });
    item.setAttribute("role", "treeitem");
    item.setAttribute("aria-level", "1");
    item.setAttribute("aria-expanded", "false");
    item.dataset.type = type;
    item.fields = shown || fields;
    const row = make("span", { className: "gg-tree-row" });
    row.append(make("span", { className: "gg-tree-twisty", ariaHidden: "true" }), make("span", { className: "gg-tree-name", textContent: type }));
    row.append(make("span", { className: "gg-muted gg-tree-meta", textContent: shown && shown.length !== fields.length ? ` ${shown.length} of ${fields.length} fields` : ` ${fields.length} fields` }));
    row.append(make("span", { className: "gg-chip gg-tree-denied" }));
    item.append(row);
    updateTypeBadge(item);
    if (open) expand(item);
    return item;
  }

  function fieldItem(type, field) {
    const coordinate = `${type}.${field}`;
    const item = make("li", { className: "gg-tree-field", tabIndex: -1 });
    item.setAttribute("role", "treeitem");
    item.setAttribute("aria-level", "2");
    item.setAttribute("aria-selected", String(selected.has(coordinate)));
    item.setAttribute("aria-label", `${coordinate}${selected.has(coordinate) ? ", denied" : ""}`);
    item.dataset.coordinate = coordinate;
    item.append(make("span", { className: "gg-tree-check", ariaHidden: "true" }), make("span", { textContent: field }));
    return item;
  }

  function updateTypeBadge(item) {
    const n = deniedIn(item.dataset.type);
    const badge = item.querySelector(".gg-tree-denied");
    badge.textContent = n ? `${n} denied` : "";
    badge.hidden = !n;
  }

  function expand(item) {
    if (item.getAttribute("aria-expanded") === "true") return;
    const group = make("ul");
    group.setAttribute("role", "group");
    const type = item.dataset.type;
    for (const field of item.fields) group.append(fieldItem(type, field));
    item.append(group);
    item.setAttribute("aria-expanded", "true");
    if (!search.value.trim()) opened.add(type);
  }

  function collapse(item) {
    item.querySelector(":scope > ul")?.remove();
    item.setAttribute("aria-expanded", "false");
    opened.delete(item.dataset.type);
  }

  function matchesOf(index, query) {
    // "Type.field" narrows both parts; a plain word finds types and fields containing it.
    const [type, fields] = lower[index];
    const dot = query.indexOf(".");
    if (dot >= 0) {
      if (!type.includes(query.slice(0, dot))) return null;
      const part = query.slice(dot + 1);
      const found = types[index][1].filter((_, i) => fields[i].includes(part));
      return found.length ? { fields: found, open: true } : null;
    }
    const found = types[index][1].filter((_, i) => fields[i].includes(query));
    if (found.length) return { fields: found, open: true };
    return type.includes(query) ? { fields: null, open: false } : null;
  }

  // Types named exactly as searched first, then those starting so, then the rest (each alphabetical).
  function rank(index, query) {
    const type = lower[index][0];
    const wanted = query.includes(".") ? query.slice(0, query.indexOf(".")) : query;
    return type === wanted ? 0 : type.startsWith(wanted) ? 1 : 2;
  }

  function render() {
    const began = performance.now();
    const query = search.value.trim().toLowerCase();
    const fragment = document.createDocumentFragment();
    let typeCount = 0;
    let fieldCount = 0;
    let fieldRows = 0;
    if (!query) {
      for (const [type, fields] of types) fragment.append(typeItem(type, fields, null, opened.has(type)));
      typeCount = types.length;
    } else {
      const found = [];
      for (let index = 0; index < types.length; index += 1) {
        const match = matchesOf(index, query);
        if (match) found.push({ index, match, rank: rank(index, query) });
      }
      found.sort((a, b) => a.rank - b.rank || a.index - b.index);
      for (const { index, match } of found) {
        const [type, fields] = types[index];
        typeCount += 1;
        fieldCount += match.fields ? match.fields.length : 0;
        const open = match.open && fieldRows + match.fields.length <= MAX_FIELD_ROWS;
        if (open) fieldRows += match.fields.length;
        fragment.append(typeItem(type, fields, match.fields, open));
      }
    }
    tree.replaceChildren(fragment);
    const first = tree.querySelector("[role=treeitem]");
    if (first) first.tabIndex = 0;
    summary.textContent = query
      ? `${typeCount} types, ${fieldCount} fields match "${search.value.trim()}"${fieldRows < fieldCount ? ` (${fieldRows} shown: refine the search to see the rest)` : ""}.`
      : `${types.length} types reachable. Arrow keys move, Right opens a type, Enter or Space denies a field, typing searches.`;
    root.dataset.searchMs = (performance.now() - began).toFixed(1);
  }

  function syncInputs() {
    values.querySelectorAll(`input[name="${inputName}"]`).forEach((input) => input.remove());
    chosen.replaceChildren();
    for (const coordinate of [...selected].sort()) {
      values.append(make("input", { type: "hidden", name: inputName, value: coordinate }));
      const chip = make("button", { type: "button", className: "gg-chip gg-chip-remove", textContent: `${coordinate} ×` });
      chip.setAttribute("aria-label", `Stop denying ${coordinate}`);
      chip.dataset.coordinate = coordinate;
      chosen.append(chip);
    }
    chosen.hidden = selected.size === 0;
  }

  function toggle(item) {
    const coordinate = item.dataset.coordinate;
    if (selected.has(coordinate)) selected.delete(coordinate);
    else selected.add(coordinate);
    const on = selected.has(coordinate);
    item.setAttribute("aria-selected", String(on));
    item.setAttribute("aria-label", `${coordinate}${on ? ", denied" : ""}`);
    updateTypeBadge(item.parentElement.closest("[role=treeitem]"));
    syncInputs();
  }

  function focusItem(item) {
    if (!item) return;
    tree.querySelectorAll("[role=treeitem][tabindex='0']").forEach((other) => { other.tabIndex = -1; });
    item.tabIndex = 0;
    item.focus();
  }

  const visible = () => [...tree.querySelectorAll("[role=treeitem]")];

  tree.addEventListener("keydown", (event) => {
    const item = event.target.closest("[role=treeitem]");
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    const isType = item.getAttribute("aria-level") === "1";
    const items = visible();
    const at = items.indexOf(item);
    const handled = {
      ArrowDown: () => focusItem(items[at + 1]),
      ArrowUp: () => (at > 0 ? focusItem(items[at - 1]) : search.focus()),
      Home: () => focusItem(items[0]),
      End: () => focusItem(items[items.length - 1]),
      ArrowRight: () => (isType && item.getAttribute("aria-expanded") !== "true" ? expand(item) : isType && focusItem(items[at + 1])),
      ArrowLeft: () => (isType ? collapse(item) : focusItem(item.parentElement.closest("[role=treeitem]"))),
      Enter: () => (isType ? (item.getAttribute("aria-expanded") === "true" ? collapse(item) : expand(item)) : toggle(item)),
      " ": () => (isType ? (item.getAttribute("aria-expanded") === "true" ? collapse(item) : expand(item)) : toggle(item)),
    }[event.key];
    if (handled) {
      event.preventDefault();
      handled();
    } else if (event.key.length === 1 && event.key.trim()) {
      event.preventDefault(); // type-to-search: the letter goes to the search box
      search.focus();
      search.value += event.key;
      render();
    }
  });

  tree.addEventListener("click", (event) => {
    const item = event.target.closest("[role=treeitem]");
    if (!item) return;
    if (item.getAttribute("aria-level") === "1") {
      if (item.getAttribute("aria-expanded") === "true") collapse(item);
      else expand(item);
    } else {
      toggle(item);
    }
    focusItem(item);
  });

  chosen.addEventListener("click", (event) => {
    const chip = event.target.closest("[data-coordinate]");
    if (!chip) return;
    selected.delete(chip.dataset.coordinate);
    const item = tree.querySelector(`[data-coordinate="${CSS.escape(chip.dataset.coordinate)}"]`);
    if (item) {
      item.setAttribute("aria-selected", "false");
      updateTypeBadge(item.parentElement.closest("[role=treeitem]"));
    } else {
      const type = tree.querySelector(`[data-type="${CSS.escape(chip.dataset.coordinate.split(".")[0])}"]`);
      if (type) updateTypeBadge(type);
    }
    syncInputs();
  });

  let pending = 0;
  search.addEventListener("input", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(render);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      cancelAnimationFrame(pending);
      render();
      focusItem(tree.querySelector("[role=treeitem]"));
    } else if (event.key === "Enter") {
      event.preventDefault(); // Enter here searches; it never submits the rule half-edited
      cancelAnimationFrame(pending);
      render();
    } else if (event.key === "Escape" && search.value) {
      search.value = "";
      render();
    }
  });

  syncInputs();
  render();
  root.hidden = false;
  root.dataset.readyMs = (performance.now() - started).toFixed(1);
  root.dataset.ready = "true";
})();

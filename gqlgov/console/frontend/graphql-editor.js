// The console's GraphQL editor: CodeMirror 6 with cm6-graphql (highlighting, schema-aware completion,
// validation against the schema) and a schema explorer. Bundled by tools/vendor_static.py into
// static/gqlgov/vendor/graphql-editor.js; no network beyond this origin (the admin's CSP allows no more).
//
// Markup: <textarea data-graphql-editor data-schema-url="/admin/schemas/shop/sdl/"> (the URL may be
// absent: highlighting only), or data-schema-source="#id_schema" plus data-schema-url-template
// containing "__schema__" to follow a schema picker. The textarea stays the form's field: every edit
// is copied into it, so the form posts as before (and works without this script).
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, drawSelection, highlightActiveLine } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, HighlightStyle, bracketMatching, indentOnInput } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { lintKeymap } from "@codemirror/lint";
import { graphql, updateSchema } from "cm6-graphql";
import { buildSchema, getNamedType, isObjectType, isInterfaceType, isInputObjectType, isUnionType, isEnumType } from "graphql";

const schemaCache = new Map();

function loadSchema(url) {
  if (!url) return Promise.resolve(null);
  if (!schemaCache.has(url)) {
    const pending = fetch(url, { credentials: "same-origin", headers: { Accept: "text/plain" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(new Error(`HTTP ${response.status}`))))
      .then((sdl) => buildSchema(sdl, { assumeValidSDL: true }));
    schemaCache.set(url, pending);
  }
  return schemaCache.get(url);
}

function schemaUrl(textarea) {
  const source = textarea.dataset.schemaSource && document.querySelector(textarea.dataset.schemaSource);
  if (source && textarea.dataset.schemaUrlTemplate) {
    return source.value ? textarea.dataset.schemaUrlTemplate.replace("__schema__", encodeURIComponent(source.value)) : "";
  }
  return textarea.dataset.schemaUrl || "";
}

// GraphiQL's palette: keywords, fields, arguments, variables, values each their own colour.
const graphqlHighlight = HighlightStyle.define([
  { tag: [tags.keyword, tags.definitionKeyword], color: "#b11a04" },
  { tag: tags.propertyName, color: "#1f61a0" },
  { tag: tags.attributeName, color: "#8b2bb9" },
  { tag: tags.variableName, color: "#397d13" },
  { tag: tags.atom, color: "#ca9800" },
  { tag: [tags.string, tags.special(tags.name)], color: "#d64292" },
  { tag: [tags.integer, tags.float, tags.bool, tags.null], color: "#2882f9" },
  { tag: tags.modifier, color: "#b33086" },
  { tag: tags.lineComment, color: "#666", fontStyle: "italic" },
]);

const theme = EditorView.theme({
  "&": { border: "1px solid var(--border-color, #ccc)", borderRadius: "4px", background: "var(--body-bg, #fff)", fontSize: "13px" },
  "&.cm-focused": { outline: "2px solid var(--link-fg, #417893)" },
  ".cm-content": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", minHeight: "10em" },
  ".cm-scroller": { maxHeight: "28em", overflow: "auto" },
  ".cm-gutters": { background: "var(--darkened-bg, #f8f8f8)", color: "var(--body-quiet-color, #888)", border: "none" },
});

function mount(textarea) {
  const label = document.querySelector(`label[for="${textarea.id}"]`);
  const status = document.createElement("span");
  status.className = "gg-editor-status helptext";
  status.setAttribute("aria-live", "polite");
  const view = new EditorView({
    parent: textarea.parentNode,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(), history(), drawSelection(), indentOnInput(), bracketMatching(), closeBrackets(),
        highlightActiveLine(), syntaxHighlighting(graphqlHighlight), syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        autocompletion({ activateOnTyping: true }),
        keymap.of([...completionKeymap, ...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...lintKeymap, indentWithTab]),
        graphql(undefined, { onShowInDocs: (field, type, parent) => explorers.get(textarea)?.show(parent || type, field) }),
        theme,
        EditorView.contentAttributes.of({
          "aria-label": label ? label.textContent.trim() : "GraphQL document",
          "aria-describedby": textarea.getAttribute("aria-describedby") || "",
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  textarea.parentNode.insertBefore(view.dom, textarea);
  textarea.hidden = true;
  textarea.dataset.editorMounted = "true";
  view.dom.after(status);
  if (label) label.addEventListener("click", () => view.focus());

  const explorer = textarea.dataset.schemaExplorer ? new Explorer(document.querySelector(textarea.dataset.schemaExplorer), view) : null;
  if (explorer) explorers.set(textarea, explorer);
  const refresh = () => {
    const url = schemaUrl(textarea);
    status.textContent = url ? "Loading the schema…" : "";
    loadSchema(url).then(
      (schema) => {
        updateSchema(view, schema || undefined);
        if (explorer) explorer.setSchema(schema);
        const count = schema ? Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith("__")).length : 0;
        status.textContent = schema ? `Schema loaded (${count} types): completion and checks follow it.` : "";
      },
      () => { status.textContent = "Could not load the schema: highlighting only."; },
    );
  };
  const source = textarea.dataset.schemaSource && document.querySelector(textarea.dataset.schemaSource);
  if (source) source.addEventListener("change", refresh);
  refresh();
  textarea.graphqlEditor = view;
}

const explorers = new WeakMap();

// The schema explorer: root operations, then any type's fields, arguments and types (click a type to
// follow it, Back to return); a search box filters type names. Plain DOM, so links and buttons are
// keyboard-usable as they are.
class Explorer {
  constructor(root, view) {
    this.root = root;
    this.view = view;
    this.schema = null;
    this.trail = [];
  }

  setSchema(schema) {
    this.schema = schema;
    this.trail = [];
    this.render(null);
  }

  show(typeName, fieldName) {
    if (!this.schema) return;
    const named = typeName && this.schema.getType(String(typeName).replace(/[[\]!]/g, ""));
    if (named) { this.trail.push(named.name); this.render(named, fieldName); }
  }

  el(tag, props = {}, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    for (const child of children) node.append(child);
    return node;
  }

  typeLink(type) {
    const named = getNamedType(type);
    const button = this.el("button", { type: "button", className: "gg-link-button", textContent: String(type) });
    button.dataset.type = named.name;
    button.addEventListener("click", () => this.show(named.name));
    return button;
  }

  render(type, highlight) {
    if (!this.root) return;
    this.root.replaceChildren();
    if (!this.schema) { this.root.append(this.el("p", { className: "gg-muted", textContent: "No schema loaded." })); return; }
    const search = this.el("input", { type: "search", placeholder: "Find a type", className: "gg-explorer-search" });
    search.setAttribute("aria-label", "Find a type in the schema");
    const results = this.el("ul", { className: "gg-explorer-list" });
    search.addEventListener("input", () => this.listTypes(results, search.value));
    this.root.append(search);
    if (type) {
      const back = this.el("button", { type: "button", className: "button", textContent: "← Back" });
      back.addEventListener("click", () => { this.trail.pop(); const prev = this.trail[this.trail.length - 1]; this.render(prev ? this.schema.getType(prev) : null); });
      this.root.append(this.el("div", { className: "gg-explorer-head" }, back, this.el("h3", { textContent: `${type.name}` })));
      if (type.description) this.root.append(this.el("p", { className: "gg-muted", textContent: type.description }));
      this.root.append(this.describe(type, highlight));
    } else {
      for (const root of [this.schema.getQueryType(), this.schema.getMutationType(), this.schema.getSubscriptionType()]) {
        if (root) results.append(this.el("li", {}, this.typeLink(root)));
      }
    }
    this.root.append(results);
  }

  listTypes(list, text) {
    list.replaceChildren();
    const needle = text.trim().toLowerCase();
    if (!needle) return;
    const names = Object.keys(this.schema.getTypeMap()).filter((n) => !n.startsWith("__") && n.toLowerCase().includes(needle));
    for (const name of names.slice(0, 50)) list.append(this.el("li", {}, this.typeLink(this.schema.getType(name))));
    if (names.length > 50) list.append(this.el("li", { className: "gg-muted", textContent: `${names.length - 50} more: refine the search.` }));
  }

  describe(type, highlight) {
    const list = this.el("ul", { className: "gg-explorer-fields" });
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        const item = this.el("li", {}, this.el("code", { textContent: field.name }));
        if (field.args && field.args.length) item.append(`(${field.args.map((a) => `${a.name}: ${a.type}`).join(", ")})`);
        item.append(": ", this.typeLink(field.type));
        if (field.description) item.append(this.el("div", { className: "gg-muted", textContent: field.description }));
        if (field.name === highlight) item.className = "gg-explorer-current";
        list.append(item);
      }
    } else if (isUnionType(type)) {
      for (const member of type.getTypes()) list.append(this.el("li", {}, this.typeLink(member)));
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) list.append(this.el("li", {}, this.el("code", { textContent: value.name })));
    } else {
      list.append(this.el("li", { className: "gg-muted", textContent: "A scalar." }));
    }
    return list;
  }
}

document.querySelectorAll("textarea[data-graphql-editor]").forEach(mount);

// The studio's page script (src/web/studio.html). Served from the binary; see src/web/mod.rs.
"use strict";
// Everything shown from the server (names, files, diagnostics, messages, transcripts) is
// built as DOM nodes with textContent: no server text is ever parsed as HTML here, except
// bot messages, which go through telegramHtml's whitelist. The page's own words come from
// the catalogues (assets/i18n/*.json) through I18N.t, once I18N.ready has resolved.
const $ = (id) => document.getElementById(id);
const t = (key, vars) => I18N.t(key, vars);
let current = null;      // the bot id shown
let chat = null;         // the conversation id
const notificationsOf = new Map();  // bot id → its notifications' names
let checkTimer = null;
let saved = "";
let cm = null;           // the CodeMirror editor (made in start())

/** A new element with text and classes. */
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

/** "{n} errors" in the page's language, with its plural form. */
function errorsText(n) {
  let form = "other";
  try { form = new Intl.PluralRules(I18N.lang).select(n); } catch { /* no Intl: "other" */ }
  if (!["one", "few", "many", "other"].includes(form)) form = "other";
  return t(`studio.errors.${form}`, { n });
}

// ----- the access token (a studio started with --allow-remote asks for it) -----
const TOKEN_KEY = "botwright-studio-token";
let token = sessionStorage.getItem(TOKEN_KEY);
async function request(method, url, body) {
  for (;;) {
    const used = token;
    const headers = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (used) headers["authorization"] = `Bearer ${used}`;
    const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (r.status !== 401) return r;
    if (token === used) {
      // Asked once per wrong or missing token; a call that raced with the answer just retries.
      const given = window.prompt(t("studio.token.prompt"));
      if (!given || !given.trim()) throw new Error(t("studio.token.needed"));
      token = given.trim();
      sessionStorage.setItem(TOKEN_KEY, token);
    }
  }
}
async function call(method, url, body) {
  const r = await request(method, url, body);
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error(data.error || String(data));
  return data;
}
function status(text) { $("status").textContent = text; }

// ----- bots -----
async function loadBots() {
  const data = await call("GET", "/api/bots");
  $("dir").textContent = data.dir;
  const items = data.bots.map(b => {
    const li = el("li", b.name || b.id);
    li.dataset.bot = b.id;
    notificationsOf.set(b.id, b.notifications);
    const small = el("small", b.file);
    if (!b.ok) small.append(" · ", el("span", errorsText(b.errors), "bad"));
    li.append(small);
    li.onclick = () => openBot(b.id);
    if (b.id === current) li.classList.add("current");
    return li;
  });
  $("bots").replaceChildren(...items);
  if (!current && data.bots.length) openBot(data.bots[0].id);
}

async function openBot(id) {
  current = id;
  textKeys = [];
  setNotifications(notificationsOf.get(id));
  document.querySelectorAll("#bots li").forEach(li => li.classList.toggle("current", li.dataset.bot === id));
  const f = await call("GET", `/api/files/${encodeURIComponent(id)}.toml`);
  if (current !== id) return;  // another bot was picked meanwhile
  cm.setValue(f.text);
  cm.clearHistory();           // undo stays within this file
  saved = f.text;
  clearTimeout(checkTimer);
  showHelp(null);
  check();
  chat = null;
  $("messages").replaceChildren();
  $("menu").replaceChildren();
  refreshSide();
}

// ----- the editor: CodeMirror over the #editor textarea (kept in step with it) -----
let annotations = [];    // the last check's diagnostics, as the lint addon's annotations
let schema = null;       // the bot file's JSON Schema (GET /api/schema), for completion
let textKeys = [];       // the bot's text keys (GET /api/texts/{bot}), for completion in [texts]

/** A diagnostic's place (1-based line, 1-based column in characters) as CodeMirror's. */
function position(line, column) {
  const last = cm.lastLine();
  if (line - 1 > last) return CodeMirror.Pos(last, cm.getLine(last).length);
  const at = Math.max(0, line - 1);
  const chars = [...cm.getLine(at)];
  const n = Math.max(0, Math.min(chars.length, column - 1));
  return CodeMirror.Pos(at, chars.slice(0, n).join("").length);
}
function annotation(d) {
  let from = position(d.line, d.column);
  let to = position(d.end_line ?? d.line, d.end_column ?? d.column);
  if (CodeMirror.cmpPos(to, from) <= 0) {
    // An empty span: mark the character there, or the last one of its line.
    const length = cm.getLine(from.line).length;
    if (from.ch < length) to = CodeMirror.Pos(from.line, from.ch + 1);
    else if (length > 0) { from = CodeMirror.Pos(from.line, length - 1); to = CodeMirror.Pos(from.line, length); }
    else to = from;
  }
  const help = d.help ? "\n" + t("studio.diagnostic.help", { help: d.help }) : "";
  return {
    from, to,
    severity: d.severity === "warning" ? "warning" : "error",
    message: `${d.code} ${d.message}${help}`,
    diagnostic: d,
  };
}

/** The help panel: what a diagnostic's code means, in the page's language. */
function showHelp(d) {
  const body = $("code-help-body");
  if (!d) { body.replaceChildren(el("p", t("studio.help.empty"))); return; }
  const key = `studio.code.${d.code}`;
  const head = el("div");
  head.append(el("span", d.code, "code-id"), el("span", d.message));
  const kind = el("span", t(d.severity === "warning" ? "studio.help.warning" : "studio.help.error"), "kind");
  const text = el("p", Object.hasOwn(I18N.catalogue, key) ? t(key) : t("studio.help.unknown"));
  body.replaceChildren(head, text, kind);
}
function selectDiagnostic(index, moveCursor) {
  const items = [...$("diagnostics").children];
  items.forEach((li, i) => li.classList.toggle("selected", i === index));
  const a = annotations[index];
  if (!a) return;
  showHelp(a.diagnostic);
  if (moveCursor) {
    cm.focus();
    cm.setCursor(a.from);
    cm.scrollIntoView(a.from, 60);
  }
}

async function check() {
  if (!current || !cm) return;
  const text = cm.getValue();
  const name = `${current}.toml`;
  let data;
  try {
    data = await call("POST", "/api/check", { name, text });
  } catch (e) { status(e.message); return; }
  if (cm.getValue() !== text || `${current}.toml` !== name) return;   // typed meanwhile: a newer check follows
  const items = data.diagnostics.map((d, i) => {
    const li = el("li", undefined, d.severity === "warning" ? "warning" : "error");
    li.append(el("span", d.code, "code-id"), `${d.line}:${d.column} ${d.message}`);
    if (d.help) li.append(el("span", t("studio.diagnostic.help", { help: d.help }), "help"));
    li.title = t("studio.diagnostic.explain", { code: d.code });
    li.tabIndex = 0;
    li.addEventListener("click", () => selectDiagnostic(i, true));
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectDiagnostic(i, true); }
    });
    return li;
  });
  $("diagnostics").replaceChildren(...items);
  annotations = data.diagnostics.map(annotation);
  cm.performLint();
  const errors = data.diagnostics.filter(d => d.severity === "error").length;
  status(data.ok ? t(text === saved ? "studio.status.ok" : "studio.status.unsaved") : errorsText(errors));
}

async function save() {
  if (!current) return;
  const text = cm.getValue();
  try {
    await call("PUT", `/api/files/${encodeURIComponent(current)}.toml`, { text });
    saved = text;
    $("save-status").textContent = t("studio.saved", { name: `${current}.toml` });
    chat = null;
    loadBots();
    check();
  } catch (e) { $("save-status").textContent = e.message; }
}
$("save").onclick = save;

// ----- completion: the bot file's keys from its JSON Schema, text names in [texts] -----
const WORD = /[A-Za-z0-9_-]/;
/** A schema node with its `$ref` followed. */
function deref(node) {
  for (let depth = 0; node && node.$ref && depth < 20; depth++) {
    const name = node.$ref.replace(/^#\/\$defs\//, "");
    node = schema && schema.$defs ? schema.$defs[name] : null;
  }
  return node || null;
}
/** The object schemas a node may stand for (through `$ref`, `anyOf`/`oneOf`/`allOf`, array items). */
function objects(node, depth = 0) {
  node = deref(node);
  if (!node || depth > 8) return [];
  const out = [];
  for (const alt of [...(node.anyOf || []), ...(node.oneOf || []), ...(node.allOf || [])]) out.push(...objects(alt, depth + 1));
  if (node.items) out.push(...objects(node.items, depth + 1));
  if (node.properties || (node.additionalProperties && typeof node.additionalProperties === "object")) out.push(node);
  return out;
}
/** The object schemas of the table at a header path, such as ["keyword"] or ["algorithms", "x"]. */
function tableAt(path) {
  let here = objects(schema);
  for (const part of path) {
    const next = [];
    for (const s of here) {
      if (s.properties && Object.hasOwn(s.properties, part)) next.push(...objects(s.properties[part]));
      else if (s.additionalProperties && typeof s.additionalProperties === "object") next.push(...objects(s.additionalProperties));
    }
    here = next;
  }
  return here;
}
/** Is this property written as a table header: `[name]` (false) or `[[name]]` (true)? null: a plain value. */
function headerKind(node) {
  node = deref(node);
  if (!node) return null;
  if (node.type === "array") return objects(node.items).length ? true : null;
  if (node.type === "object" || node.properties) return false;
  return null;
}
function headerPath(text) {
  return text.split(".").map(p => p.trim().replace(/^["']|["']$/g, "")).filter(p => p !== "");
}
const HEADER = /^\s*\[\[?\s*([^\]#]*?)\s*\]\]?\s*(#.*)?$/;
/** What the cursor is on: a key at a line's start, or a table header's name. */
function completionContext() {
  const cur = cm.getCursor();
  const line = cm.getLine(cur.line);
  const before = line.slice(0, cur.ch);
  let end = cur.ch;
  while (end < line.length && WORD.test(line[end])) end++;
  const after = line.slice(end);
  let m = /^\s*(\[\[?)\s*([A-Za-z0-9_.-]*)$/.exec(before);
  if (m) {
    const typed = m[2];
    const dot = typed.lastIndexOf(".");
    return {
      kind: "header", double: m[1] === "[[", parent: headerPath(typed.slice(0, dot + 1)),
      word: typed.slice(dot + 1), from: CodeMirror.Pos(cur.line, cur.ch - (typed.length - dot - 1)), to: CodeMirror.Pos(cur.line, end),
      closed: /^\s*\]/.test(after),
    };
  }
  m = /^\s*([A-Za-z0-9_-]*)$/.exec(before);
  if (!m) return null;
  // The table the key is in: the nearest header above; the keys it has already.
  let path = [];
  let headerLine = -1;
  for (let l = cur.line - 1; l >= 0; l--) {
    const h = HEADER.exec(cm.getLine(l));
    if (h) { path = headerPath(h[1]); headerLine = l; break; }
  }
  const present = new Set();
  for (let l = headerLine + 1; l <= cm.lastLine(); l++) {
    const text = cm.getLine(l);
    if (l > cur.line && HEADER.test(text)) break;
    const k = /^\s*([A-Za-z0-9_-]+)\s*=/.exec(text);
    if (k && l !== cur.line) present.add(k[1]);
  }
  return {
    kind: "key", path, present, word: m[1],
    from: CodeMirror.Pos(cur.line, cur.ch - m[1].length), to: CodeMirror.Pos(cur.line, end),
    hasValue: /^\s*=/.test(after),
  };
}
/** Candidates → hints: those starting with the typed word first, then those containing it. */
function rank(candidates, word) {
  const w = word.toLowerCase();
  const starts = candidates.filter(c => c.name.toLowerCase().startsWith(w));
  const contains = w.length > 1 ? candidates.filter(c => !c.name.toLowerCase().startsWith(w) && c.name.toLowerCase().includes(w)) : [];
  return [...starts, ...contains];
}
function renderHint(element, data, hint) {
  element.append(el("span", hint.displayText, "hint-name"));
  if (hint.about) {
    const about = el("span", hint.about, "hint-about");
    about.title = hint.about;
    element.append(about);
  }
}
function hints() {
  const ctx = completionContext();
  if (!ctx || !schema) return null;
  let candidates = [];
  if (ctx.kind === "header") {
    for (const s of tableAt(ctx.parent)) {
      for (const [name, node] of Object.entries(s.properties || {})) {
        const kind = headerKind(node);
        if (kind === null || kind !== ctx.double) continue;
        candidates.push({ name, about: node.description || deref(node)?.description || "" });
      }
    }
  } else if (ctx.path.length === 1 && ctx.path[0] === "texts" && textKeys.length) {
    candidates = textKeys.map(k => ({ name: k.name, about: k.about || "" }));
  } else {
    for (const s of tableAt(ctx.path)) {
      for (const [name, node] of Object.entries(s.properties || {})) {
        // A sub-table is written as a header, not as `key = …` (at the top, arrays of tables too).
        const kind = headerKind(node);
        if (kind === false || (kind === true && !ctx.path.length)) continue;
        candidates.push({ name, about: node.description || deref(node)?.description || "" });
      }
    }
  }
  if (ctx.kind === "key") candidates = candidates.filter(c => !ctx.present.has(c.name));
  const seen = new Set();
  candidates = candidates.filter(c => !seen.has(c.name) && seen.add(c.name));
  const close = ctx.double ? "]]" : "]";
  const list = rank(candidates, ctx.word).map(c => ({
    text: ctx.kind === "header" ? c.name + (ctx.closed ? "" : close) : c.name + (ctx.hasValue ? "" : " = "),
    displayText: c.name,
    about: c.about,
    render: renderHint,
  }));
  return { list, from: ctx.from, to: ctx.to };
}

function makeEditor() {
  cm = CodeMirror.fromTextArea($("editor"), {
    mode: "toml",
    lineNumbers: true,
    indentUnit: 2,
    tabSize: 4,
    lineWrapping: false,
    gutters: ["CodeMirror-linenumbers", "CodeMirror-lint-markers"],
    lint: { getAnnotations: () => annotations, lintOnChange: false, tooltips: true },
    hintOptions: { hint: hints, completeSingle: false, closeCharacters: /[\s()\]{};:>,=]/ },
    extraKeys: {
      "Ctrl-Space": "autocomplete",
      "Ctrl-S": () => save(),
      "Cmd-S": () => save(),
    },
  });
  const input = cm.getInputField();
  input.setAttribute("aria-label", t("studio.editor.label"));
  cm.on("changes", () => {
    cm.save();   // the #editor textarea keeps the text too
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 40);
  });
  // Completion opens by itself when a key or a table name starts.
  cm.on("inputRead", (editor, change) => {
    if (editor.state.completionActive || change.origin !== "+input") return;
    const typed = change.text.join("\n");
    if (!/^[A-Za-z_[]$/.test(typed)) return;
    const ctx = completionContext();
    if (ctx && ctx.word.length <= 1) editor.showHint();
  });
  // The cursor on a marked place shows its code's explanation.
  cm.on("cursorActivity", () => {
    const at = cm.findMarksAt(cm.getCursor()).map(m => m.__annotation).filter(Boolean);
    if (!at.length) return;
    const index = annotations.indexOf(at[0]);
    if (index >= 0) selectDiagnostic(index, false);
  });
  call("GET", "/api/schema").then(s => { schema = s; }).catch(e => console.warn("schema:", e.message));
}

// ----- the chat -----
// Telegram's HTML subset, rebuilt element by element from a parsed, inert copy: only
// these tags, no attribute but a link's http(s) or tg href, everything else as text.
const allowed = new Map([
  ["B", "b"], ["STRONG", "b"], ["I", "i"], ["EM", "i"], ["U", "u"], ["INS", "u"],
  ["S", "s"], ["STRIKE", "s"], ["DEL", "s"], ["CODE", "code"], ["PRE", "pre"], ["A", "a"],
  ["BLOCKQUOTE", "blockquote"], ["TG-SPOILER", "span"], ["SPAN", "span"], ["BR", "br"],
]);
function safeHref(href) {
  try {
    const url = new URL(href);
    return ["http:", "https:", "tg:"].includes(url.protocol) ? url.href : null;
  } catch { return null; }
}
function telegramHtml(html) {
  const doc = new DOMParser().parseFromString(`<div>${html.replace(/\n/g, "<br>")}</div>`, "text/html");
  const out = document.createElement("div");
  const copy = (from, to) => {
    for (const n of from.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) to.append(n.textContent);
      else if (n.nodeType === Node.ELEMENT_NODE && n.namespaceURI === "http://www.w3.org/1999/xhtml" && allowed.has(n.tagName)) {
        const e = document.createElement(allowed.get(n.tagName));
        if (n.tagName === "TG-SPOILER" || (n.tagName === "SPAN" && n.getAttribute("class") === "tg-spoiler")) e.className = "tg-spoiler";
        if (n.tagName === "A") {
          const href = safeHref(n.getAttribute("href") || "");
          if (href) { e.setAttribute("href", href); e.setAttribute("target", "_blank"); e.setAttribute("rel", "noopener noreferrer"); }
        }
        copy(n, e);
        to.append(e);
      } else if (n.nodeType === Node.ELEMENT_NODE) copy(n, to);
    }
  };
  if (doc.body.firstChild) copy(doc.body.firstChild, out);
  return out;
}
function bubble(cls, node) { const b = el("div", undefined, `bubble ${cls}`); b.append(node); $("messages").append(b); $("messages").scrollTop = 1e9; return b; }
function showMessages(messages, user) {
  for (const m of messages) {
    const mine = m.to === user.id;
    const body = m.text ? telegramHtml(m.text) : document.createElement("div");
    const b = bubble(mine ? "bot" : "bot other", body);
    if (!mine) b.prepend(el("span", t("studio.chat.to", { id: m.to }), "to"));
    for (const f of m.files) b.append(el("span", t("studio.chat.file", { name: f }), "file"));
    for (const row of m.buttons) {
      const r = el("div", undefined, "ib-row");
      for (const label of row) {
        if (m.links && Object.hasOwn(m.links, label)) {
          const link = m.links[label];
          const a = el("a", label, "ib");
          const href = safeHref(link);
          if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; }
          r.append(a);
          continue;
        }
        const btn = el("button", label, "ib");
        if (mine) btn.onclick = () => act({ press: { label, index: m.index } }, `[${label}]`);
        else btn.disabled = true;
        r.append(btn);
      }
      b.append(r);
    }
    if (mine && (m.menu.length || m.removes_menu)) setMenu(m.menu);
  }
}
function setMenu(rows) {
  $("menu").replaceChildren(...rows.map(row => {
    const r = el("div", undefined, "kb-row");
    for (const label of row) { const b = el("button", label); b.onclick = () => act({ text: label }, label); r.append(b); }
    return r;
  }));
}
async function ensureChat() {
  if (chat) return;
  const data = await call("POST", "/api/chats", { bot: current });
  chat = data.id;
  setNotifications(data.notifications);
  $("who").textContent = `${data.user.id} ${data.user.name}`;
  $("chat-status").textContent = t("studio.chat.clock", { now: data.now });
}
async function act(body, mine) {
  try {
    await ensureChat();
    const data = await call("POST", `/api/chats/${encodeURIComponent(chat)}`, body);
    if (mine) bubble("me", document.createTextNode(mine));
    $("who").textContent = `${data.user.id} ${data.user.name}`;
    showMessages(data.messages, data.user);
    return data;
  } catch (e) { $("chat-status").textContent = e.message; }
}
function sendInput() {
  const text = $("chat-input").value;
  if (!text.trim()) return;
  $("chat-input").value = "";
  if (text.startsWith("@")) act({ attach: text }, text); else act({ text }, text);
}
$("send").onclick = sendInput;
$("chat-input").addEventListener("keydown", (e) => { if (e.key === "Enter") sendInput(); });
$("switch").onclick = () => act({ user: { id: Number($("user-id").value), name: $("user-name").value } });
$("register").onclick = () => act({ registered: { kind: $("reg-kind").value, id: $("reg-id").value, name: $("reg-name").value } }).then(() => $("chat-status").textContent = t("studio.chat.registered-done"));
$("stub").onclick = () => act({ stub: { algorithm: $("stub-name").value, value: $("stub-value").value } }).then(() => $("chat-status").textContent = t("studio.chat.stubbed", { name: $("stub-name").value }));
let notifyFields = new Map();  // notification name → the data fields it uses
function setNotifications(list) {
  const keep = $("notify-name").value;
  notifyFields = new Map((list || []).map(n => [n.name, n.fields]));
  $("notify-name").replaceChildren(...(list || []).map(n => { const o = el("option", n.name); o.value = n.name; return o; }));
  if (notifyFields.has(keep)) $("notify-name").value = keep;
  else fillData();
}
// The data field starts as an object with the fields the notification uses.
function fillData() {
  const fields = notifyFields.get($("notify-name").value) || [];
  $("notify-data").value = JSON.stringify(Object.fromEntries(fields.map(f => [f, ""])));
}
$("notify-name").onchange = fillData;
$("notify").onclick = () => {
  const name = $("notify-name").value;
  if (!name) { $("chat-status").textContent = t("studio.chat.no-notifications"); return; }
  act({ notify: { name, data: $("notify-data").value } }, `@notify ${name}`);
};
$("business-send").onclick = () => {
  const text = $("business-text").value;
  if (!text.trim()) return;
  act({ send: text }, `@send ${text}`).then(data => { if (data) $("business-text").value = ""; });
};
$("restart").onclick = () => { chat = null; $("messages").replaceChildren(); $("menu").replaceChildren(); $("chat-status").textContent = ""; };
$("save-transcript").onclick = async () => {
  try {
    await ensureChat();
    const data = await call("POST", `/api/chats/${encodeURIComponent(chat)}/save`, { name: $("transcript-name").value || current });
    $("chat-status").textContent = t("studio.saved", { name: data.saved });
  } catch (e) { $("chat-status").textContent = e.message; }
};

// ----- transcripts, graph, texts -----
$("run-tests").onclick = async () => {
  try {
    const data = await call("GET", "/api/transcripts");
    $("tests-summary").textContent = t("studio.tests.summary", { passed: data.passed, failed: data.failed });
    $("test-results").replaceChildren(...data.results.map(r => {
      const li = el("li");
      if (r.ok) li.append(el("span", t("studio.tests.ok"), "pass"), ` ${r.file}`);
      else li.append(el("span", t("studio.tests.failed"), "fail"), ` ${r.file}:${r.line}`, el("pre", r.message, "diff"));
      return li;
    }));
  } catch (e) { $("tests-summary").textContent = e.message; }
};
async function showGraph(bot) {
  // Fetched (with the token when one is needed) and shown from a blob: an <img> runs no script.
  try {
    const r = await request("GET", `/api/graph/${encodeURIComponent(bot)}`);
    if (!r.ok) throw new Error(r.statusText);
    const img = el("img");
    img.alt = t("studio.graph.alt", { bot });
    img.src = URL.createObjectURL(await r.blob());
    img.onload = () => URL.revokeObjectURL(img.src);
    $("graph").replaceChildren(img);
  } catch {
    $("graph").replaceChildren(el("p", t("studio.graph.errors"), "error"));
  }
}
async function refreshSide() {
  showGraph(current);
  try {
    const data = await call("GET", `/api/texts/${encodeURIComponent(current)}`);
    textKeys = data.texts.map(x => ({ name: x.key, about: x.about }));
    const table = el("table");
    const head = el("tr");
    head.append(el("th", t("studio.texts.key")), el("th", t("studio.texts.default")), el("th", t("studio.texts.override")));
    table.append(head);
    for (const t of data.texts) {
      const tr = el("tr");
      const key = el("td");
      key.title = t.about;
      key.append(el("code", t.key));
      tr.append(key, el("td", t.default), el("td", t.override || "", "over"));
      table.append(tr);
    }
    $("texts").replaceChildren(table);
  } catch (e) { $("texts").textContent = e.message; }
}
document.querySelectorAll("nav .tab").forEach(tab => tab.onclick = () => {
  document.querySelectorAll("nav .tab").forEach(x => x.classList.toggle("current", x === tab));
  document.querySelectorAll("main section").forEach(s => s.classList.toggle("current", s.id === tab.dataset.tab));
  if (tab.dataset.tab === "graph" || tab.dataset.tab === "texts") refreshSide();
  if (tab.dataset.tab === "edit" && cm) cm.refresh();  // it was hidden: measure again
});

// ----- start: once the page's language is loaded -----
function start() {
  $("lang").append(I18N.switcher());
  makeEditor();
  status(t("common.loading"));
  loadBots().catch(e => status(e.message));
}
I18N.ready.catch(e => console.error("i18n:", e)).then(start);

// The operators' console (src/web/console.html), served by `botwright run --listen`
// at /console/; see src/web/mod.rs and api.md "Operators and the console".
"use strict";
// Everything from the server (names, texts, ids, data) is put in the page as text
// (textContent / createTextNode), never parsed as HTML. Every word of the page itself
// comes from the catalogues (I18N.t, keys "console.*" and "common.*").
(function () {
  const TOKEN_KEY = "botwright.console.token";
  const SVG = "http://www.w3.org/2000/svg";
  const PAGE_SIZE = 50;
  const PAGES = ["overview", "users", "requests", "messages", "broadcasts", "insights", "audit", "operators"];
  const MESSAGE_STATUSES = ["scheduled", "queued", "sent", "blocked", "failed", "cancelled"];
  const REQUEST_STATUSES = ["pending", "approved", "rejected"];
  const ROLES = ["viewer", "operator", "admin"];

  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => I18N.t(key, vars);

  let token = null;
  let me = null;          // {name, role}
  let bots = [];          // from GET /api/v1/bots
  let bot = null;         // the bot shown
  let page = "overview";
  let shown = 0;          // bumps on each page change: late answers for an old page are dropped

  try { token = localStorage.getItem(TOKEN_KEY); } catch (e) { /* storage may be off */ }

  // ----- small builders -----

  /** An element: props are attributes (on* are listeners; text, class, dataset special). */
  function h(tag, props, ...kids) {
    const e = document.createElement(tag);
    setProps(e, props);
    append(e, kids);
    return e;
  }
  function s(tag, props, ...kids) {
    const e = document.createElementNS(SVG, tag);
    setProps(e, props);
    append(e, kids);
    return e;
  }
  function setProps(e, props) {
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = String(v);
      else if (k === "class") e.setAttribute("class", v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k === "value" && "value" in e) e.value = String(v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  function append(e, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid === undefined || kid === null || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
  }
  /** A visible label around a control. */
  function field(labelKey, control, cls) {
    return h("label", { class: "field" + (cls ? " " + cls : "") }, h("span", { text: t(labelKey) }), control);
  }
  function select(options, value, props) {
    const sel = h("select", props || {});
    for (const [v, label] of options) sel.append(h("option", { value: v, text: label }));
    if (value !== undefined) sel.value = value;
    return sel;
  }
  function button(labelKey, onclick, cls, props) {
    return h("button", Object.assign({ type: "button", class: cls || "", text: t(labelKey), onclick }, props || {}));
  }
  function table(headKeys, rows, numeric) {
    const head = h("tr", {}, headKeys.map((k, i) => h("th", { scope: "col", class: numeric && numeric.includes(i) ? "num" : "", text: t(k) })));
    return h("table", {}, h("thead", {}, head), h("tbody", {}, rows));
  }
  function td(value, cls) { return h("td", { class: cls || "" }, value === null || value === undefined ? "" : value); }
  function num(n) { return new Intl.NumberFormat(I18N.lang).format(Number(n) || 0); }
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return new Intl.DateTimeFormat(I18N.lang, { dateStyle: "short", timeStyle: "short" }).format(d);
  }
  function dataText(v) {
    if (v === null || v === undefined) return "";
    return typeof v === "string" ? v : JSON.stringify(v, null, 1);
  }
  function statusWord(kind, status) {
    return h("span", { class: "status " + status, text: t("console." + kind + "." + status) });
  }
  function empty(key) { return h("p", { class: "muted", text: t(key) }); }
  /** A datetime-local value as RFC 3339 with the browser's offset. */
  function rfc3339(local) {
    const d = new Date(local);
    if (isNaN(d)) return null;
    const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
    const off = -d.getTimezoneOffset();
    const sign = off >= 0 ? "+" : "-";
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
      `${sign}${pad(off / 60)}:${pad(off % 60)}`;
  }
  const canWrite = () => me && (me.role === "operator" || me.role === "admin");
  const isAdmin = () => me && me.role === "admin";
  const kindsOf = (b) => (b && Array.isArray(b.kinds) ? b.kinds : []);
  const path = (...parts) => parts.map((p) => encodeURIComponent(String(p))).join("/");
  const botPath = (...rest) => "/bots/" + path(bot.id, ...rest);

  // ----- the API -----

  class ApiError extends Error {
    constructor(status, message, code) { super(message); this.status = status; this.code = code; }
  }
  async function api(method, url, body, withToken) {
    const headers = { authorization: "Bearer " + (withToken || token) };
    if (body !== undefined) headers["content-type"] = "application/json";
    let answer;
    try {
      answer = await fetch("/api/v1" + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, t("console.error.network"));
    }
    let data = null;
    const type = answer.headers.get("content-type") || "";
    if (answer.status !== 204) {
      try { data = type.includes("json") ? await answer.json() : await answer.text(); } catch (e) { data = null; }
    }
    if (answer.ok) return data;
    const err = data && data.error;
    let message = err && err.message ? err.message : (typeof data === "string" && data ? data : t("console.error.status", { status: answer.status }));
    if (err && err.field) message = t("console.error.field", { field: err.field, message });
    if (answer.status === 403) message = t("console.error.forbidden", { message });
    const failure = new ApiError(answer.status, message, err && err.code);
    if (answer.status === 401 && !withToken) {
      signOut(t("console.signin.expired"));
    }
    throw failure;
  }
  function errorText(e) { return t("common.error", { message: e && e.message ? e.message : String(e) }); }
  function say(node, text, cls) {
    node.textContent = text || "";
    node.className = "notice " + (cls || "");
  }
  function notice(text, cls) { say($("notice"), text, cls); }
  function fail(node) { return (e) => { if (!(e instanceof ApiError && e.status === 401)) say(node, errorText(e), "error"); }; }

  // ----- sign-in -----

  function showSignIn(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    $("signin-lang").replaceChildren(I18N.switcher());
    say($("signin-error"), message || "", "error");
    $("token").value = "";
    $("token").focus();
  }
  function signOut(message) {
    token = null;
    me = null;
    try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage may be off */ }
    showSignIn(message);
  }
  $("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    const given = $("token").value.trim();
    if (!given) { say($("signin-error"), t("console.signin.empty"), "error"); return; }
    $("sign-in").disabled = true;
    try {
      me = await api("GET", "/me", undefined, given);
      token = given;
      try { localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage may be off */ }
      await start();
    } catch (e) {
      say($("signin-error"), e.status === 401 ? t("console.signin.wrong") : errorText(e), "error");
    } finally {
      $("sign-in").disabled = false;
    }
  });
  $("sign-out").addEventListener("click", () => signOut(""));

  // ----- the frame: header, bot picker, navigation -----

  async function start() {
    if (!me) me = await api("GET", "/me");
    bots = await api("GET", "/bots");
    $("signin").hidden = true;
    $("app").hidden = false;
    $("me").textContent = t("console.me", { name: me.name, role: t("console.role." + me.role) });
    $("lang").replaceChildren(I18N.switcher());
    let remembered = null;
    try { remembered = localStorage.getItem("botwright.console.bot"); } catch (e) { /* storage may be off */ }
    bot = bots.find((b) => b.id === remembered) || bots[0] || null;
    drawBotChoice();
    document.querySelector('nav#pages [data-page="operators"]').hidden = !isAdmin();
    const wanted = location.hash.slice(1);
    go(PAGES.includes(wanted) && (wanted !== "operators" || isAdmin()) ? wanted : "overview");
  }
  function drawBotChoice() {
    const place = $("bot-choice");
    if (bots.length > 1) {
      const sel = select(bots.map((b) => [b.id, b.name ? `${b.name} (${b.id})` : b.id]), bot.id, { id: "bot" });
      sel.addEventListener("change", () => {
        bot = bots.find((b) => b.id === sel.value);
        try { localStorage.setItem("botwright.console.bot", bot.id); } catch (e) { /* storage may be off */ }
        go(page);
      });
      place.replaceChildren(h("label", { class: "choice" }, h("span", { text: t("console.bot") }), sel));
    } else if (bot) {
      place.replaceChildren(h("span", { class: "muted", text: t("console.botNamed", { name: bot.name || bot.id }) }));
    } else {
      place.replaceChildren();
    }
  }
  for (const b of document.querySelectorAll("nav#pages button")) b.addEventListener("click", () => go(b.dataset.page));

  function go(name) {
    page = name;
    shown++;
    notice("");
    for (const b of document.querySelectorAll("nav#pages button")) {
      if (b.dataset.page === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
    }
    if (location.hash.slice(1) !== name) history.replaceState(null, "", "#" + name);
    const root = $("page");
    root.replaceChildren(h("h2", { text: t("console.nav." + name) }), h("p", { class: "muted", text: t("common.loading") }));
    const needsBot = !["audit", "operators", "overview"].includes(name);
    $("bot-choice").hidden = !needsBot;
    if (needsBot && !bot) { root.replaceChildren(h("h2", { text: t("console.nav." + name) }), empty("console.noBots")); return; }
    const draw = { overview, users, requests, messages, broadcasts, insights, audit, operators }[name];
    const ticket = shown;
    const still = () => ticket === shown;
    draw(root, still).catch((e) => { if (still()) fail($("notice"))(e); });
  }
  /** The page's heading, then its parts. */
  function fill(root, ...parts) { root.replaceChildren(h("h2", { text: t("console.nav." + page) }), ...parts); }

  // ----- charts (inline SVG) -----

  /** Vertical bars: items [{label, value, tip}], some labels shown below. */
  function columnChart(items, aria, opts) {
    const o = Object.assign({ width: 720, height: 200, labelEvery: 1 }, opts || {});
    const left = 36, right = 8, top = 10, bottom = 24;
    const w = o.width - left - right, hgt = o.height - top - bottom;
    const max = Math.max(1, ...items.map((i) => i.value));
    const svg = s("svg", { class: "chart", width: o.width, height: o.height, viewBox: `0 0 ${o.width} ${o.height}`, role: "img", "aria-label": aria });
    svg.append(s("title", { text: aria }));
    const ticks = niceTicks(max);
    const top_ = ticks[ticks.length - 1];
    for (const v of ticks) {
      const y = top + hgt - (v / top_) * hgt;
      svg.append(s("line", { class: "grid", x1: left, x2: left + w, y1: y, y2: y }));
      svg.append(s("text", { x: left - 4, y: y + 4, "text-anchor": "end", text: num(v) }));
    }
    const step = w / Math.max(1, items.length);
    const barW = Math.max(1, step * 0.8);
    items.forEach((item, i) => {
      const bh = (item.value / top_) * hgt;
      const x = left + i * step + (step - barW) / 2;
      const bar = s("rect", { class: "bar", x: x.toFixed(2), y: (top + hgt - bh).toFixed(2), width: barW.toFixed(2), height: Math.max(0, bh).toFixed(2) });
      bar.append(s("title", { text: item.tip }));
      svg.append(bar);
      if (i % o.labelEvery === 0) {
        svg.append(s("text", { x: (left + i * step + step / 2).toFixed(2), y: top + hgt + 15, "text-anchor": "middle", text: item.label }));
      }
    });
    svg.append(s("line", { class: "axis", x1: left, x2: left + w, y1: top + hgt, y2: top + hgt }));
    return svg;
  }
  /** Horizontal bars: items [{label, value, tip}], one row each with its label and value. */
  function barChart(items, aria) {
    const width = 900, rowH = 24, labelW = 260, valueW = 60;
    const height = Math.max(1, items.length) * rowH + 4;
    const max = Math.max(1, ...items.map((i) => i.value));
    const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": aria });
    svg.append(s("title", { text: aria }));
    items.forEach((item, i) => {
      const y = i * rowH + 2;
      const label = item.label.length > 34 ? item.label.slice(0, 33) + "…" : item.label;
      svg.append(s("text", { x: labelW - 6, y: y + 16, "text-anchor": "end", text: label }, s("title", { text: item.label })));
      const bw = ((width - labelW - valueW) * item.value) / max;
      const bar = s("rect", { class: item.cls ? "bar " + item.cls : "bar", x: labelW, y: y + 3, width: Math.max(item.value ? 2 : 0, bw).toFixed(2), height: rowH - 6, rx: 2 });
      bar.append(s("title", { text: item.tip }));
      svg.append(bar);
      svg.append(s("text", { class: "value", x: labelW + bw + 6, y: y + 16, text: num(item.value) }));
    });
    return svg;
  }
  function niceTicks(max) {
    const raw = max / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const stepBase = [1, 2, 5, 10].find((m) => m * mag >= raw) * mag;
    const step = Math.max(1, stepBase);
    const out = [];
    for (let v = 0; v < max + step; v += step) { out.push(v); if (v >= max) break; }
    return out;
  }
  /** Hour slots from `from` to `to` (ms), filled from an `hourly` list. */
  function hourSlots(hourly, from, to) {
    const HOUR = 3600e3;
    const byHour = new Map((hourly || []).map((x) => [Math.floor(Date.parse(x.hour) / HOUR), x]));
    const out = [];
    for (let hr = Math.floor(from / HOUR); hr <= Math.floor((to - 1) / HOUR); hr++) {
      const x = byHour.get(hr) || { updates: 0, users: 0 };
      out.push({ at: new Date(hr * HOUR), updates: Number(x.updates) || 0, users: Number(x.users) || 0 });
    }
    return out;
  }
  function hourlyChart(slots, aria, width) {
    const hourFmt = new Intl.DateTimeFormat(I18N.lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const fullFmt = new Intl.DateTimeFormat(I18N.lang, { dateStyle: "short", timeStyle: "short" });
    const dayFmt = new Intl.DateTimeFormat(I18N.lang, { day: "numeric", month: "short" });
    const long = slots.length > 48;
    const everyDay = slots.length > 24 * 14 ? 3 : 1;
    let day = 0;
    const items = slots.map((x, i) => {
      let label = "";
      if (long) {
        if (x.at.getHours() === 0) { if (day % everyDay === 0) label = dayFmt.format(x.at); day++; }
      } else if (i % 2 === 0) {
        label = hourFmt.format(x.at);
      }
      return {
        label,
        value: x.updates,
        tip: t("console.chart.hourTip", { hour: fullFmt.format(x.at), updates: num(x.updates), users: num(x.users) }),
      };
    });
    return columnChart(items, aria, { labelEvery: 1, width: width || 1000, height: 220 });
  }

  // ----- Overview -----

  async function overview(root, still) {
    if (!bots.length) { fill(root, empty("console.noBots")); return; }
    const cards = h("div", { class: "cards" });
    fill(root, cards);
    const now = Date.now();
    const HOUR = 3600e3;
    for (const b of bots) {
      const card = h("section", { class: "card", "aria-label": b.name || b.id }, h("h3", { text: b.name ? `${b.name} (${b.id})` : b.id }), h("p", { class: "muted", text: t("common.loading") }));
      cards.append(card);
      api("GET", "/bots/" + path(b.id, "overview")).then((o) => {
        if (!still()) return;
        const stat = (key, value, bad) => h("div", { class: bad && value > 0 ? "bad" : "" }, h("dt", { text: t(key) }), h("dd", { text: num(value) }));
        const today = o.today || {}, msgs = o.messages || {};
        const end = (Math.floor(now / HOUR) + 1) * HOUR;
        const slots = hourSlots(o.hourly, end - 24 * HOUR, end);
        card.replaceChildren(
          card.firstChild,
          h("dl", { class: "stats" },
            stat("console.overview.updates", today.updates),
            stat("console.overview.users", today.users),
            stat("console.overview.failures", today.algorithm_failures, true),
            stat("console.overview.scheduled", msgs.scheduled),
            stat("console.overview.queued", msgs.queued),
            stat("console.overview.failed", msgs.failed, true)),
          h("h4", { class: "muted", text: t("console.overview.chart") }),
          hourlyChart(slots, t("console.overview.chartLabel", { bot: b.name || b.id }), 560));
      }).catch((e) => { if (still()) card.replaceChildren(card.firstChild, h("p", { class: "error", text: errorText(e) })); });
    }
  }

  // ----- principal inputs -----

  /** A kind control: a select of the bot's kinds, or a text input when it has none. */
  function kindControl(value, props) {
    const kinds = kindsOf(bot);
    if (kinds.length) {
      const opts = kinds.map((k) => [k, k]);
      if (value && !kinds.includes(value)) opts.push([value, value]);
      return select(opts, value || kinds[0], props);
    }
    return h("input", Object.assign({ size: 12, value: value || "" }, props || {}));
  }

  // ----- Users -----

  async function users(root, still) {
    let q = "";
    let pages = [null];   // the `after` of each page seen
    const list = h("div");
    const out = h("div", { class: "notice", role: "status" });
    const search = h("input", { type: "search", id: "users-q", size: 30 });
    const searchForm = h("form", { class: "row", role: "search", onsubmit: (e) => { e.preventDefault(); q = search.value.trim(); pages = [null]; load(); } },
      field("console.users.search", search), h("button", { type: "submit", text: t("console.users.find") }));

    // The register / change form.
    let form = null;
    const key = h("input", { id: "user-key", size: 14, inputmode: "numeric", required: true });
    let kind = kindControl("", { id: "user-kind" });
    const pid = h("input", { id: "user-id", size: 12, required: true });
    const pname = h("input", { id: "user-name", size: 20 });
    const formOut = h("div", { class: "notice", role: "status" });
    if (canWrite()) {
      form = h("form", { class: "panel", onsubmit: async (e) => {
        e.preventDefault();
        const k = key.value.trim();
        if (!/^-?\d+$/.test(k)) { say(formOut, t("console.users.keyNeeded"), "error"); key.focus(); return; }
        if (!kind.value.trim() || !pid.value.trim()) { say(formOut, t("console.users.principalNeeded"), "error"); return; }
        try {
          await api("PUT", botPath("users", k), { principal: { kind: kind.value.trim(), id: pid.value.trim(), name: pname.value.trim() || null } });
          say(formOut, t("console.users.saved", { key: k }), "ok");
          load();
        } catch (err) { fail(formOut)(err); }
      } },
      h("h3", { text: t("console.users.register") }),
      h("p", { class: "muted", text: t("console.users.registerHelp") }),
      h("div", { class: "row" },
        field("console.users.key", key), field("console.principal.kind", kind), field("console.principal.id", pid), field("console.principal.name", pname),
        h("button", { type: "submit", class: "act", id: "user-save", text: t("console.users.save") })),
      formOut);
    }

    async function load() {
      const after = pages[pages.length - 1];
      const params = new URLSearchParams({ limit: PAGE_SIZE });
      if (q) params.set("q", q);
      if (after !== null) params.set("after", after);
      list.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
      let rows;
      try { rows = await api("GET", botPath("users") + "?" + params); } catch (e) { if (still()) { list.replaceChildren(); fail(out)(e); } return; }
      if (!still()) return;
      say(out, "");
      const tr = rows.map((u) => {
        const p = u.principal || {};
        const actions = h("div", { class: "actions" });
        const row = h("tr", { dataset: { user: u.key } }, td(String(u.key)), td(u.name), td(p.kind), td(p.id), td(p.name), td(when(u.registered_at)));
        if (canWrite()) {
          actions.append(
            button("console.users.change", () => {
              key.value = u.key; pid.value = p.id || ""; pname.value = p.name || "";
              const fresh = kindControl(p.kind, { id: "user-kind" });
              kind.replaceWith(fresh); kind = fresh;
              say(formOut, t("console.users.changing", { key: u.key }));
              form.scrollIntoView({ block: "nearest" });
              pid.focus();
            }, "change", { "aria-label": t("console.users.changeOne", { key: u.key }) }),
            button("console.users.remove", async () => {
              if (!window.confirm(t("console.users.confirmRemove", { key: u.key, name: p.name || u.name || "" }))) return;
              try { await api("DELETE", botPath("users", u.key)); say(out, t("console.users.removed", { key: u.key }), "ok"); load(); } catch (err) { fail(out)(err); }
            }, "danger remove", { "aria-label": t("console.users.removeOne", { key: u.key }) }));
          row.append(h("td", {}, actions));
        }
        return row;
      });
      const heads = ["console.users.key", "console.users.chatName", "console.principal.kind", "console.principal.id", "console.principal.name", "console.users.registeredAt"];
      if (canWrite()) heads.push("console.actions");
      list.replaceChildren(rows.length ? table(heads, tr) : empty(q ? "console.users.noneFound" : "console.users.none"),
        pager(pages.length > 1, rows.length === PAGE_SIZE,
          () => { pages.pop(); load(); },
          () => { pages.push(rows[rows.length - 1].key); load(); }, pages.length));
    }
    fill(root, searchForm, out, list, form);
    await load();
  }

  /** Previous / next buttons. */
  function pager(hasPrev, hasNext, prev, next, number) {
    const p = h("div", { class: "pager" });
    if (hasPrev) p.append(button("console.pager.previous", prev));
    if (hasPrev || hasNext) p.append(h("span", { class: "muted", text: t("console.pager.page", { page: number }) }));
    if (hasNext) p.append(button("console.pager.next", next));
    return p;
  }
  /** Newest-first paging: "newest" and "older" buttons. */
  function olderPager(atStart, hasOlder, newest, older) {
    const p = h("div", { class: "pager" });
    if (!atStart) p.append(button("console.pager.newest", newest));
    if (hasOlder) p.append(button("console.pager.older", older));
    return p;
  }

  // ----- Requests -----

  async function requests(root, still) {
    let status = "pending";
    let pages = [null];
    const list = h("div");
    const out = h("div", { class: "notice", role: "status" });
    const filter = select(REQUEST_STATUSES.map((x) => [x, t("console.requestStatus." + x)]), status, { id: "requests-status" });
    filter.addEventListener("change", () => { status = filter.value; pages = [null]; load(); });
    const bar = h("div", { class: "row" }, field("console.requests.show", filter), button("console.refresh", () => load()));

    function decide(r, row, statusCell, actionsCell) {
      const note = h("div", { class: "notice", role: "status" });
      const kinds = kindsOf(bot);
      const kind = kindControl("", { class: "kind", "aria-label": t("console.requests.kindOf", { id: r.id }) });
      const pid = h("input", { class: "principal-id", size: 10, placeholder: String(r.key), "aria-label": t("console.requests.idOf", { id: r.id }) });
      const pname = h("input", { class: "principal-name", size: 14, placeholder: typeof r.data === "string" ? r.data : "", "aria-label": t("console.requests.nameOf", { id: r.id }) });
      if (!kinds.length) kind.placeholder = t("console.requests.defaultKind");
      const reason = h("input", { class: "reason", size: 18, "aria-label": t("console.requests.reasonOf", { id: r.id }) });
      const done = (answer) => {
        const st = answer && answer.status ? answer.status : "";
        statusCell.replaceChildren(statusWord("requestStatus", st));
        actionsCell.replaceChildren(h("span", { class: "muted", text: t("console.requests.decided", { status: t("console.requestStatus." + st) }) }));
        row.dataset.status = st;
      };
      const busy = (on) => { for (const c of actionsCell.querySelectorAll("button, input, select")) c.disabled = on; };
      const approve = h("button", { type: "button", class: "act approve", text: t("console.requests.approve"), "aria-label": t("console.requests.approveOne", { id: r.id }), onclick: async () => {
        const principal = {};
        if (kind.value.trim()) principal.kind = kind.value.trim();
        if (pid.value.trim()) principal.id = pid.value.trim();
        if (pname.value.trim()) principal.name = pname.value.trim();
        busy(true);
        try { done(await api("POST", botPath("auth-requests", r.id, "approve"), { principal })); } catch (e) { busy(false); fail(note)(e); }
      } });
      const reject = h("button", { type: "button", class: "danger reject", text: t("console.requests.reject"), "aria-label": t("console.requests.rejectOne", { id: r.id }), onclick: async () => {
        if (!reason.value.trim()) { say(note, t("console.requests.reasonNeeded"), "error"); reason.focus(); return; }
        busy(true);
        try { done(await api("POST", botPath("auth-requests", r.id, "reject"), { reason: reason.value.trim() })); } catch (e) { busy(false); fail(note)(e); }
      } });
      actionsCell.replaceChildren(
        h("div", { class: "actions" },
          field("console.principal.kind", kind), field("console.principal.id", pid), field("console.principal.name", pname), approve),
        h("div", { class: "actions" }, field("console.requests.reason", reason), reject),
        note);
    }

    async function load() {
      const after = pages[pages.length - 1];
      const params = new URLSearchParams({ status, limit: PAGE_SIZE });
      if (after !== null) params.set("after", after);
      list.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
      let rows;
      try { rows = await api("GET", botPath("auth-requests") + "?" + params); } catch (e) { if (still()) { list.replaceChildren(); fail(out)(e); } return; }
      if (!still()) return;
      say(out, "");
      const writable = canWrite();
      const tr = rows.map((r) => {
        const statusCell = h("td", {}, statusWord("requestStatus", r.status));
        const row = h("tr", { dataset: { request: r.id, status: r.status } },
          td(String(r.id)), td(when(r.created_at)), td(String(r.key)), td(r.name), td(h("pre", { text: dataText(r.data) })), statusCell);
        if (writable) {
          const actionsCell = h("td");
          if (r.status === "pending") decide(r, row, statusCell, actionsCell);
          row.append(actionsCell);
        }
        return row;
      });
      const heads = ["console.requests.id", "console.requests.created", "console.requests.key", "console.requests.name", "console.requests.data", "console.requests.status"];
      if (writable) heads.push("console.actions");
      list.replaceChildren(rows.length ? table(heads, tr) : empty("console.requests.none"),
        pager(pages.length > 1, rows.length === PAGE_SIZE, () => { pages.pop(); load(); }, () => { pages.push(rows[rows.length - 1].id); load(); }, pages.length));
    }
    fill(root, bar, out, list);
    await load();
  }

  // ----- composing: content (text or notification) and time -----

  /** The content part of a message or broadcast form: text or a notification with its fields. */
  function contentPart(prefix) {
    const notifications = bot && Array.isArray(bot.notifications) ? bot.notifications : [];
    const text = h("textarea", { id: prefix + "-text", rows: 4 });
    const mode = { value: "text" };
    const textBox = h("div", {}, field("console.compose.text", text, "wide"), h("p", { class: "muted", text: t("console.compose.textHelp") }));
    const tplBox = h("div", { hidden: true });
    let fields = [];
    const tpl = select(notifications.map((n) => [n.name, n.name]), undefined, { id: prefix + "-template" });
    const fieldBox = h("div", { class: "row" });
    const drawFields = () => {
      const n = notifications.find((x) => x.name === tpl.value);
      fields = (n ? n.fields : []).map((f) => [f, h("input", { size: 16, dataset: { field: f } })]);
      fieldBox.replaceChildren(...fields.map(([f, input]) => h("label", { class: "field" }, h("span", { text: t("console.compose.dataField", { field: f }) }), input)));
      if (!fields.length) fieldBox.append(h("span", { class: "muted", text: t("console.compose.noFields") }));
    };
    tpl.addEventListener("change", drawFields);
    if (notifications.length) drawFields();
    tplBox.append(h("div", { class: "row" }, field("console.compose.notification", tpl)), fieldBox);
    const radios = h("div", { role: "radiogroup", "aria-label": t("console.compose.what") });
    for (const [v, key] of [["text", "console.compose.byText"], ["template", "console.compose.byNotification"]]) {
      if (v === "template" && !notifications.length) continue;
      const r = h("input", { type: "radio", name: prefix + "-content", value: v, checked: v === "text" });
      r.addEventListener("change", () => { mode.value = v; textBox.hidden = v !== "text"; tplBox.hidden = v !== "template"; });
      radios.append(h("label", { class: "choice" }, r, t(key)));
    }
    const node = h("fieldset", {}, h("legend", { text: t("console.compose.what") }), notifications.length ? radios : null, textBox, tplBox);
    return {
      node,
      /** The body's content fields, or throws an Error with a message for the user. */
      value() {
        if (mode.value === "template") {
          const data = {};
          for (const [f, input] of fields) data[f] = input.value;
          return { template: tpl.value, data };
        }
        if (!text.value.trim()) throw new Error(t("console.compose.textNeeded"));
        return { text: text.value };
      },
      clear() { text.value = ""; for (const [, input] of fields) input.value = ""; },
    };
  }
  /** Now or at a time. */
  function timePart(prefix) {
    const at = h("input", { type: "datetime-local", id: prefix + "-at", disabled: true });
    const group = h("div", { role: "radiogroup", "aria-label": t("console.compose.when"), class: "row" });
    for (const [v, key] of [["now", "console.compose.now"], ["later", "console.compose.later"]]) {
      const r = h("input", { type: "radio", name: prefix + "-when", value: v, checked: v === "now" });
      r.addEventListener("change", () => { at.disabled = v !== "later"; if (v === "later") at.focus(); });
      group.append(h("label", { class: "choice" }, r, t(key)));
    }
    group.append(field("console.compose.at", at));
    return {
      node: h("fieldset", {}, h("legend", { text: t("console.compose.when") }), group),
      value() {
        if (at.disabled) return {};
        if (!at.value) throw new Error(t("console.compose.timeNeeded"));
        const v = rfc3339(at.value);
        if (!v) throw new Error(t("console.compose.timeNeeded"));
        return { send_at: v };
      },
    };
  }

  // ----- Messages -----

  async function messages(root, still) {
    let status = "";
    let to = "";
    let befores = [null];
    const list = h("div");
    const out = h("div", { class: "notice", role: "status" });
    const statusSel = select([["", t("console.messages.anyStatus")], ...MESSAGE_STATUSES.map((x) => [x, t("console.messageStatus." + x)])], "", { id: "messages-status" });
    const toInput = h("input", { id: "messages-to", size: 14, inputmode: "numeric" });
    const filters = h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); status = statusSel.value; to = toInput.value.trim(); befores = [null]; load(); } },
      field("console.messages.status", statusSel), field("console.messages.to", toInput),
      h("button", { type: "submit", text: t("console.messages.filter") }));
    statusSel.addEventListener("change", () => { status = statusSel.value; befores = [null]; load(); });

    async function load() {
      const before = befores[befores.length - 1];
      const params = new URLSearchParams({ order: "newest", limit: PAGE_SIZE });
      if (status) params.set("status", status);
      if (to) params.set("to", to);
      if (before !== null) params.set("before", before);
      list.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
      let rows;
      try { rows = await api("GET", botPath("messages") + "?" + params); } catch (e) { if (still()) { list.replaceChildren(); fail(out)(e); } return; }
      if (!still()) return;
      const writable = canWrite();
      const tr = rows.map((m) => {
        const st = h("td", {}, statusWord("messageStatus", m.status));
        if (m.status === "scheduled") st.append(h("span", { class: "when", text: t("console.messages.scheduledFor", { time: when(m.send_at) }) }));
        if (m.status === "sent" && m.sent_at) st.append(h("span", { class: "muted sent-at", text: when(m.sent_at) }));
        const details = h("td");
        if (m.attempts) details.append(h("div", { text: t("console.messages.attempts", { n: m.attempts }) }));
        if (m.last_error) details.append(h("div", { class: "error", text: m.last_error }));
        if (m.broadcast !== undefined && m.broadcast !== null) details.append(h("div", { class: "muted", text: t("console.messages.ofBroadcast", { id: m.broadcast }) }));
        if (m.telegram_message_id) details.append(h("div", { class: "muted", text: t("console.messages.telegramId", { id: m.telegram_message_id }) }));
        const row = h("tr", { dataset: { message: m.id } }, td(String(m.id)), td(String(m.to && m.to.key !== undefined ? m.to.key : "")),
          h("td", { class: "text-cell", text: m.text || "" }), st, td(when(m.created_at)), details);
        if (writable) {
          const cell = h("td");
          if (m.status === "scheduled" || m.status === "queued") {
            cell.append(button("console.messages.cancel", async () => {
              if (!window.confirm(t("console.messages.confirmCancel", { id: m.id }))) return;
              try { await api("DELETE", botPath("messages", m.id)); say(out, t("console.messages.cancelled", { id: m.id }), "ok"); load(); } catch (e) { fail(out)(e); }
            }, "danger cancel", { "aria-label": t("console.messages.cancelOne", { id: m.id }) }));
          }
          row.append(cell);
        }
        return row;
      });
      const heads = ["console.messages.id", "console.messages.recipient", "console.messages.text", "console.messages.status", "console.messages.created", "console.messages.details"];
      if (writable) heads.push("console.actions");
      list.replaceChildren(rows.length ? table(heads, tr) : empty("console.messages.none"),
        olderPager(befores.length === 1, rows.length === PAGE_SIZE, () => { befores = [null]; load(); },
          () => { befores.push(Math.min(...rows.map((m) => Number(m.id)))); load(); }));
    }

    let compose = null;
    if (canWrite()) {
      const result = h("div", { id: "compose-result", class: "notice", role: "status", "aria-live": "polite" });
      const key = h("input", { id: "compose-key", size: 14, inputmode: "numeric" });
      const kind = kindControl("", { id: "compose-kind" });
      const pid = h("input", { id: "compose-principal-id", size: 12 });
      const byKey = h("div", { class: "row" }, field("console.compose.key", key));
      const byPrincipal = h("div", { class: "row", hidden: true }, field("console.principal.kind", kind), field("console.principal.id", pid));
      let toMode = "key";
      const toGroup = h("div", { role: "radiogroup", "aria-label": t("console.compose.to") });
      for (const [v, k] of [["key", "console.compose.toKey"], ["principal", "console.compose.toPrincipal"]]) {
        const r = h("input", { type: "radio", name: "compose-to", value: v, checked: v === "key" });
        r.addEventListener("change", () => { toMode = v; byKey.hidden = v !== "key"; byPrincipal.hidden = v !== "principal"; });
        toGroup.append(h("label", { class: "choice" }, r, t(k)));
      }
      const content = contentPart("compose");
      const time = timePart("compose");
      const send = h("button", { type: "submit", class: "act", id: "compose-send", text: t("console.compose.send") });
      compose = h("form", { class: "panel", onsubmit: async (e) => {
        e.preventDefault();
        let body;
        try {
          let target;
          if (toMode === "key") {
            if (!/^-?\d+$/.test(key.value.trim())) throw new Error(t("console.compose.keyNeeded"));
            target = { key: Number(key.value.trim()) };
          } else {
            if (!kind.value.trim() || !pid.value.trim()) throw new Error(t("console.compose.principalNeeded"));
            target = { principal: { kind: kind.value.trim(), id: pid.value.trim() } };
          }
          body = Object.assign({ to: target }, content.value(), time.value());
        } catch (err) { say(result, err.message, "error"); return; }
        send.disabled = true;
        try {
          const answer = await api("POST", botPath("messages"), body);
          const ids = Array.isArray(answer.ids) && answer.ids.length > 1 ? answer.ids.join(", ") : String(answer.id);
          say(result, t("console.compose.sent", { id: ids, status: t("console.messageStatus." + answer.status) }), "ok");
          content.clear();
          load();
        } catch (err) { fail(result)(err); } finally { send.disabled = false; }
      } },
      h("h3", { text: t("console.compose.title") }),
      h("fieldset", {}, h("legend", { text: t("console.compose.to") }), toGroup, byKey, byPrincipal),
      content.node, time.node,
      h("div", { class: "row" }, send), result);
    }
    fill(root, compose, h("h3", { text: t("console.messages.list") }), filters, out, list);
    await load();
  }

  // ----- Broadcasts -----

  async function broadcasts(root, still) {
    let befores = [null];
    const list = h("div");
    const out = h("div", { class: "notice", role: "status" });

    async function load() {
      const before = befores[befores.length - 1];
      const params = new URLSearchParams({ order: "newest", limit: PAGE_SIZE });
      if (before !== null) params.set("before", before);
      list.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
      let rows;
      try { rows = await api("GET", botPath("broadcasts") + "?" + params); } catch (e) { if (still()) { list.replaceChildren(); fail(out)(e); } return; }
      if (!still()) return;
      const writable = canWrite();
      const tr = rows.map((b) => {
        const c = b.counts || {};
        const row = h("tr", { dataset: { broadcast: b.id } }, td(String(b.id)), td(when(b.created_at)), td(num(b.recipients), "num"),
          ...MESSAGE_STATUSES.map((x) => td(num(c[x]), "num"))); 
        if (writable) {
          const cell = h("td");
          if ((Number(c.scheduled) || 0) + (Number(c.queued) || 0) > 0) {
            cell.append(button("console.broadcasts.cancel", async () => {
              if (!window.confirm(t("console.broadcasts.confirmCancel", { id: b.id }))) return;
              try {
                const a = await api("DELETE", botPath("broadcasts", b.id));
                say(out, t("console.broadcasts.cancelled", { id: b.id, n: num(a && a.cancelled) }), "ok");
                load();
              } catch (e) { fail(out)(e); }
            }, "danger cancel", { "aria-label": t("console.broadcasts.cancelOne", { id: b.id }) }));
          }
          row.append(cell);
        }
        return row;
      });
      const heads = ["console.broadcasts.id", "console.broadcasts.created", "console.broadcasts.recipients", ...MESSAGE_STATUSES.map((x) => "console.messageStatus." + x)];
      if (writable) heads.push("console.actions");
      list.replaceChildren(rows.length ? table(heads, tr, [2, 3, 4, 5, 6, 7, 8]) : empty("console.broadcasts.none"),
        olderPager(befores.length === 1, rows.length === PAGE_SIZE, () => { befores = [null]; load(); },
          () => { befores.push(Math.min(...rows.map((b) => Number(b.id)))); load(); }));
    }

    let compose = null;
    if (canWrite()) {
      const result = h("div", { id: "broadcast-result", class: "notice", role: "status", "aria-live": "polite" });
      const kinds = kindsOf(bot);
      const kind = kindControl("", { id: "broadcast-kind" });
      const principals = h("textarea", { id: "broadcast-principals", rows: 3 });
      const keys = h("textarea", { id: "broadcast-keys", rows: 3 });
      const boxes = {
        kind: h("div", { class: "row" }, field("console.principal.kind", kind)),
        principals: h("div", { hidden: true }, field("console.broadcasts.principals", principals, "wide"), h("p", { class: "muted", text: t("console.broadcasts.principalsHelp") })),
        keys: h("div", { hidden: true }, field("console.broadcasts.keys", keys, "wide"), h("p", { class: "muted", text: t("console.broadcasts.keysHelp") })),
        all: h("div", { hidden: true }, h("p", { class: "muted", text: t("console.broadcasts.allHelp") })),
      };
      // A bot without principal kinds has no principals to name: its users are chat keys.
      const modes = kinds.length ? ["kind", "principals", "keys", "all"] : ["keys", "all"];
      let mode = modes[0];
      for (const [k, box] of Object.entries(boxes)) box.hidden = k !== mode;
      const group = h("div", { role: "radiogroup", "aria-label": t("console.broadcasts.to") });
      for (const v of modes) {
        const r = h("input", { type: "radio", name: "broadcast-to", value: v, checked: v === mode });
        r.addEventListener("change", () => { mode = v; for (const [k, box] of Object.entries(boxes)) box.hidden = k !== v; });
        group.append(h("label", { class: "choice" }, r, t("console.broadcasts.target." + v)));
      }
      const content = contentPart("broadcast");
      const time = timePart("broadcast");
      const send = h("button", { type: "submit", class: "act", id: "broadcast-send", text: t("console.broadcasts.send") });
      compose = h("form", { class: "panel", onsubmit: async (e) => {
        e.preventDefault();
        let body;
        try {
          let target;
          if (mode === "kind") {
            if (!kind.value.trim()) throw new Error(t("console.broadcasts.kindNeeded"));
            target = { kind: kind.value.trim() };
          } else if (mode === "principals") {
            const list = [];
            for (const line of principals.value.split(/[\n,;]+/).map((x) => x.trim()).filter(Boolean)) {
              const m = line.match(/^([^:\s]+)\s*[:\s]\s*(.+)$/);
              if (m) list.push({ kind: m[1], id: m[2].trim() });
              else if (kinds.length === 1) list.push({ kind: kinds[0], id: line });
              else throw new Error(t("console.broadcasts.badPrincipal", { line }));
            }
            if (!list.length) throw new Error(t("console.broadcasts.principalsNeeded"));
            target = { principals: list };
          } else if (mode === "keys") {
            const parts = keys.value.split(/[\s,;]+/).filter(Boolean);
            const bad = parts.find((x) => !/^-?\d+$/.test(x));
            if (bad) throw new Error(t("console.broadcasts.badKey", { key: bad }));
            if (!parts.length) throw new Error(t("console.broadcasts.keysNeeded"));
            target = { keys: parts.map(Number) };
          } else {
            target = { all: true };
          }
          body = Object.assign({ to: target }, content.value(), time.value());
        } catch (err) { say(result, err.message, "error"); return; }
        if (mode === "all" && !window.confirm(t("console.broadcasts.confirmAll"))) return;
        send.disabled = true;
        try {
          const a = await api("POST", botPath("broadcasts"), body);
          let text = t("console.broadcasts.sent", { id: a.id, n: num(a.recipients) });
          if (Array.isArray(a.unknown) && a.unknown.length) {
            text += " " + t("console.broadcasts.unknown", { list: a.unknown.map((u) => (typeof u === "object" ? (u.kind ? `${u.kind}:${u.id}` : JSON.stringify(u)) : String(u))).join(", ") });
          }
          say(result, text, "ok");
          content.clear();
          befores = [null];
          load();
        } catch (err) { fail(result)(err); } finally { send.disabled = false; }
      } },
      h("h3", { text: t("console.broadcasts.title") }),
      h("fieldset", {}, h("legend", { text: t("console.broadcasts.to") }), group, ...Object.values(boxes)),
      content.node, time.node,
      h("div", { class: "row" }, send), result);
    }
    fill(root, compose, h("h3", { text: t("console.broadcasts.list") }), out, list);
    await load();
  }

  // ----- Insights -----

  async function insights(root, still) {
    const periods = [["24h", 24], ["7d", 24 * 7], ["30d", 24 * 30]];
    const period = select(periods.map(([v]) => [v, t("console.insights.period." + v)]), "24h", { id: "insights-period" });
    const body = h("div");
    const out = h("div", { class: "notice", role: "status" });
    period.addEventListener("change", () => load());
    const bar = h("div", { class: "row" }, field("console.insights.period", period), button("console.refresh", () => load()));

    async function load() {
      const hours = periods.find(([v]) => v === period.value)[1];
      const HOUR = 3600e3;
      const end = (Math.floor(Date.now() / HOUR) + 1) * HOUR;
      const from = new Date(end - hours * HOUR), to = new Date(end);
      const params = new URLSearchParams({ from: from.toISOString().replace(/\.\d{3}Z$/, "Z"), to: to.toISOString().replace(/\.\d{3}Z$/, "Z") });
      body.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
      let d;
      try { d = await api("GET", botPath("insights") + "?" + params); } catch (e) { if (still()) { body.replaceChildren(); fail(out)(e); } return; }
      if (!still()) return;
      say(out, "");
      const parts = [];
      parts.push(h("dl", { class: "stats" },
        h("div", {}, h("dt", { text: t("console.insights.updates") }), h("dd", { text: num(d.updates) })),
        h("div", {}, h("dt", { text: t("console.insights.users") }), h("dd", { text: num(d.users) }))));

      parts.push(h("h3", { text: t("console.insights.hourly") }));
      const fromMs = Date.parse(d.from) || from.getTime(), toMs = Date.parse(d.to) || to.getTime();
      parts.push(hourlyChart(hourSlots(d.hourly, fromMs, toMs), t("console.insights.hourlyLabel"), 1240));

      parts.push(h("h3", { text: t("console.insights.records") }));
      const records = d.records || [];
      parts.push(records.length
        ? barChart(records.map((r) => ({ label: r.id, value: Number(r.hits) || 0, tip: t("console.insights.recordTip", { id: r.id, n: num(r.hits) }) })), t("console.insights.recordsLabel"))
        : empty("console.insights.noRecords"));

      parts.push(h("h3", { text: t("console.insights.unknown") }));
      const unknown = d.unknown || [];
      parts.push(unknown.length
        ? table(["console.insights.text", "console.insights.count", "console.insights.suggest"], unknown.map((u) => h("tr", {},
            u.text === null ? h("td", { class: "muted", text: t("console.insights.hiddenText") }) : td(u.text),
            td(num(u.count), "num"),
            td((u.suggest || []).length ? u.suggest.join(", ") : "—"))), [1])
        : empty("console.insights.noUnknown"));

      parts.push(h("h3", { text: t("console.insights.choices") }));
      const choices = d.choices || [];
      if (!choices.length) parts.push(empty("console.insights.noChoices"));
      for (const c of choices) {
        const opts = c.options || [];
        const items = opts.map((o) => {
          const label = o.label && o.label !== o.id ? `${o.label} (${o.id})` : String(o.id);
          return { label, value: Number(o.chosen) || 0, tip: t("console.insights.optionTip", { option: label, n: num(o.chosen) }) };
        });
        items.push({ cls: "abandoned", label: t("console.insights.abandoned"), value: Number(c.abandoned) || 0, tip: t("console.insights.abandonedTip", { n: num(c.abandoned) }) });
        parts.push(h("div", { class: "choice-block" },
          h("h4", { text: t("console.insights.choice", { id: c.id, shown: num(c.shown), abandoned: num(c.abandoned) }) }),
          barChart(items, t("console.insights.choiceLabel", { id: c.id }))));
      }

      parts.push(h("h3", { text: t("console.insights.inputs") }));
      const inputs = d.inputs || [];
      parts.push(inputs.length
        ? table(["console.insights.input", "console.insights.asked", "console.insights.answered", "console.insights.invalid", "console.insights.gaveUp"],
            inputs.map((i) => h("tr", {}, td(i.id), td(num(i.asked), "num"), td(num(i.answered), "num"), td(num(i.invalid), "num"), td(num(i.gave_up), "num"))), [1, 2, 3, 4])
        : empty("console.insights.noInputs"));

      parts.push(h("h3", { text: t("console.insights.algorithms") }));
      const algorithms = d.algorithms || [];
      const ms = (v) => (v === null || v === undefined ? "—" : t("console.insights.ms", { n: num(v) }));
      parts.push(algorithms.length
        ? table(["console.insights.algorithm", "console.insights.calls", "console.insights.failed", "console.insights.timeout", "console.insights.p50", "console.insights.p95"],
            algorithms.map((a) => h("tr", {}, td(a.name), td(num(a.calls), "num"), td(num(a.failed), "num"), td(num(a.timeout), "num"), td(ms(a.p50_ms), "num"), td(ms(a.p95_ms), "num"))), [1, 2, 3, 4, 5])
        : empty("console.insights.noAlgorithms"));
      body.replaceChildren(...parts);
    }
    fill(root, bar, out, body);
    await load();
  }

  // ----- Audit -----

  async function audit(root, still) {
    let befores = [null];
    const list = h("div");
    const out = h("div", { class: "notice", role: "status" });
    async function load() {
      const before = befores[befores.length - 1];
      const params = new URLSearchParams({ order: "newest", limit: PAGE_SIZE });
      if (before !== null) params.set("before", before);
      list.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
      let rows;
      try { rows = await api("GET", "/audit?" + params); } catch (e) { if (still()) { list.replaceChildren(); fail(out)(e); } return; }
      if (!still()) return;
      const tr = rows.map((a) => h("tr", { dataset: { audit: a.id } }, td(String(a.id)), td(when(a.at)), td(a.operator), td(a.action), td(a.bot || ""),
        td(a.object === null || a.object === undefined ? "" : String(a.object)), td(h("pre", { text: dataText(a.detail) }))));
      list.replaceChildren(rows.length ? table(["console.audit.id", "console.audit.at", "console.audit.operator", "console.audit.action", "console.audit.bot", "console.audit.object", "console.audit.detail"], tr) : empty("console.audit.none"),
        olderPager(befores.length === 1, rows.length === PAGE_SIZE, () => { befores = [null]; load(); },
          () => { befores.push(Math.min(...rows.map((a) => Number(a.id)))); load(); }));
    }
    fill(root, h("div", { class: "row" }, button("console.refresh", () => load())), out, list);
    await load();
  }

  // ----- Operators (admin) -----

  async function operators(root, still) {
    if (!isAdmin()) { fill(root, empty("console.operators.adminOnly")); return; }
    const list = h("div");
    const out = h("div", { class: "notice", role: "status" });
    const created = h("div");
    async function load() {
      let rows;
      try { rows = await api("GET", "/operators"); } catch (e) { if (still()) fail(out)(e); return; }
      if (!still()) return;
      const tr = rows.map((o) => {
        const cell = h("td");
        if (o.name !== me.name) {
          cell.append(button("console.operators.remove", async () => {
            if (!window.confirm(t("console.operators.confirmRemove", { name: o.name }))) return;
            try { await api("DELETE", "/operators/" + path(o.name)); say(out, t("console.operators.removed", { name: o.name }), "ok"); load(); } catch (e) { fail(out)(e); }
          }, "danger remove", { "aria-label": t("console.operators.removeOne", { name: o.name }) }));
        }
        return h("tr", { dataset: { operator: o.name } }, td(o.name), td(t("console.role." + o.role)), td(when(o.created_at)), cell);
      });
      list.replaceChildren(rows.length ? table(["console.operators.name", "console.operators.role", "console.operators.createdAt", "console.actions"], tr) : empty("console.operators.none"));
    }
    const name = h("input", { id: "operator-name", size: 20, required: true, autocomplete: "off" });
    const role = select(ROLES.map((r) => [r, t("console.role." + r)]), "viewer", { id: "operator-role" });
    const formOut = h("div", { class: "notice", role: "status" });
    const form = h("form", { class: "panel", onsubmit: async (e) => {
      e.preventDefault();
      if (!name.value.trim()) { say(formOut, t("console.operators.nameNeeded"), "error"); return; }
      try {
        const a = await api("POST", "/operators", { name: name.value.trim(), role: role.value });
        say(formOut, "");
        const code = h("code", { id: "operator-token", text: a.token });
        const copy = button("console.operators.copy", async () => {
          try { await navigator.clipboard.writeText(a.token); copy.textContent = t("console.operators.copied"); } catch (err) {
            const range = document.createRange(); range.selectNodeContents(code);
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
          }
        });
        created.replaceChildren(h("div", { class: "token-box", role: "alert" },
          h("p", {}, h("strong", { text: t("console.operators.created", { name: a.name, role: t("console.role." + a.role) }) })),
          h("p", { text: t("console.operators.tokenNote") }),
          h("p", {}, code, " ", copy)));
        name.value = "";
        load();
      } catch (err) { fail(formOut)(err); }
    } },
    h("h3", { text: t("console.operators.add") }),
    h("div", { class: "row" }, field("console.operators.name", name), field("console.operators.role", role),
      h("button", { type: "submit", class: "act", id: "operator-add", text: t("console.operators.addButton") })),
    formOut, created);
    fill(root, form, h("h3", { text: t("console.operators.list") }), out, list);
    await load();
  }

  // ----- start -----

  I18N.ready.then(async () => {
    document.title = t("console.title");
    if (!token) { showSignIn(""); return; }
    try { await start(); } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;   // signOut already showed the sign-in
      showSignIn(errorText(e));
    }
  }, () => { document.body.textContent = "i18n: the catalogue could not be loaded"; });
})();

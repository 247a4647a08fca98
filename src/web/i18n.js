// Translation for botwright's pages (the studio and the console): one
// catalogue per language, assets/i18n/en.json and assets/i18n/ru.json, flat
// objects of "key": "text". The page follows the browser's language (Russian
// or English) until the reader picks one with the switch; the pick is kept in
// localStorage. Elements name their text by key:
//   data-i18n="key"              textContent
//   data-i18n-title="key"        title
//   data-i18n-placeholder="key"  placeholder
//   data-i18n-label="key"        aria-label
// and scripts call I18N.t("key", {name: value}) for "{name}" in the text.
// A key missing from the catalogue shows as ⟦key⟧ and is reported on the
// console, so that a test finds it.
"use strict";
(function () {
  const STORED = "botwright.lang";
  const LANGUAGES = ["ru", "en"];

  function chosen() {
    let stored = null;
    try { stored = localStorage.getItem(STORED); } catch (e) { /* storage may be off */ }
    if (LANGUAGES.includes(stored)) return stored;
    const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    for (const tag of wanted) {
      const primary = String(tag || "").slice(0, 2).toLowerCase();
      if (LANGUAGES.includes(primary)) return primary;
    }
    return "en";
  }

  const I18N = {
    languages: LANGUAGES,
    lang: chosen(),
    catalogue: {},
    missing: [],

    // Loads the page's language; `ready` resolves when it is applied.
    async load() {
      const answer = await fetch("assets/i18n/" + this.lang + ".json", { cache: "no-cache" });
      this.catalogue = await answer.json();
      document.documentElement.lang = this.lang;
      this.apply(document);
    },

    t(key, vars) {
      let text = this.catalogue[key];
      if (typeof text !== "string") {
        if (!this.missing.includes(key)) {
          this.missing.push(key);
          console.error("i18n: no text for " + key + " in " + this.lang);
        }
        return "⟦" + key + "⟧";
      }
      if (vars) {
        text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
      }
      return text;
    },

    // Fills every element under `root` that names its text by key.
    apply(root) {
      for (const [attribute, set] of [
        ["data-i18n", (el, v) => { el.textContent = v; }],
        ["data-i18n-title", (el, v) => { el.title = v; }],
        ["data-i18n-placeholder", (el, v) => { el.placeholder = v; }],
        ["data-i18n-label", (el, v) => { el.setAttribute("aria-label", v); }],
      ]) {
        for (const el of root.querySelectorAll("[" + attribute + "]")) set(el, this.t(el.getAttribute(attribute)));
      }
    },

    // The switch: remembers the pick and reloads the page in that language.
    choose(lang) {
      if (!LANGUAGES.includes(lang)) return;
      try { localStorage.setItem(STORED, lang); } catch (e) { /* storage may be off */ }
      location.reload();
    },

    // A <select> that switches the language, labelled in both languages.
    switcher() {
      const select = document.createElement("select");
      select.className = "lang-switch";
      select.setAttribute("aria-label", this.t("common.language"));
      for (const lang of LANGUAGES) {
        const option = document.createElement("option");
        option.value = lang;
        option.textContent = lang === "ru" ? "Русский" : "English";
        option.selected = lang === this.lang;
        select.append(option);
      }
      select.addEventListener("change", () => this.choose(select.value));
      return select;
    },
  };
  I18N.ready = I18N.load();
  window.I18N = I18N;
})();

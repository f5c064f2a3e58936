// The layout the media views share: a toolbar, then one section per tag with a card per run
// that has data for it (only those: the tags come from /api/<view>/tags for the selected
// runs). A card fills itself only once it is on screen (IntersectionObserver), and the whole
// list is rebuilt when the selection changes or new runs appear.

import { getJSON } from "../api.js";
import { runColor } from "../colors.js";
import { el } from "../format.js";
import { userRegex } from "../state.js";
import { getParam, setParams } from "../view_kit.js";

function runName(app, runId) {
  const run = app.runsById.get(runId);
  return run ? run.name || run.run_id : runId;
}

/** A card's head: the run's swatch and name, then `meta` text on the right. */
export function cardHead(app, runId, meta) {
  const head = el("div", "media-card-head");
  const swatch = el("span", "swatch");
  swatch.style.background = runColor(runId);
  const name = el("span", "media-run", runName(app, runId));
  name.title = runId;
  const info = el("span", "media-meta", meta);
  head.append(swatch, name, info);
  return { head, info };
}

/**
 * mountTagCards(element, app, {view, tagsPath, emptyText, toolbar(bar), card(tag, run)}):
 * `card` returns {el, load()} (load runs once, when the card first shows) and may return
 * `destroy()`. Answers {refresh()}.
 */
export function mountTagCards(element, app, options) {
  const root = el("div", "media-view " + options.view + "-view");
  root.dataset.testid = options.view + "-view";
  const bar = el("div", "toolbar");
  const filter = el("input", "input tag-filter");
  Object.assign(filter, { type: "search", placeholder: "Filter tags (regex)", spellcheck: false });
  filter.dataset.testid = options.view + "-tag-filter";
  filter.value = getParam(app, "filter");
  const summary = el("span", "toolbar-summary");
  bar.append(filter);
  if (options.toolbar) options.toolbar(bar);
  bar.append(el("span", "spacer"), summary);
  const body = el("div", "media-sections");
  root.append(bar, body);
  element.replaceChildren(root);

  let cards = [];
  let tags = [];
  let generation = 0;
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      const card = cards.find((c) => c.el === entry.target);
      if (card && !card.loaded) {
        card.loaded = true;
        card.load();
      }
    }
  }, { rootMargin: "300px" });

  function clear() {
    for (const card of cards) {
      observer.unobserve(card.el);
      if (card.destroy) card.destroy();
    }
    cards = [];
  }

  function render() {
    clear();
    const pattern = userRegex(filter.value);
    filter.classList.toggle("invalid", Boolean(filter.value) && pattern === null);
    const shown = tags.filter((t) => !pattern || pattern.test(t.tag));
    const count = shown.reduce((n, t) => n + t.runs.length, 0);
    summary.textContent = shown.length + " tags · " + count + " cards";
    if (shown.length === 0) {
      const text = tags.length ? "No tag matches the filter." : options.emptyText;
      body.replaceChildren(el("div", "empty-state", text));
      return;
    }
    const sections = shown.map((t) => {
      const section = el("section", "media-section");
      section.dataset.testid = options.view + "-tag";
      section.dataset.tag = t.tag;
      const head = el("h2", "media-tag");
      head.append(el("span", "media-tag-name", t.tag), el("span", "group-count", String(t.runs.length)));
      const grid = el("div", "media-grid");
      for (const run of t.runs) {
        const card = options.card(t.tag, run);
        card.el.classList.add("media-card");
        card.el.dataset.testid = options.view + "-card";
        card.el.dataset.tag = t.tag;
        card.el.dataset.runId = run.run_id;
        cards.push(card);
        grid.append(card.el);
        observer.observe(card.el);
      }
      section.append(head, grid);
      return section;
    });
    body.replaceChildren(...sections);
  }

  async function refresh() {
    const mine = ++generation;
    const runs = app.selected();
    if (runs.length === 0) {
      tags = [];
      clear();
      summary.textContent = "";
      body.replaceChildren(el("div", "empty-state", "Select runs on the left to see their " + options.noun + "."));
      return;
    }
    try {
      const answer = await getJSON(options.tagsPath, { runs: runs.join(",") });
      if (mine !== generation) return;
      const same = JSON.stringify(answer.tags) === JSON.stringify(tags) && cards.length > 0;
      tags = answer.tags;
      if (!same) render(); // a poll that finds the same tags keeps every card as it is
    } catch (error) {
      if (mine !== generation) return;
      const box = el("div", "error-box", "Could not load the tags: " + (error.message || error));
      body.replaceChildren(box);
    }
  }

  filter.addEventListener("input", () => {
    setParams(app, { filter: filter.value });
    render();
  });
  app.store.subscribe((_state, changed) => {
    if (changed.has("runs")) refresh();
  });
  app.events.on("runs", () => refresh());
  refresh();
  return { refresh, rerender: render };
}

// The text view: per tag and run, the markdown logged at one step, rendered safely
// (markdown.js), with a slider over every logged step; each move loads that step's text.

import { getJSON } from "../api.js";
import { el } from "../format.js";
import { useStyle } from "../view_kit.js";
import { renderMarkdown } from "./markdown.js";
import { createStepSlider } from "./step_slider.js";
import { cardHead, mountTagCards } from "./tag_cards.js";

function textCard(app, tag, run) {
  const card = el("div", "text-card");
  const { head } = cardHead(app, run.run_id, run.steps + (run.steps === 1 ? " step" : " steps"));
  const body = el("div", "markdown");
  body.dataset.testid = "text-body";
  const controls = el("div", "media-controls");
  card.append(head, body, controls);
  card.dataset.state = "loading";
  let asked = 0;
  const show = async (step) => {
    const mine = ++asked;
    card.dataset.state = "loading-text";
    try {
      const answer = await getJSON("/api/text/text", { run: run.run_id, tag, step });
      if (mine !== asked) return;
      renderMarkdown(body, answer.text);
      body.dataset.step = String(step);
      card.dataset.state = "shown";
    } catch (error) {
      if (mine !== asked) return;
      card.dataset.state = "error";
      body.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  };
  async function load() {
    try {
      const info = await getJSON("/api/text/steps", { run: run.run_id, tag });
      const slider = createStepSlider(info.step, { onChange: (step) => show(step) });
      controls.append(slider.el);
      show(slider.step());
    } catch (error) {
      card.dataset.state = "error";
      body.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  }
  return { el: card, load };
}

export function mount(element, app) {
  useStyle("tag_cards");
  useStyle("text");
  mountTagCards(element, app, {
    view: "text", tagsPath: "/api/text/tags", noun: "texts",
    emptyText: "The selected runs logged no text (add_text).",
    card: (tag, run) => textCard(app, tag, run),
  });
}

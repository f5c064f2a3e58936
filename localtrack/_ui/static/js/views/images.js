// The images view: per tag and run, the image at one step, a slider over every logged step,
// its caption and pixel size; click for full size. The slider is ready as soon as the step
// list (no image bytes) has come; each move loads that step's image only, and its
// neighbours afterwards (the browser keeps them: their URLs name the run's files).

import { getJSON } from "../api.js";
import { el } from "../format.js";
import { useStyle } from "../view_kit.js";
import { openLightbox } from "./lightbox.js";
import { createStepSlider } from "./step_slider.js";
import { cardHead, mountTagCards } from "./tag_cards.js";

function imageUrl(info, step) {
  const q = new URLSearchParams({ run: info.run_id, tag: info.tag, step: String(step), v: info.version });
  return "/api/images/image?" + q.toString();
}

function imageCard(app, tag, run) {
  const card = el("div", "image-card");
  const { head, info: meta } = cardHead(app, run.run_id, run.steps + " steps");
  const frame = el("button", "image-frame");
  frame.type = "button";
  frame.title = "click to see it at full size";
  const img = el("img", "image-shown");
  img.dataset.testid = "image";
  img.alt = tag + " at a step";
  img.decoding = "async";
  frame.append(img);
  const caption = el("div", "media-caption");
  caption.dataset.testid = "image-caption";
  const controls = el("div", "media-controls");
  card.append(head, frame, caption, controls);
  card.dataset.state = "loading";
  let info = null;
  let wanted = null;
  const warm = new Map();

  const describe = (i) => {
    const w = info.width[i];
    const h = info.height[i];
    meta.textContent = `${w}×${h} px · ${info.step.length} steps`;
    meta.dataset.testid = "image-size";
    caption.textContent = info.caption[i] || "";
  };
  const prefetch = (i) => {
    for (const j of [i + 1, i - 1, i + 2]) {
      if (j < 0 || j >= info.step.length || warm.has(j)) continue;
      const pre = new Image();
      pre.src = imageUrl(info, info.step[j]);
      warm.set(j, pre);
      if (warm.size > 24) warm.delete(warm.keys().next().value);
    }
  };
  const show = (step, i) => {
    wanted = step;
    describe(i);
    card.dataset.state = "loading-image";
    img.dataset.wanted = String(step);
    img.src = imageUrl(info, step);
  };
  img.addEventListener("load", () => {
    const step = Number(img.dataset.wanted);
    if (step !== wanted) return;
    img.dataset.step = String(step);
    img.classList.toggle("pixelated", img.naturalWidth < 160);
    card.dataset.state = "shown";
    prefetch(info.step.indexOf(step));
  });
  img.addEventListener("error", () => {
    if (Number(img.dataset.wanted) === wanted) card.dataset.state = "error";
  });
  frame.addEventListener("click", () => {
    if (!info || img.dataset.step === undefined) return;
    const full = el("img", "lightbox-image");
    full.dataset.testid = "image-full";
    full.src = img.src;
    const i = info.step.indexOf(Number(img.dataset.step));
    // natural size; a small image is zoomed by a whole factor so each pixel stays a square
    const w = img.naturalWidth;
    const h = img.naturalHeight;
    const zoom = Math.max(1, Math.floor(Math.min((innerWidth * 0.8) / w, (innerHeight * 0.75) / h)));
    full.style.width = w * zoom + "px";
    full.style.height = h * zoom + "px";
    openLightbox(full, `${tag} · step ${img.dataset.step} · ${info.width[i]}×${info.height[i]} px` +
      (zoom > 1 ? ` (shown ×${zoom})` : "") + (info.caption[i] ? " · " + info.caption[i] : ""));
  });

  async function load() {
    try {
      info = await getJSON("/api/images/steps", { run: run.run_id, tag });
      const slider = createStepSlider(info.step, { onChange: show });
      controls.append(slider.el);
      show(slider.step(), slider.index());
    } catch (error) {
      card.dataset.state = "error";
      frame.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  }
  return { el: card, load };
}

export function mount(element, app) {
  useStyle("tag_cards");
  useStyle("images");
  mountTagCards(element, app, {
    view: "images", tagsPath: "/api/images/tags", noun: "images",
    emptyText: "The selected runs logged no images (add_image, add_images, add_figure).",
    card: (tag, run) => imageCard(app, tag, run),
  });
}

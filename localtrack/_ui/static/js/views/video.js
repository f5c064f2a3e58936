// The video view: per tag and run, the clip logged at one step painted on a canvas frame by
// frame (the store holds raw uint8 frames, so nothing is encoded or decoded), played at its
// logged fps, with play/pause, a frame scrubber and counter, and a slider over every logged
// step. Each step move loads that step's frames only (arrays-v1); the frame shown keeps its
// index when the new clip is as long.

import { getJSON } from "../api.js";
import { el, formatValue } from "../format.js";
import { useStyle } from "../view_kit.js";
import { getArrays } from "./arrays_wire.js";
import { createStepSlider } from "./step_slider.js";
import { cardHead, mountTagCards } from "./tag_cards.js";

/** One frame (H, W, C uint8, C in 1, 3, 4) of a (T, H, W, C) array as RGBA ImageData. */
function frameImage(frames, k) {
  const [, h, w, c] = frames.shape;
  const size = h * w;
  const src = frames.data.subarray(k * size * c, (k + 1) * size * c);
  const out = new ImageData(w, h);
  const rgba = out.data;
  if (c === 4) rgba.set(src);
  else {
    for (let i = 0; i < size; i++) {
      const o = 4 * i;
      if (c === 1) rgba[o] = rgba[o + 1] = rgba[o + 2] = src[i];
      else {
        rgba[o] = src[3 * i];
        rgba[o + 1] = src[3 * i + 1];
        rgba[o + 2] = src[3 * i + 2];
      }
      rgba[o + 3] = 255;
    }
  }
  return out;
}

function videoCard(app, tag, run) {
  const card = el("div", "video-card");
  const { head, info: meta } = cardHead(app, run.run_id, run.steps + (run.steps === 1 ? " step" : " steps"));
  const stage = el("div", "video-stage");
  const canvas = el("canvas", "video-canvas");
  canvas.dataset.testid = "video-canvas";
  stage.append(canvas);
  const playButton = el("button", "button video-play", "▶");
  playButton.type = "button";
  playButton.dataset.testid = "video-play";
  playButton.setAttribute("aria-label", "play");
  const scrub = el("input", "slider video-scrub");
  Object.assign(scrub, { type: "range", min: "0", max: "0", step: "1", value: "0" });
  scrub.dataset.testid = "video-frame-slider";
  scrub.setAttribute("aria-label", "frame");
  const counter = el("span", "video-counter");
  counter.dataset.testid = "video-frame-counter";
  const player = el("div", "media-controls video-controls");
  player.append(playButton, scrub, counter);
  const controls = el("div", "media-controls");
  card.append(head, stage, player, controls);
  card.dataset.state = "loading";

  let info = null;
  let clip = null; // {frames, fps, step, images: []}
  let shown = 0;
  let playing = false;
  let raf = 0;
  let started = 0;
  let startFrame = 0;
  let asked = 0;
  let abort = null;

  const fit = () => {
    if (!clip) return;
    const [, h, w] = clip.frames.shape;
    const box = stage.getBoundingClientRect();
    if (!w || !h || !box.width) return;
    let scale = Math.min((box.width - 2) / w, (box.height - 2) / h);
    if (scale >= 1) scale = Math.floor(scale); // whole pixels when scaled up
    canvas.style.width = Math.max(1, Math.round(w * scale)) + "px";
    canvas.style.height = Math.max(1, Math.round(h * scale)) + "px";
    canvas.classList.toggle("pixelated", scale >= 2);
  };
  const resize = new ResizeObserver(fit);
  resize.observe(stage);

  const paint = (k) => {
    if (!clip || clip.count === 0) return;
    shown = ((k % clip.count) + clip.count) % clip.count;
    if (!clip.images[shown]) clip.images[shown] = frameImage(clip.frames, shown);
    canvas.getContext("2d").putImageData(clip.images[shown], 0, 0);
    canvas.dataset.frame = String(shown);
    scrub.value = String(shown);
    counter.textContent = `frame ${shown + 1} / ${clip.count}`;
  };
  const tick = (now) => {
    if (!playing || !clip) return;
    const k = startFrame + Math.floor(((now - started) / 1000) * clip.fps);
    if (k % clip.count !== shown) paint(k);
    raf = requestAnimationFrame(tick);
  };
  const setPlaying = (on) => {
    playing = Boolean(on && clip && clip.count > 1 && clip.fps > 0);
    playButton.textContent = playing ? "❚❚" : "▶";
    playButton.setAttribute("aria-label", playing ? "pause" : "play");
    card.dataset.playing = playing ? "1" : "0";
    cancelAnimationFrame(raf);
    if (playing) {
      started = performance.now();
      startFrame = shown;
      raf = requestAnimationFrame(tick);
    }
  };
  playButton.addEventListener("click", () => setPlaying(!playing));
  scrub.addEventListener("input", () => {
    setPlaying(false);
    paint(Number(scrub.value));
  });
  canvas.addEventListener("click", () => setPlaying(!playing));

  const show = async (step, i) => {
    const mine = ++asked;
    if (abort) abort.abort();
    abort = new AbortController();
    card.dataset.state = "loading-video";
    meta.textContent = `${info.width[i]}×${info.height[i]} px · ${info.frames[i]} frame${info.frames[i] === 1 ? "" : "s"} · ` +
      `${formatValue(info.fps[i])} fps · ${info.step.length} step${info.step.length === 1 ? "" : "s"}`;
    meta.dataset.testid = "video-info";
    try {
      const { header, arrays } = await getArrays("/api/video/frames", { run: run.run_id, tag, step }, abort.signal);
      if (mine !== asked) return;
      const wasPlaying = playing;
      setPlaying(false);
      const frames = arrays.frames;
      clip = { frames, fps: header.fps, step, count: frames.shape[0], images: [] };
      canvas.width = frames.shape[2];
      canvas.height = frames.shape[1];
      scrub.max = String(Math.max(0, clip.count - 1));
      scrub.disabled = clip.count < 2;
      fit();
      paint(shown < clip.count ? shown : 0);
      canvas.dataset.step = String(step);
      card.dataset.state = "shown";
      if (wasPlaying) setPlaying(true);
    } catch (error) {
      if (mine !== asked || error.name === "AbortError") return;
      card.dataset.state = "error";
      counter.textContent = error.message || String(error);
    }
  };

  async function load() {
    try {
      info = await getJSON("/api/video/steps", { run: run.run_id, tag });
      const slider = createStepSlider(info.step, { onChange: show });
      controls.append(slider.el);
      show(slider.step(), slider.index());
    } catch (error) {
      card.dataset.state = "error";
      stage.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  }
  function destroy() {
    setPlaying(false);
    resize.disconnect();
    if (abort) abort.abort();
  }
  return { el: card, load, destroy };
}

export function mount(element, app) {
  useStyle("tag_cards");
  useStyle("video");
  mountTagCards(element, app, {
    view: "video", tagsPath: "/api/video/tags", noun: "videos",
    emptyText: "The selected runs logged no video (add_video).",
    card: (tag, run) => videoCard(app, tag, run),
  });
}

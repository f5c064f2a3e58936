// The audio view: per tag and run, the clip logged at one step in an <audio> player, with its
// waveform (min/max per pixel column, read from the served WAV file itself) and a slider over
// every logged step. The slider is ready once the step list (no samples) has come; each move
// loads that step's WAV only. Clicking the waveform seeks; the played part is drawn in the
// run's colour.

import { getJSON } from "../api.js";
import { runColor } from "../colors.js";
import { el, formatDuration } from "../format.js";
import { useStyle } from "../view_kit.js";
import { createStepSlider } from "./step_slider.js";
import { cardHead, mountTagCards } from "./tag_cards.js";

function audioUrl(info, step) {
  const q = new URLSearchParams({ run: info.run_id, tag: info.tag, step: String(step), v: info.version });
  return "/api/audio/audio?" + q.toString();
}

/** The samples of a 16-bit PCM WAV file: {rate, channels, frames, data: Int16Array interleaved}. */
export function parseWav(buffer) {
  const view = new DataView(buffer);
  const tag = (at) => String.fromCharCode(...new Uint8Array(buffer, at, 4));
  if (buffer.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file");
  let at = 12;
  let format = null;
  while (at + 8 <= buffer.byteLength) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === "fmt ") {
      format = {
        code: view.getUint16(body, true), channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true),
      };
    } else if (id === "data" && format) {
      if (format.code !== 1 || format.bits !== 16) throw new Error("only 16-bit PCM WAV is drawn");
      const n = Math.floor(Math.min(size, buffer.byteLength - body) / 2);
      const data = body % 2 === 0 ? new Int16Array(buffer, body, n) : new Int16Array(buffer.slice(body, body + 2 * n));
      return { rate: format.rate, channels: format.channels, frames: Math.floor(n / format.channels), data };
    }
    at = body + size + (size % 2);
  }
  throw new Error("the WAV file has no data chunk");
}

/** Min and max of every channel's samples in each of `columns` equal slices, in [-1, 1]. */
function envelope(wav, columns) {
  const lo = new Float32Array(columns);
  const hi = new Float32Array(columns);
  const per = wav.frames / columns;
  for (let c = 0; c < columns; c++) {
    const start = Math.floor(c * per) * wav.channels;
    const end = Math.max(start + wav.channels, Math.floor((c + 1) * per) * wav.channels);
    let min = 32767;
    let max = -32768;
    for (let i = start; i < end && i < wav.data.length; i++) {
      const v = wav.data[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    lo[c] = min / 32767;
    hi[c] = max / 32767;
  }
  return { lo, hi };
}

function audioCard(app, tag, run) {
  const card = el("div", "audio-card");
  const { head, info: meta } = cardHead(app, run.run_id, run.steps + (run.steps === 1 ? " step" : " steps"));
  const wave = el("canvas", "audio-wave");
  wave.dataset.testid = "audio-waveform";
  wave.title = "click to play from here";
  const player = el("audio", "audio-player");
  player.controls = true;
  player.preload = "auto";
  player.dataset.testid = "audio-player";
  const controls = el("div", "media-controls");
  card.append(head, wave, player, controls);
  card.dataset.state = "loading";
  const color = runColor(run.run_id);
  let info = null;
  let asked = 0;
  let shape = null;
  let frame = 0;

  const draw = () => {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(wave.clientWidth * dpr));
    const h = Math.max(1, Math.round(wave.clientHeight * dpr));
    if (wave.width !== w || wave.height !== h) Object.assign(wave, { width: w, height: h });
    const g = wave.getContext("2d");
    g.clearRect(0, 0, w, h);
    const styles = getComputedStyle(card);
    g.fillStyle = styles.getPropertyValue("--grid");
    g.fillRect(0, Math.floor(h / 2), w, Math.max(1, dpr));
    if (!shape) return;
    if (shape.columns !== w) shape = { columns: w, ...envelope(shape.wav, w), wav: shape.wav };
    const played = player.duration ? (player.currentTime / player.duration) * w : 0;
    g.fillStyle = color;
    for (let x = 0; x < w; x++) {
      const top = (1 - shape.hi[x]) * 0.46 * h + 0.04 * h;
      const bottom = (1 - shape.lo[x]) * 0.46 * h + 0.04 * h;
      g.globalAlpha = x < played ? 1 : 0.5;
      g.fillRect(x, top, 1, Math.max(dpr, bottom - top));
    }
    g.globalAlpha = 1;
    if (played > 0) {
      g.fillStyle = color;
      g.fillRect(Math.round(played), 0, Math.max(1, dpr), h);
    }
  };
  const tick = () => {
    draw();
    frame = player.paused ? 0 : requestAnimationFrame(tick);
  };
  player.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
  player.addEventListener("seeked", draw);
  player.addEventListener("pause", draw);
  wave.addEventListener("click", (event) => {
    if (!player.duration) return;
    const box = wave.getBoundingClientRect();
    player.currentTime = ((event.clientX - box.left) / box.width) * player.duration;
    player.play().catch(() => {});
  });
  const resize = new ResizeObserver(() => draw());
  resize.observe(wave);

  const show = async (step, i) => {
    const mine = ++asked;
    card.dataset.state = "loading-audio";
    const seconds = info.num_samples[i] / info.sample_rate[i];
    const channels = info.channels[i] === 1 ? "mono" : info.channels[i] === 2 ? "stereo" : info.channels[i] + " ch";
    meta.textContent = `${(info.sample_rate[i] / 1000).toFixed(1)} kHz · ${channels} · ${formatDuration(seconds)} · ${info.step.length} step${info.step.length === 1 ? "" : "s"}`;
    meta.dataset.testid = "audio-info";
    const url = audioUrl(info, step);
    try {
      const res = await fetch(url, { credentials: "same-origin" });
      if (!res.ok) throw new Error(res.status + " " + res.statusText);
      const wav = parseWav(await res.arrayBuffer());
      if (mine !== asked) return;
      shape = { columns: 0, wav };
      player.pause();
      player.src = url;
      player.dataset.step = String(step);
      draw();
      card.dataset.state = "shown";
    } catch (error) {
      if (mine !== asked) return;
      card.dataset.state = "error";
      meta.textContent = error.message || String(error);
    }
  };

  async function load() {
    try {
      info = await getJSON("/api/audio/steps", { run: run.run_id, tag });
      const slider = createStepSlider(info.step, { onChange: show });
      controls.append(slider.el);
      show(slider.step(), slider.index());
    } catch (error) {
      card.dataset.state = "error";
      wave.replaceWith(el("div", "chart-empty error", error.message || String(error)));
    }
  }
  function destroy() {
    resize.disconnect();
    if (frame) cancelAnimationFrame(frame);
    player.pause();
  }
  return { el: card, load, destroy };
}

export function mount(element, app) {
  useStyle("tag_cards");
  useStyle("audio");
  mountTagCards(element, app, {
    view: "audio", tagsPath: "/api/audio/tags", noun: "audio clips",
    emptyText: "The selected runs logged no audio (add_audio).",
    card: (tag, run) => audioCard(app, tag, run),
  });
}

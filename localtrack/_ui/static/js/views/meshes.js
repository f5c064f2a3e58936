// The Meshes view: add_mesh rows drawn with three.js (loaded with this view only). A list of
// the tags and runs that logged meshes; the open one in an orbit view (drag, wheel, right-drag)
// with a slider over every logged step, its vertex and face counts, shading and wireframe
// switches. URL parameters: mesh_tag, mesh_run, mesh_step, mesh_b (batch element),
// mesh_shade=1, mesh_wire=1.

import { getJSON } from "../api.js";
import { runColor } from "../colors.js";
import { el, formatIso } from "../format.js";
import { getParam, setParams, useStyle } from "../view_kit.js";
import { getArrays } from "./arrays_wire.js";
import { pickCurrent, renderList, stepSlider, visibleEntries } from "./series_list.js";

const CACHE_SIZE = 24;

function check(label, testid, on, onChange) {
  const box = el("label", "control check");
  const input = document.createElement("input");
  input.type = "checkbox";
  input.checked = on;
  input.dataset.testid = testid;
  input.addEventListener("change", () => onChange(input.checked));
  box.append(input, el("span", "control-label", label));
  return box;
}

function buildDom(view) {
  const root = el("div", "v3-view meshes-view");
  root.dataset.testid = "meshes-view";
  const bar = el("div", "toolbar");
  view.slider = stepSlider("mesh-step", (step) => view.openStep(step));
  view.batch = document.createElement("select");
  view.batch.className = "select";
  view.batch.dataset.testid = "mesh-batch";
  view.batch.addEventListener("change", () => {
    setParams(view.app, { mesh_b: view.batch.value === "0" ? "" : view.batch.value });
    view.draw(true);
  });
  view.batchBox = el("label", "control");
  view.batchBox.append(el("span", "control-label", "Item"), view.batch);
  const shade = check("Shaded", "mesh-shaded", getParam(view.app, "mesh_shade") === "1", (on) => {
    setParams(view.app, { mesh_shade: on ? "1" : "" });
    view.draw(true);
  });
  const wire = check("Wireframe", "mesh-wireframe", getParam(view.app, "mesh_wire") === "1", (on) => {
    setParams(view.app, { mesh_wire: on ? "1" : "" });
    view.draw(true);
  });
  const reset = el("button", "button", "Reset camera");
  reset.type = "button";
  reset.addEventListener("click", () => view.scene && view.scene.fit());
  view.summary = el("span", "toolbar-summary");
  bar.append(view.slider.element, view.batchBox, shade, wire, reset, view.summary);
  const body = el("div", "v3-body");
  view.list = el("aside", "series-list");
  view.list.dataset.testid = "mesh-list";
  const stage = el("section", "v3-stage");
  const head = el("div", "v3-stage-head");
  view.swatch = el("span", "swatch");
  view.title = el("span", "v3-title");
  view.counts = el("span", "v3-counts");
  view.counts.dataset.testid = "mesh-counts";
  head.append(view.swatch, view.title, view.counts);
  view.box = el("div", "mesh-box");
  view.box.dataset.testid = "mesh-viewer";
  view.box.dataset.state = "idle";
  view.message = el("div", "v3-message");
  view.box.append(view.message);
  const foot = el("div", "v3-foot", "Drag to orbit · wheel to zoom · right-drag or shift-drag to pan · double-click to reset");
  view.meta = el("span", "v3-meta");
  foot.append(view.meta);
  stage.append(head, view.box, foot);
  body.append(view.list, stage);
  root.append(bar, body);
  view.box.addEventListener("dblclick", () => view.scene && view.scene.fit());
  return root;
}

class MeshesView {
  constructor(el, app) {
    this.app = app;
    this.tags = [];
    this.current = null;
    this.mesh = null;
    this.scene = null;
    this.cache = new Map();
    this.loading = null;
    el.replaceChildren(buildDom(this));
    this.hook = { state: "idle", vertexCount: 0, faceCount: 0, glError: null, pick: (x, y) => this.scene && this.scene.pick(x, y), project: (i) => this.scene && this.scene.project(i), colors: null };
    window.localtrack.meshes = this.hook;
  }

  async fetchTags() {
    try {
      this.tags = (await getJSON("/api/meshes/tags")).tags;
      return true;
    } catch (error) {
      this.fail("Could not list the meshes: " + error.message);
      return false;
    }
  }

  async loadTags() {
    if (await this.fetchTags()) this.renderList();
  }

  renderList() {
    const entries = visibleEntries(this.tags, this.app.selected());
    const picked = pickCurrent(entries, getParam(this.app, "mesh_tag"), getParam(this.app, "mesh_run"));
    renderList(this.list, this.app, {
      entries, allTags: this.tags, what: "meshes",
      current: picked, onPick: (tag, r) => this.open(tag, r.run_id, null),
    });
    if (!picked) {
      this.current = null;
      this.showMessage(this.tags.length ? "Select a run that logged meshes." : "No meshes logged yet: SummaryWriter.add_mesh(tag, vertices, colors, faces).", "empty");
      return;
    }
    const same = this.current && this.current.tag === picked.tag && this.current.run === picked.run;
    if (!same) this.open(picked.tag, picked.run, Number(getParam(this.app, "mesh_step", "NaN")));
  }

  open(tag, run, step) {
    const t = this.tags.find((x) => x.tag === tag);
    const r = t && t.runs.find((x) => x.run_id === run);
    if (!r) return;
    const changed = !this.current || this.current.tag !== tag || this.current.run !== run;
    this.current = { tag, run, steps: r.steps };
    setParams(this.app, { mesh_tag: tag, mesh_run: run });
    for (const row of this.list.querySelectorAll(".series-row")) {
      row.classList.toggle("active", row.dataset.tag === tag && row.dataset.runId === run);
    }
    const runInfo = this.app.runsById.get(run);
    this.swatch.style.background = runColor(run);
    this.title.textContent = `${tag} · ${runInfo ? runInfo.name || run : run}`;
    const chosen = this.slider.set(r.steps, step);
    this.openStep(chosen, !changed);
  }

  async openStep(step, keepCamera = true) {
    if (!this.current) return;
    const { tag, run } = this.current;
    setParams(this.app, { mesh_step: step === this.current.steps[this.current.steps.length - 1] ? "" : step });
    const key = `${run}\u0000${tag}\u0000${step}`;
    let mesh = this.cache.get(key);
    if (!mesh) {
      this.setState("loading");
      if (this.loading) this.loading.abort();
      const controller = new AbortController();
      this.loading = controller;
      try {
        mesh = await getArrays("/api/meshes/mesh", { run, tag, step }, controller.signal);
      } catch (error) {
        if (error.name === "AbortError") return;
        this.fail("Could not load the mesh: " + error.message);
        return;
      }
      this.cache.set(key, mesh);
      if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value);
    }
    if (!this.current || this.current.run !== run || this.current.tag !== tag) return;
    this.mesh = mesh;
    this.draw(keepCamera && Boolean(this.scene && this.scene.object));
  }

  draw(keepCamera) {
    const mesh = this.mesh;
    if (!mesh) return;
    const h = mesh.header;
    this.fillBatch(h.batch);
    const b = Math.min(Number(this.batch.value) || 0, h.batch - 1);
    const counts = `${h.vertex_count.toLocaleString()} vertices · ${h.face_count.toLocaleString()} faces`;
    this.counts.textContent = h.batch > 1 ? `${counts} · item ${b + 1} of ${h.batch}` : counts;
    this.counts.dataset.vertices = String(h.vertex_count);
    this.counts.dataset.faces = String(h.face_count);
    this.counts.dataset.step = String(h.step);
    this.meta.textContent = `step ${h.step} · ${formatIso(h.wall_time)}` + (mesh.arrays.colors ? "" : " · no vertex colours");
    this.summary.textContent = h.bounds ? "extent " + h.bounds[0].map((lo, i) => (h.bounds[1][i] - lo).toPrecision(3)).join(" × ") : "";
    if (!this.ensureScene()) return;
    const options = { shaded: getParam(this.app, "mesh_shade") === "1", wireframe: getParam(this.app, "mesh_wire") === "1" };
    this.message.hidden = true;
    this.scene.show(mesh, b, options, keepCamera);
    const error = this.scene.glError();
    Object.assign(this.hook, {
      vertexCount: h.vertex_count, faceCount: h.face_count, glError: error, step: h.step, batch: b,
      colors: mesh.arrays.colors ? Array.from(mesh.arrays.colors.data) : null,
    });
    this.setState(error ? "error" : "drawn");
  }

  fillBatch(n) {
    this.batchBox.hidden = n <= 1;
    if (this.batch.options.length === n) return;
    this.batch.replaceChildren(...Array.from({ length: n }, (_, i) => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = `${i + 1} of ${n}`;
      return o;
    }));
    this.batch.value = String(Math.min(Number(getParam(this.app, "mesh_b", "0")) || 0, n - 1));
  }

  ensureScene() {
    if (this.scene) return true;
    try {
      this.scene = new this.Scene(this.box);
      return true;
    } catch (error) {
      this.hook.glError = String(error && error.message ? error.message : error);
      this.showMessage("This browser gives no WebGL context, so meshes cannot be drawn here (" + this.hook.glError + "). The counts above are the logged ones.", "no-webgl");
      return false;
    }
  }

  showMessage(text, state) {
    this.message.hidden = false;
    this.message.textContent = text;
    if (this.scene && state === "empty") {
      this.scene.clear();
      this.scene.render();
    }
    this.setState(state);
  }

  fail(text) {
    this.showMessage(text, "error");
    this.message.classList.add("error");
  }

  setState(state) {
    this.box.dataset.state = state;
    this.hook.state = state;
  }
}

export async function mount(el, app) {
  useStyle("series_list");
  useStyle("meshes");
  const view = new MeshesView(el, app);
  // three.js (about 190 kB gzipped) and the tag list load together, with this view only
  const [scene, listed] = await Promise.all([import("./meshes_scene.js"), view.fetchTags()]);
  view.Scene = scene.MeshScene;
  app.store.subscribe((state, keys) => {
    if (keys.has("runs")) view.renderList();
  });
  app.events.on("runs", () => view.loadTags());
  if (listed) view.renderList();
}

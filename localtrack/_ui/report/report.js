// The report page (docs/UI.md "Report export"): draws what the report's JSON holds, with
// uPlot and colors.js inlined before this script. It fetches nothing: every number, image and
// string is in the file. Strings reach the DOM by textContent only, never as HTML.
(function () {
  "use strict";

  const payload = JSON.parse(document.getElementById("report-data").textContent);
  const TYPES = { i4: Int32Array, f4: Float32Array, f8: Float64Array, u1: Uint8Array };
  const SVG = "http://www.w3.org/2000/svg";

  /** A packed array ({t, n, b}) as a Float64Array (u1: a Uint8Array). */
  function unpack(p) {
    const text = atob(p.b);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const typed = new TYPES[p.t](bytes.buffer, 0, p.n);
    return p.t === "u1" ? typed : Float64Array.from(typed);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v !== "number") return JSON.stringify(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4);
    return String(Number(v.toPrecision(6)));
  }

  function when(seconds) {
    if (seconds === null || seconds === undefined) return "";
    return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function duration(s) {
    if (s === null || s === undefined) return "";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  // Colours as the dashboard gives them: over every run of the root, by start time.
  assignColors(payload.color_runs.map(([run_id, started_at]) => ({ run_id, started_at })));
  const runsById = new Map(payload.runs.map((r) => [r.run_id, r]));
  const runName = (id) => {
    const r = runsById.get(id);
    return r ? (r.name || r.run_id) : id;
  };

  function swatch(id) {
    const s = el("span", "swatch");
    s.style.background = runColor(id);
    return s;
  }

  function section(id, title, count) {
    const s = el("section", "section");
    s.id = id;
    s.dataset.testid = "report-section";
    s.dataset.section = id;
    const h = el("h2", null, title);
    if (count !== undefined) h.appendChild(el("span", "count", count));
    s.appendChild(h);
    document.getElementById("report").appendChild(s);
    const link = el("a", null, title);
    link.href = "#" + id;
    document.getElementById("nav").appendChild(link);
    return s;
  }

  function table(headers, rows, testid) {
    const t = el("table", "grid");
    if (testid) t.dataset.testid = testid;
    const head = t.createTHead().insertRow();
    for (const h of headers) head.appendChild(el("th", null, h));
    const body = t.createTBody();
    for (const cells of rows) {
      const tr = body.insertRow();
      for (const c of cells) {
        const td = tr.insertCell();
        if (c instanceof Node) td.appendChild(c);
        else td.textContent = c;
      }
    }
    return t;
  }

  // -- header and runs ------------------------------------------------------------------

  document.getElementById("title").textContent = payload.title;
  document.title = payload.title;
  const facts = [
    `${payload.runs.length} run${payload.runs.length === 1 ? "" : "s"}`,
    `made ${when(payload.generated_at)}`,
    `localtrack ${payload.localtrack}`,
  ];
  if (payload.tags) facts.push(`tags matching /${payload.tags}/i`);
  if (payload.root) facts.push(payload.root);
  document.getElementById("facts").textContent = facts.join(" · ");

  const runsSection = section("runs", "Runs", payload.runs.length);
  runsSection.appendChild(table(
    ["", "name", "project", "status", "started", "duration", "host", "last step", "run id"],
    payload.runs.map((r) => {
      const status = el("span", "status status-" + r.status, r.status);
      return [swatch(r.run_id), r.name || "", r.project || "", status, when(r.started_at),
        duration(r.duration_s), r.host || "", fmt(r.last_step), r.run_id];
    }),
    "report-runs",
  ));

  // -- scalars --------------------------------------------------------------------------

  const held = new Map(); // tag → run id → {x, y, nx, ny}

  function chart(entry, into) {
    const card = el("div", "card chart");
    card.dataset.testid = "report-chart";
    card.dataset.tag = entry.tag;
    const title = el("div", "card-title", entry.tag);
    card.appendChild(title);
    const perRun = new Map();
    let nonfinite = 0;
    let points = 0;
    for (const s of entry.series) {
      const got = { x: unpack(s.x), y: unpack(s.y), nx: unpack(s.nx), ny: unpack(s.ny),
        points: s.points, reduced: s.reduced };
      perRun.set(s.run_id, got);
      nonfinite += got.nx.length;
      points += s.points;
    }
    held.set(entry.tag, perRun);
    const ids = [...perRun.keys()];
    const reducedAny = entry.series.some((s) => s.reduced);
    const note = `${points.toLocaleString("en-US")} points` +
      (reducedAny ? " · M4-reduced, every spike kept" : "") +
      (nonfinite ? ` · ${nonfinite} NaN/inf not drawn` : "");
    card.appendChild(el("div", "card-note", note));
    card.dataset.nonfinite = String(nonfinite);
    const plot = el("div", "plot");
    card.appendChild(plot);
    const legend = el("div", "legend");
    const values = new Map();
    const stepOut = el("span", "legend-step", "");
    legend.appendChild(stepOut);
    for (const id of ids) {
      const item = el("span", "legend-item");
      item.appendChild(swatch(id));
      item.appendChild(el("span", "legend-name", runName(id)));
      const v = el("span", "legend-value", "");
      v.dataset.testid = "legend-value";
      v.dataset.runId = id;
      item.appendChild(v);
      values.set(id, v);
      legend.appendChild(item);
    }
    card.appendChild(legend);
    into.appendChild(card);
    if (!ids.length) {
      card.dataset.state = "empty";
      return;
    }
    const tables = ids.map((id) => [perRun.get(id).x, perRun.get(id).y]);
    const data = tables.length === 1
      ? [Array.from(tables[0][0]), Array.from(tables[0][1])]
      : uPlot.join(tables.map(([x, y]) => [Array.from(x), Array.from(y)]));
    const series = [{ label: "step" }].concat(ids.map((id) => ({
      label: runName(id), stroke: runColor(id), width: 1.25, spanGaps: true,
      points: { show: perRun.get(id).x.length <= 40, size: 6, fill: runColor(id) },
    })));
    const opts = {
      width: payload.width,
      height: 200,
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 5 } },
      scales: { x: { time: false, range: (u, lo, hi) => (lo === hi ? [lo - 1, hi + 1] : [lo, hi]) } },
      axes: [
        { stroke: "#6b7385", grid: { stroke: "rgba(20,30,50,0.07)" }, ticks: { show: false }, size: 28 },
        { stroke: "#6b7385", grid: { stroke: "rgba(20,30,50,0.07)" }, ticks: { show: false }, size: 56 },
      ],
      series,
      hooks: {
        setCursor: [(u) => {
          const i = u.cursor.idx;
          stepOut.textContent = i === null || i === undefined ? "" : `step ${fmt(u.data[0][i])}`;
          ids.forEach((id, k) => {
            const v = i === null || i === undefined ? null : u.data[k + 1][i];
            values.get(id).textContent = v === null || v === undefined ? "" : fmt(v);
          });
        }],
      },
    };
    card.uplot = new uPlot(opts, data, plot);
    if (data[0].length === 1) card.uplot.setScale("x", { min: data[0][0] - 1, max: data[0][0] + 1 });
    card.dataset.state = "drawn";
  }

  if (payload.scalars.length) {
    const s = section("scalars", "Scalars", payload.scalars.length);
    const grid = el("div", "cards"); // sorted by tag, so a group's tags sit together
    s.appendChild(grid);
    for (const entry of payload.scalars) chart(entry, grid);
  }

  // -- hparams --------------------------------------------------------------------------

  if (payload.hparams) {
    const h = payload.hparams;
    const s = section("hparams", "Hparams", h.rows.length);
    const headers = ["", "run"].concat(h.hparams, h.metrics);
    const rows = h.rows.map((r) => {
      const name = runName(r.run_id) + (r.trials > 1 ? ` · ${r.trial ?? r.index}` : "");
      return [swatch(r.run_id), name]
        .concat(h.hparams.map((k) => fmt(r.hparams[k])))
        .concat(h.metrics.map((k) => fmt(r.metrics[k])));
    });
    const t = table(headers, rows, "report-hparams");
    const th = t.tHead.rows[0].cells;
    for (let i = 2 + h.hparams.length; i < th.length; i++) th[i].classList.add("metric");
    const wrap = el("div", "scroll");
    wrap.appendChild(t);
    s.appendChild(wrap);
  }

  // -- images ---------------------------------------------------------------------------

  if (payload.images.length) {
    const s = section("images", "Images", payload.images.length);
    const grid = el("div", "cards");
    s.appendChild(grid);
    for (const im of payload.images) {
      const card = el("figure", "card image");
      const title = el("div", "card-title");
      title.appendChild(swatch(im.run_id));
      title.appendChild(document.createTextNode(`${im.tag} · ${runName(im.run_id)}`));
      card.appendChild(title);
      const img = el("img");
      img.dataset.testid = "report-image";
      img.dataset.runId = im.run_id;
      img.dataset.tag = im.tag;
      img.alt = im.tag;
      img.src = im.src;
      if (Math.max(im.width || 0, im.height || 0) < 128) img.classList.add("pixelated");
      card.appendChild(img);
      const cap = el("figcaption", "card-note",
        `step ${im.step} (last of ${im.steps} step${im.steps === 1 ? "" : "s"}) · ${im.width}×${im.height}`);
      card.appendChild(cap);
      if (im.caption) card.appendChild(el("div", "caption", im.caption));
      grid.appendChild(card);
    }
  }

  // -- one run's other streams ----------------------------------------------------------

  function ridges(h) {
    const w = 520, rowH = 9, peak = 60;
    const n = h.ridges.length;
    const H = peak + rowH * Math.max(0, n - 1) + 24;
    const box = svg("svg", { viewBox: `0 0 ${w} ${H}`, width: w, height: H, class: "ridges" });
    const lo = h.edges[0], hi = h.edges[h.edges.length - 1];
    let top = 0;
    for (const r of h.ridges) for (const c of r.counts) top = Math.max(top, c);
    const xAt = (v) => 40 + (w - 60) * (hi > lo ? (v - lo) / (hi - lo) : 0.5);
    h.ridges.forEach((r, i) => { // oldest at the back (top), newest in front (bottom)
      const base = peak + rowH * i;
      let d = `M ${xAt(h.edges[0])} ${base}`;
      r.counts.forEach((c, j) => {
        const y = base - (top ? (c / top) * peak : 0);
        d += ` L ${xAt(h.edges[j])} ${y} L ${xAt(h.edges[j + 1])} ${y}`;
      });
      d += ` L ${xAt(h.edges[h.edges.length - 1])} ${base} Z`;
      const front = n === 1 ? 1 : i / (n - 1); // 0 for the oldest ridge, 1 for the newest
      box.appendChild(svg("path", { d, fill: `rgba(47,125,225,${(0.12 + 0.5 * front).toFixed(3)})`,
        stroke: `rgba(31,84,160,${(0.35 + 0.65 * front).toFixed(3)})`, "stroke-width": 0.8 }));
      if (i === 0 || i === n - 1) {
        const t = svg("text", { x: w - 16, y: base, "text-anchor": "end", class: "axis-label" });
        t.textContent = `step ${r.step}`;
        box.appendChild(t);
      }
    });
    for (const v of [lo, hi]) {
      const t = svg("text", { x: xAt(v), y: H - 4, "text-anchor": "middle", class: "axis-label" });
      t.textContent = fmt(v);
      box.appendChild(t);
    }
    return box;
  }

  function runTitle(entry, extra) {
    const title = el("div", "card-title");
    title.appendChild(swatch(entry.run_id));
    title.appendChild(document.createTextNode(`${entry.tag} · ${runName(entry.run_id)}${extra || ""}`));
    return title;
  }

  if (payload.histograms && payload.histograms.length) {
    const s = section("histograms", "Histograms", payload.histograms.length);
    const grid = el("div", "cards");
    s.appendChild(grid);
    for (const h of payload.histograms) {
      const card = el("div", "card histogram");
      card.dataset.testid = "report-histogram";
      card.dataset.tag = h.tag;
      card.dataset.ridges = String(h.ridges.length);
      card.appendChild(runTitle(h));
      card.appendChild(el("div", "card-note",
        `${h.ridges.length} of ${h.total_steps} steps, newest in front`));
      card.appendChild(ridges(h));
      grid.appendChild(card);
    }
  }

  if (payload.pr_curves && payload.pr_curves.length) {
    const s = section("pr_curves", "PR curves", payload.pr_curves.length);
    const grid = el("div", "cards");
    s.appendChild(grid);
    for (const c of payload.pr_curves) {
      const card = el("div", "card pr");
      card.dataset.testid = "report-pr-curve";
      card.dataset.tag = c.tag;
      card.appendChild(runTitle(c, ` · step ${c.step}`));
      const precision = unpack(c.precision), recall = unpack(c.recall);
      const w = 260, h = 220, pad = 32;
      const box = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h });
      box.appendChild(svg("rect", { x: pad, y: 8, width: w - pad - 8, height: h - pad - 8, class: "frame" }));
      const pts = [];
      for (let i = 0; i < precision.length; i++) {
        if (!Number.isFinite(precision[i]) || !Number.isFinite(recall[i])) continue;
        pts.push(`${pad + recall[i] * (w - pad - 8)},${8 + (1 - precision[i]) * (h - pad - 8)}`);
      }
      box.appendChild(svg("polyline", { points: pts.join(" "), fill: "none", stroke: runColor(c.run_id), "stroke-width": 1.5 }));
      for (const [text, x, y, anchor] of [["recall", w / 2, h - 6, "middle"], ["0", pad, h - pad + 14, "middle"],
        ["1", w - 8, h - pad + 14, "middle"], ["1", pad - 4, 12, "end"], ["0", pad - 4, h - pad, "end"]]) {
        const t = svg("text", { x, y, "text-anchor": anchor, class: "axis-label" });
        t.textContent = text;
        box.appendChild(t);
      }
      const ylabel = svg("text", { x: 0, y: 0, "text-anchor": "middle", class: "axis-label",
        transform: `translate(14 ${(h - pad) / 2 + 4}) rotate(-90)` });
      ylabel.textContent = "precision";
      box.appendChild(ylabel);
      card.appendChild(box);
      card.appendChild(el("div", "card-note", `${precision.length} thresholds · last of ${c.steps} steps`));
      grid.appendChild(card);
    }
  }

  function meshView(m) {
    const v = unpack(m.vertices), f = unpack(m.faces);
    const colors = m.colors ? unpack(m.colors) : null;
    const w = 260, h = 220;
    const box = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: "mesh" });
    const n = v.length / 3;
    if (!n) return box;
    let cx = 0, cy = 0, cz = 0;
    for (let i = 0; i < n; i++) { cx += v[3 * i]; cy += v[3 * i + 1]; cz += v[3 * i + 2]; }
    cx /= n; cy /= n; cz /= n;
    const a = 0.35, b = 0.3; // a fixed view: turned about y, then tilted about x
    const P = new Float64Array(3 * n);
    let r = 0;
    for (let i = 0; i < n; i++) {
      const x = v[3 * i] - cx, y = v[3 * i + 1] - cy, z = v[3 * i + 2] - cz;
      const x1 = x * Math.cos(a) + z * Math.sin(a), z1 = -x * Math.sin(a) + z * Math.cos(a);
      const y2 = y * Math.cos(b) - z1 * Math.sin(b), z2 = y * Math.sin(b) + z1 * Math.cos(b);
      P[3 * i] = x1; P[3 * i + 1] = y2; P[3 * i + 2] = z2;
      r = Math.max(r, Math.hypot(x1, y2));
    }
    const s = r ? (Math.min(w, h) / 2 - 12) / r : 1;
    const X = (i) => w / 2 + P[3 * i] * s, Y = (i) => h / 2 - P[3 * i + 1] * s;
    const rgb = (i) => colors && colors.length >= 3 * (i + 1)
      ? [colors[3 * i], colors[3 * i + 1], colors[3 * i + 2]] : [120, 140, 170];
    const tris = [];
    for (let k = 0; k + 2 < f.length; k += 3) {
      const [i, j, l] = [f[k], f[k + 1], f[k + 2]];
      if (i >= n || j >= n || l >= n) continue;
      // the face's normal, for a little light from the viewer: its tilt shows the shape
      const ux = P[3 * j] - P[3 * i], uy = P[3 * j + 1] - P[3 * i + 1], uz = P[3 * j + 2] - P[3 * i + 2];
      const vx = P[3 * l] - P[3 * i], vy = P[3 * l + 1] - P[3 * i + 1], vz = P[3 * l + 2] - P[3 * i + 2];
      const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
      const lit = 0.7 + 0.3 * Math.abs(nz) / (Math.hypot(nx, ny, nz) || 1);
      tris.push([i, j, l, P[3 * i + 2] + P[3 * j + 2] + P[3 * l + 2], lit]);
    }
    tris.sort((p, q) => p[3] - q[3]); // far to near (+z towards the viewer)
    for (const [i, j, l, , lit] of tris) {
      const c = [rgb(i), rgb(j), rgb(l)].reduce((acc, x) => acc.map((t, q) => t + (lit * x[q]) / 3), [0, 0, 0]);
      box.appendChild(svg("polygon", {
        points: `${X(i)},${Y(i)} ${X(j)},${Y(j)} ${X(l)},${Y(l)}`,
        fill: `rgb(${c.map(Math.round).join(",")})`, stroke: "rgba(0,0,0,0.35)", "stroke-width": 0.6,
      }));
    }
    if (!tris.length) {
      for (let i = 0; i < n; i++) {
        box.appendChild(svg("circle", { cx: X(i), cy: Y(i), r: 1.5, fill: `rgb(${rgb(i).join(",")})` }));
      }
    }
    return box;
  }

  if (payload.meshes && payload.meshes.length) {
    const s = section("meshes", "Meshes", payload.meshes.length);
    const grid = el("div", "cards");
    s.appendChild(grid);
    for (const m of payload.meshes) {
      const card = el("div", "card mesh-card");
      card.dataset.testid = "report-mesh";
      card.dataset.tag = m.tag;
      card.dataset.vertices = String(m.vertex_count);
      card.dataset.faces = String(m.face_count);
      card.appendChild(runTitle(m, ` · step ${m.step}`));
      card.appendChild(meshView(m));
      const bounds = m.bounds ? ` · bounds ${m.bounds[0].map(fmt).join(", ")} … ${m.bounds[1].map(fmt).join(", ")}` : "";
      card.appendChild(el("div", "card-note", `${m.vertex_count} vertices · ${m.face_count} faces${bounds}`));
      grid.appendChild(card);
    }
  }

  if (payload.texts && payload.texts.length) {
    const s = section("texts", "Text", payload.texts.length);
    for (const t of payload.texts) {
      const card = el("div", "card text");
      card.dataset.testid = "report-text";
      card.dataset.tag = t.tag;
      card.appendChild(runTitle(t, ` · last ${t.items.length} of ${t.steps} steps`));
      for (const item of t.items.slice().reverse()) {
        card.appendChild(el("div", "text-step", `step ${item.step}`));
        card.appendChild(el("pre", null, item.text));
      }
      s.appendChild(card);
    }
  }

  if (!document.getElementById("report").children.length) {
    document.getElementById("report").appendChild(el("p", "muted", "These runs logged nothing to show."));
  }

  // For tests and scripts: the values each chart holds, decoded from the file.
  window.localtrackReport = {
    payload,
    series(tag, runId) {
      const got = held.get(tag) && held.get(tag).get(runId);
      if (!got) return null;
      return { x: Array.from(got.x), y: Array.from(got.y), nx: Array.from(got.nx),
        ny: Array.from(got.ny).map(String), points: got.points, reduced: got.reduced };
    },
  };
  document.body.dataset.state = "ready";
})();

// The left column of the Meshes, Embeddings and Graphs views: each tag that the selected runs
// logged, with a row per run that has it (its colour, name, step count). Only runs and tags
// with data are listed; when none of the selected runs has any, it says which other runs do.

import { runColor } from "../colors.js";
import { el } from "../format.js";

function runName(app, id) {
  const run = app.runsById.get(id);
  return run ? run.name || run.run_id : id;
}

/** The (tag, run) entries of a tags answer that belong to the selected runs. */
export function visibleEntries(tags, selected) {
  const chosen = new Set(selected);
  const out = [];
  for (const t of tags) {
    const runs = t.runs.filter((r) => chosen.has(r.run_id));
    if (runs.length) out.push({ ...t, runs });
  }
  return out;
}

/**
 * Renders the list into `box`. `entries` from visibleEntries; `current` {tag, run} marks the
 * open one; `onPick(tag, runEntry)` is called on click. `allTags` (every run's) feeds the hint
 * shown when nothing is listed. `what` names the stream in the user's words ("meshes").
 */
export function renderList(box, app, { entries, allTags, current, onPick, what, detail }) {
  box.replaceChildren();
  if (!entries.length) {
    const others = new Set(allTags.flatMap((t) => t.runs.map((r) => r.run_id)));
    const hint = el("div", "series-empty");
    hint.dataset.testid = "series-empty";
    hint.append(el("div", "series-empty-title", `No ${what} in the selected runs`));
    if (others.size) {
      hint.append(el("div", "muted", `${others.size} other run${others.size === 1 ? "" : "s"} logged ${what}.`));
      const button = el("button", "button", "Select them");
      button.type = "button";
      button.addEventListener("click", () => app.setSelected([...others]));
      hint.append(button);
    } else {
      hint.append(el("div", "muted", `No run in this root logged ${what}.`));
    }
    box.append(hint);
    return;
  }
  for (const t of entries) {
    const group = el("div", "series-group");
    group.append(el("div", "series-tag", t.tag));
    for (const r of t.runs) {
      const row = el("button", "series-row");
      row.type = "button";
      row.dataset.testid = "series-row";
      row.dataset.tag = t.tag;
      row.dataset.runId = r.run_id;
      if (current && current.tag === t.tag && current.run === r.run_id) row.classList.add("active");
      const swatch = el("span", "swatch swatch-small");
      swatch.style.background = runColor(r.run_id);
      row.append(swatch, el("span", "series-run", runName(app, r.run_id)));
      row.append(el("span", "series-detail", detail ? detail(r) : stepsText(r.steps)));
      row.title = `${t.tag} · ${runName(app, r.run_id)} (${r.run_id})`;
      row.addEventListener("click", () => onPick(t.tag, r));
      group.append(row);
    }
    box.append(group);
  }
}

function stepsText(steps) {
  return steps.length === 1 ? "step " + steps[0] : steps.length + " steps";
}

/** The entry to open: the URL's (tag, run) if listed (the tag's first run when the run is
 * not), else the first. */
export function pickCurrent(entries, tag, run) {
  for (const t of entries) {
    if (t.tag !== tag) continue;
    const r = t.runs.find((x) => x.run_id === run) || t.runs[0];
    return { tag, run: r.run_id, entry: r };
  }
  if (!entries.length) return null;
  return { tag: entries[0].tag, run: entries[0].runs[0].run_id, entry: entries[0].runs[0] };
}

/** A step slider over `steps` (every logged step): {element, set(steps, step), onChange}. */
export function stepSlider(testid, onChange) {
  const box = el("label", "control step-control");
  box.append(el("span", "control-label", "Step"));
  const input = document.createElement("input");
  input.type = "range";
  input.className = "slider step-slider";
  input.min = "0";
  input.dataset.testid = testid;
  const readout = el("span", "readout step-readout");
  readout.dataset.testid = testid + "-value";
  box.append(input, readout);
  let steps = [];
  const show = () => {
    readout.textContent = steps.length ? String(steps[Number(input.value)]) : "";
  };
  input.addEventListener("input", () => {
    show();
    onChange(steps[Number(input.value)]);
  });
  return {
    element: box,
    set(list, step) {
      steps = list;
      input.max = String(Math.max(0, list.length - 1));
      let i = list.indexOf(step);
      if (i < 0) i = list.length - 1;
      input.value = String(Math.max(0, i));
      input.disabled = list.length <= 1;
      show();
      return list[Math.max(0, i)];
    },
  };
}

// A slider over every logged step of one (run, tag): positions are the steps themselves, so
// no step is skipped. It reports each move at once (the view loads only what the new step
// needs, cancelling the previous load); arrow keys move one logged step.

import { el } from "../format.js";

/**
 * createStepSlider(steps, {index, onChange(step, index)}) -> {el, input, set(index), step()}.
 * `steps` is a sorted array of integers; `index` the initial position (default: the last).
 */
export function createStepSlider(steps, { index = steps.length - 1, onChange = () => {} } = {}) {
  const wrap = el("div", "step-slider");
  const input = el("input", "slider step-range");
  Object.assign(input, { type: "range", min: "0", max: String(Math.max(0, steps.length - 1)), step: "1" });
  input.value = String(Math.max(0, Math.min(index, steps.length - 1)));
  input.dataset.testid = "step-slider";
  input.disabled = steps.length < 2;
  input.setAttribute("aria-label", "step");
  const readout = el("span", "step-readout");
  readout.dataset.testid = "step-readout";
  const position = el("span", "step-position");
  wrap.append(input, readout, position);
  const show = () => {
    const i = Number(input.value);
    readout.textContent = "step " + steps[i];
    position.textContent = (i + 1) + " / " + steps.length;
    input.dataset.step = String(steps[i]);
  };
  input.addEventListener("input", () => {
    show();
    const i = Number(input.value);
    onChange(steps[i], i);
  });
  show();
  return {
    el: wrap,
    input,
    set(i) {
      input.value = String(i);
      show();
      onChange(steps[Number(input.value)], Number(input.value));
    },
    step: () => steps[Number(input.value)],
    index: () => Number(input.value),
  };
}

/** The index of `step` in `steps` (sorted), or of the nearest step after it (else the last). */
export function indexOf(steps, step) {
  let lo = 0;
  let hi = steps.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] < step) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(0, lo);
}

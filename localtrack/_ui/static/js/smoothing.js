// TensorBoard's debiased exponential moving average ("classic smoothing"), exactly.
//
// As tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts and the older
// vz_line_chart2/line-chart.ts resetSmoothing(): the weight is clamped to [0, 1]; a constant
// series is returned as it is (TensorBoard #786); a non-finite value passes through
// unsmoothed and does not update the running average; otherwise
//   last = last * w + (1 - w) * y;  n++;  smoothed = last / (w == 1 ? 1 : 1 - w ** n).

/** Smooth `values` (any array-like of numbers); returns a new Float64Array. */
export function smooth(values, weight) {
  let w = Number(weight);
  if (!Number.isFinite(w)) w = 0;
  w = Math.max(0, Math.min(w, 1));
  const n = values.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  const first = values[0];
  let constant = true;
  for (let i = 1; i < n; i++) {
    if (values[i] != first) { // eslint-disable-line eqeqeq -- TensorBoard compares with ==
      constant = false;
      break;
    }
  }
  if (constant) {
    out.set(values);
    return out;
  }
  let last = 0;
  let accumulated = 0;
  for (let i = 0; i < n; i++) {
    const y = values[i];
    if (!Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * w + (1 - w) * y;
    accumulated++;
    const debias = w === 1 ? 1 : 1 - Math.pow(w, accumulated);
    out[i] = last / debias;
  }
  return out;
}

// Live updates: poll /api/live?since=G every 0.5 s while the tab is visible (none while it is
// hidden); refetch the runs when they changed, and tell the open charts which runs have new
// rows so they ask for the rows after the last x they hold.

import { getJSON } from "./api.js";

const PERIOD_MS = 500;
const RUNS_REFRESH_MS = 5000;

/** Start polling; `indicator` shows whether the page is live, paused or offline. */
export function startLive(app, indicator) {
  const text = indicator.querySelector("#live-text");
  let timer = 0;
  let inFlight = false;
  let lastRunsLoad = Date.now();
  const show = (state, label) => {
    indicator.dataset.state = state;
    text.textContent = label;
  };

  async function poll() {
    const body = await getJSON("/api/live", { since: app.generation });
    const previous = app.generation;
    app.generation = body.generation;
    if (body.reset) {
      await app.loadRuns();
      lastRunsLoad = Date.now();
      app.events.emit("live", new Set(app.runs.map((r) => r.run_id)));
      return;
    }
    const running = app.runs.some((r) => r.status === "running");
    if (body.runs_changed || (running && Date.now() - lastRunsLoad > RUNS_REFRESH_MS && body.generation !== previous)) {
      await app.loadRuns();
      lastRunsLoad = Date.now();
    }
    if (body.changed && body.changed.length) app.events.emit("live", new Set(body.changed));
  }

  async function tick() {
    timer = 0;
    if (document.visibilityState !== "visible") {
      show("paused", "paused");
      return;
    }
    if (inFlight) return;
    inFlight = true;
    try {
      await poll();
      show("live", "live");
    } catch (error) {
      show("offline", error && error.status === 401 ? "token refused" : "offline");
    } finally {
      inFlight = false;
    }
    if (!timer) timer = setTimeout(tick, PERIOD_MS);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !timer) tick();
    else if (document.visibilityState !== "visible") show("paused", "paused");
  });
  tick();
}

// Shared by the lazily loaded views (js/views/*.js): their stylesheet, their URL parameters.

/** Adds static/css/<name>.css to the page once (a view's own styles load with the view). */
export function useStyle(name) {
  const href = "/static/css/" + name + ".css";
  if (document.querySelector(`link[rel=stylesheet][href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}

/** A view's own URL parameter (text), or the fallback when absent. */
export function getParam(app, key, fallback = "") {
  const value = app.store.get().extra[key];
  return value === undefined ? fallback : value;
}

/** Sets (or, with "" / null, removes) a view's own URL parameters. */
export function setParams(app, patch) {
  const extra = { ...app.store.get().extra };
  for (const [k, v] of Object.entries(patch)) {
    if (v === "" || v === null || v === undefined) delete extra[k];
    else extra[k] = String(v);
  }
  app.store.set({ extra });
}

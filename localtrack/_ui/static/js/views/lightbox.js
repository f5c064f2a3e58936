// A full-size look at one thing (an image, a video frame): an overlay over the page, closed
// by a click, Escape or its button. The content is shown at its natural size, scrolling
// when it is larger than the window.

import { el } from "../format.js";

export function openLightbox(content, caption) {
  const overlay = el("div", "lightbox");
  overlay.dataset.testid = "lightbox";
  const frame = el("div", "lightbox-frame");
  const close = el("button", "icon-button lightbox-close", "✕");
  close.type = "button";
  close.title = "close (Esc)";
  frame.append(content);
  if (caption) frame.append(el("div", "lightbox-caption", caption));
  overlay.append(close, frame);
  const done = () => {
    overlay.remove();
    document.removeEventListener("keydown", onKey);
  };
  const onKey = (event) => { if (event.key === "Escape") done(); };
  overlay.addEventListener("click", (event) => { if (event.target === overlay || event.target === close) done(); });
  document.addEventListener("keydown", onKey);
  document.body.append(overlay);
  return done;
}

// Markdown as TensorBoard's text dashboard shows it, rendered safely. Two layers:
// 1. the vendored `marked` (static/vendor/marked) with its HTML renderers replaced, so HTML in
//    the text comes out as text (escaped), images as a text placeholder (nothing is fetched),
//    and links only with http(s), mailto or in-page targets;
// 2. its output parsed in an inert document (DOMParser: no script runs, nothing loads) and
//    copied into the page element by element from an allowlist; other elements keep only
//    their text, and only the attributes listed survive.

import { Marked } from "../../vendor/marked/marked.esm.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function safeHref(href) {
  const h = String(href || "").trim();
  if (/^(https?:|mailto:)/i.test(h) || h.startsWith("#")) return h;
  return null;
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html(token) {  // shown as code, so that it reads as the text it is
      const text = escapeHtml(token.text);
      return token.block ? `<pre><code>${text.replace(/\n+$/, "")}</code></pre>\n` : `<code>${text}</code>`;
    },
    image(token) {
      return `<span class="md-image">[image: ${escapeHtml(token.text || token.href)}]</span>`;
    },
    link(token) {
      const inner = this.parser.parseInline(token.tokens);
      const href = safeHref(token.href);
      if (href === null) return inner;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : "";
      return `<a href="${escapeHtml(href)}"${title} rel="noopener noreferrer" target="_blank">${inner}</a>`;
    },
  },
});

const ALLOWED = new Set(["P", "H1", "H2", "H3", "H4", "H5", "H6", "UL", "OL", "LI", "BLOCKQUOTE",
  "PRE", "CODE", "EM", "STRONG", "DEL", "A", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "HR", "BR",
  "SPAN", "INPUT"]);
const ATTRIBUTES = { A: ["href", "title", "rel", "target"], TH: ["align"], TD: ["align"],
  OL: ["start"], CODE: ["class"], SPAN: ["class"], INPUT: ["type", "checked", "disabled"] };

function copyNode(node, into) {
  if (node.nodeType === Node.TEXT_NODE) {
    into.append(document.createTextNode(node.textContent));
    return;
  }
  if (node.nodeType !== Node.ELEMENT_NODE) return;
  if (!ALLOWED.has(node.tagName)) {
    for (const child of node.childNodes) copyNode(child, into);
    return;
  }
  if (node.tagName === "INPUT" && node.getAttribute("type") !== "checkbox") return;
  const out = document.createElement(node.tagName.toLowerCase());
  for (const name of ATTRIBUTES[node.tagName] || []) {
    if (!node.hasAttribute(name)) continue;
    const value = node.getAttribute(name);
    if (name === "href" && safeHref(value) === null) continue;
    if (name === "class" && !/^(language-[\w-]+|md-image)$/.test(value)) continue;
    out.setAttribute(name, value);
  }
  if (node.tagName === "INPUT") out.disabled = true;
  for (const child of node.childNodes) copyNode(child, out);
  into.append(out);
}

/** Render `text` (markdown) into `element`, replacing what it held. */
export function renderMarkdown(element, text) {
  const html = marked.parse(String(text ?? ""), { async: false });
  const inert = new DOMParser().parseFromString("<!doctype html><body>" + html, "text/html");
  const fragment = document.createDocumentFragment();
  for (const child of inert.body.childNodes) copyNode(child, fragment);
  element.replaceChildren(fragment);
}

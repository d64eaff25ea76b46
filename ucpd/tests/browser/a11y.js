// The accessibility basics of the page it runs in; returns one sentence per problem.
// - every visible form control has a label (a <label>, aria-label or aria-labelledby);
// - every button and link has a name;
// - every image has a text alternative;
// - the page has a language, a title, one h1, and no positive tabindex;
// - every visible text has a contrast ratio of at least 4.5:1 with what is behind it
//   (WCAG 2's relative luminance; semi-transparent backgrounds composited on white).
const problems = [];
const describe = (el) =>
  el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.name ? "[name=" + el.name + "]" : "");

function shown(el) {
  const style = getComputedStyle(el);
  if (style.display === "none" || style.visibility === "hidden") return false;
  const box = el.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
}

function labelled(el) {
  if (el.labels && Array.from(el.labels).some((l) => l.textContent.trim())) return true;
  if ((el.getAttribute("aria-label") || "").trim()) return true;
  const by = el.getAttribute("aria-labelledby");
  return !!(by && by.split(/\s+/).some((id) => {
    const target = document.getElementById(id);
    return target && target.textContent.trim();
  }));
}

for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden") continue;
  if (!labelled(el)) problems.push("no label for " + describe(el));
}

for (const el of document.querySelectorAll("button, a[href], [role=button], input[type=submit]")) {
  const name = (el.textContent || "").trim() || (el.getAttribute("aria-label") || "").trim() ||
    (el.value || "").trim();
  if (!name) problems.push("no name for " + describe(el) + ": " + el.outerHTML.slice(0, 80));
}

for (const el of document.querySelectorAll("img, svg[role=img], [role=img]")) {
  const alt = el.tagName.toLowerCase() === "img" ? el.getAttribute("alt") : el.getAttribute("aria-label");
  if (!alt || !alt.trim()) problems.push("no text alternative for " + describe(el));
}

if (!(document.documentElement.getAttribute("lang") || "").trim()) problems.push("the page has no lang");
if (!document.title.trim()) problems.push("the page has no title");
const headings = document.querySelectorAll("h1").length;
if (headings !== 1) problems.push("the page has " + headings + " h1 headings, not one");
for (const el of document.querySelectorAll("[tabindex]")) {
  if (el.tabIndex > 0) problems.push("positive tabindex on " + describe(el));
}

function rgba(text) {
  const m = /rgba?\(([^)]+)\)/.exec(text || "");
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
}

function over(top, below) {
  return {
    r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a),
    a: 1,
  };
}

function behind(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) {
      layers.push(c);
      if (c.a >= 1) break;
    }
  }
  let colour = { r: 255, g: 255, b: 255, a: 1 };
  for (let i = layers.length - 1; i >= 0; i--) colour = over(layers[i], colour);
  return colour;
}

function luminance(c) {
  const f = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
}

function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const checked = new Set();
while (walker.nextNode()) {
  const node = walker.currentNode;
  const text = node.textContent.trim();
  const el = node.parentElement;
  if (!text || !el || checked.has(el)) continue;
  checked.add(el);
  // The chart is one image with its text alternative; hidden-for-sight text is for readers.
  if (el.closest("svg") || el.closest(".visually-hidden") || el.closest("option")) continue;
  if (!shown(el)) continue;
  const fg = rgba(getComputedStyle(el).color);
  if (!fg) continue;
  const bg = behind(el);
  const ratio = contrast(fg.a < 1 ? over(fg, bg) : fg, bg);
  if (ratio < 4.5) {
    problems.push("contrast " + ratio.toFixed(2) + ":1 for \"" + text.slice(0, 40) + "\" in " +
      describe(el) + " (" + getComputedStyle(el).color + " on rgb(" +
      [bg.r, bg.g, bg.b].map(Math.round).join(", ") + "))");
  }
}

return problems;

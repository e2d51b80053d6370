// Showing a finished job: boxes and top labels over the sketch, a card per object with its strip of
// reference photos and their attribution, the label-candidates sheet and the photo viewer.

import { trackDownload } from "./api.js";

// Each at least 4.5:1 against white (the chip and swatch text), so the labels stay readable.
export const COLORS = ["#c2410c", "#1d4ed8", "#15803d", "#9333ea", "#a16207", "#0e7490", "#b91c1c", "#5f3dc4"];

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
};

export const pretty = (label) => (label ? label.charAt(0).toUpperCase() + label.slice(1) : "Unknown");
const pct = (score) => `${Math.round(Math.max(0, Math.min(1, Number(score) || 0)) * 100)}%`;
/** The label shown for an object: the user's pick when there is one, else the classifier's first. */
const topLabel = (obj) => {
  if (obj.picked_label) {
    const known = (obj.labels || []).find((l) => l.label === obj.picked_label);
    return { label: obj.picked_label, score: known ? known.score : null, picked: true };
  }
  return (obj.labels && obj.labels[0]) || { label: obj.detector_label || "", score: obj.score };
};
const scoreText = (top) => (top.picked ? "your pick" : pct(top.score));
// recognition's `confident` field; a server without it is taken at its word (confident).
export const isSure = (obj) => obj.confident !== false;
const article = (w) => (/^[aeiou]/i.test(w) ? "an" : "a");
/** "Not sure — maybe a cup, a mug or a vase?" from an object's candidates (at most three). */
export function notSureText(obj) {
  const names = (obj.labels || []).slice(0, 3).map((l) => `${article(l.label)} ${l.label}`);
  if (!names.length) return "Not sure what this is.";
  const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}` : names[0];
  return `Not sure — maybe ${list}?`;
}
const providerName = (p) => (p === "unsplash" ? "Unsplash" : p === "local" ? "sketchref gallery" : p || "the web");
/** The label whose photos the references are: the object's own, or another candidate's (the
 * server's `references_label`; a server without it gave the object's own). */
const shownLabel = (obj, top) => obj.references_label || top.label;
/** The labels the recommender tried, in its order: the pick, then the first three candidates. */
const triedLabels = (obj) => [...new Set([obj.picked_label, ...(obj.labels || []).slice(0, 3).map((l) => l.label)]
  .filter(Boolean))];
/** "No photos of a face — here is the next guess, owl." / "No photos of a face, nor of an owl or a cat." */
export function referencesNote(obj) {
  const top = topLabel(obj);
  const own = top.label;
  if ((obj.references || []).length) {
    const shown = shownLabel(obj, top);
    return shown === own ? null : `No photos of ${article(own)} ${own} — here is the next guess, ${shown}.`;
  }
  const others = triedLabels(obj).filter((l) => l !== own).map((l) => `${article(l)} ${l}`);
  if (!own) return "No reference photos for this one.";
  if (!others.length) return `No photos of ${article(own)} ${own}.`;
  const list = others.length > 1 ? `${others.slice(0, -1).join(", ")} or ${others[others.length - 1]}` : others[0];
  return `No photos of ${article(own)} ${own}, nor of ${list}.`;
}
/** The short credit under a thumbnail: the author, else the photo's name in its set. */
const shortCredit = (ref) => ref.author || ref.title || ref.collection || providerName(ref.provider);

/** Safe http(s) or same-origin link, or null. */
function safeUrl(url) {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

function link(url, text, cls) {
  const href = safeUrl(url);
  return href ? el("a", { href, target: "_blank", rel: "noopener", class: cls }, text) : el("span", { class: cls }, text);
}

/** A thumbnail whose picture is fetched only by `loadThumbs` (after the labels are on screen). */
function thumb(src, alt, fallbackText) {
  const wrap = el("span", { class: "thumb" });
  const img = el("img", { alt, loading: "lazy", decoding: "async", referrerpolicy: "no-referrer" });
  img.addEventListener("error", () => {
    wrap.classList.add("broken");
    wrap.dataset.initial = (fallbackText || "?").charAt(0).toUpperCase();
  });
  const href = safeUrl(src);
  if (href) img.dataset.src = href;
  else {
    wrap.classList.add("broken");
    wrap.dataset.initial = (fallbackText || "?").charAt(0).toUpperCase();
  }
  wrap.append(img);
  return wrap;
}

export class ResultsView {
  constructor({ overlay, list, empty, title, labelsDialog, viewer, onPick = null }) {
    this.onPick = onPick; // (objectIndex, label) => void: the user picked the right label
    this.overlay = overlay;
    this.list = list;
    this.empty = empty;
    this.title = title;
    this.labelsDialog = labelsDialog;
    this.viewer = viewer;
    this.job = null;
  }

  clear() {
    this.job = null;
    this.overlay.replaceChildren();
    this.list.replaceChildren();
    this.empty.hidden = true;
  }

  /** The region of drawing space worth showing: the ink plus every box, with room for the chips. */
  focusBox(ink, space) {
    const boxes = (this.job?.objects || []).map((o) => o.box);
    if (ink) boxes.push(ink);
    if (!boxes.length) return null;
    let [x1, y1, x2, y2] = boxes[0];
    for (const b of boxes) {
      x1 = Math.min(x1, b[0]); y1 = Math.min(y1, b[1]); x2 = Math.max(x2, b[2]); y2 = Math.max(y2, b[3]);
    }
    const pad = Math.max(x2 - x1, y2 - y1) * 0.08 + 12;
    return [Math.max(0, x1 - pad), Math.max(0, y1 - pad - 16), Math.min(space.w, x2 + pad), Math.min(space.h, y2 + pad)];
  }

  /** Labels first: the cards go on screen at once; their photos are fetched after the next paint,
   * so neither their requests nor their decoding delay the labels. */
  show(job) {
    this.clear();
    this.job = job;
    const objects = job.objects || [];
    this.empty.hidden = objects.length > 0;
    this.title.textContent = objects.length
      ? `Found ${objects.length} ${objects.length === 1 ? "object" : "objects"}`
      : "Found in your sketch";
    objects.forEach((obj, i) => this.list.append(this.card(obj, i)));
    const shown = this.job;
    requestAnimationFrame(() => setTimeout(() => { if (this.job === shown) this.loadThumbs(); }, 0));
  }

  loadThumbs() {
    for (const img of this.list.querySelectorAll("img[data-src]")) {
      img.src = img.dataset.src;
      delete img.dataset.src;
    }
  }

  /** Boxes and top labels over the sketch, placed through the pad's current view. */
  layoutOverlay(pad) {
    this.overlay.replaceChildren();
    if (!this.job) return;
    const { w, h } = pad.size();
    (this.job.objects || []).forEach((obj, i) => {
      const [x1, y1] = pad.toScreen([obj.box[0], obj.box[1]]);
      const [x2, y2] = pad.toScreen([obj.box[2], obj.box[3]]);
      const color = COLORS[i % COLORS.length];
      const top = topLabel(obj);
      const box = el("div", {
        class: "box",
        style: `--c:${color};left:${x1}px;top:${y1}px;width:${Math.max(2, x2 - x1)}px;height:${Math.max(2, y2 - y1)}px`,
      });
      const chip = el(
        "button",
        {
          type: "button",
          class: `chip${y1 < 30 ? " inside" : ""}${x1 > w - 120 ? " right" : ""}`,
          style: `--c:${color}`,
          "data-testid": "object-box",
          onclick: () => this.openLabels(i),
        },
        el("span", { class: "chip-name" }, pretty(top.label) + (isSure(obj) || top.picked ? "" : "?")),
        " ",
        el("span", { class: "chip-score" }, scoreText(top)),
        el("span", { class: "sr-only" }, " sure: show other candidates"),
      );
      box.append(chip);
      if (y2 > h + 4 || x2 > w + 4) box.classList.add("clipped");
      this.overlay.append(box);
    });
  }

  card(obj, i) {
    const color = COLORS[i % COLORS.length];
    const top = topLabel(obj);
    const others = Math.max(0, (obj.labels || []).length - 1);
    const refs = obj.references || [];
    const head = el(
      "button",
      {
        type: "button",
        class: "object-head",
        "data-testid": "object",
        "aria-haspopup": "dialog",
        onclick: () => this.openLabels(i),
      },
      el("span", { class: "swatch", "aria-hidden": "true" }, String(i + 1)),
      el("span", { class: "object-name", "data-testid": "label" }, pretty(top.label)),
      " ",
      el("span", { class: "object-score" }, scoreText(top)),
      el("span", { class: "sr-only" }, " sure. "),
      others ? el("span", { class: "object-more" }, `+${others} more`) : null,
      others ? el("span", { class: "sr-only" }, " candidates") : null,
      el("svg", { class: "chev", viewBox: "0 0 24 24", "aria-hidden": "true" }),
    );
    head.querySelector(".chev").innerHTML = '<path d="m9 6 6 6-6 6"/>';

    const sure = isSure(obj) || !!top.picked;
    if (!sure) head.classList.add("unsure");
    const shown = shownLabel(obj, top);
    const strip = el("ul", { class: "ref-strip", "aria-label": `Reference photos of ${shown}` });
    refs.forEach((ref) => strip.append(this.refItem(ref, shown)));
    const providers = [...new Set(refs.map((r) => r.provider))];
    const note = referencesNote(obj);
    return el(
      "li",
      { class: `object-card${sure ? "" : " unsure"}`, style: `--c:${color}` },
      head,
      sure ? null : el("p", { class: "not-sure", "data-testid": "not-sure" }, notSureText(obj)),
      note ? el("p", { class: refs.length ? "refs-note" : "no-refs", "data-testid": "refs-note" }, note) : null,
      refs.length ? strip : null,
      providers.includes("unsplash") ? el("p", { class: "provider-note" }, "Photos from Unsplash") : null,
    );
  }

  refItem(ref, label) {
    const who = shortCredit(ref);
    const open = el(
      "button",
      {
        type: "button",
        class: "ref-open",
        "data-testid": "reference",
        "data-provider": ref.provider,
        "aria-label": ref.author ? `Open ${label} photo by ${who}` : `Open ${label} photo, ${who}`,
        onclick: () => this.openReference(ref, label),
      },
      thumb(ref.thumb_url || ref.url, ref.author ? `${label}, photo by ${who}` : `${label}, ${who}`, label),
    );
    const credit = el("p", { class: "ref-credit", "data-testid": "credit" },
      ref.author ? link(ref.author_url, ref.author, "author") : link(ref.source_url, who));
    return el("li", { class: "ref" }, open, credit);
  }

  openLabels(i) {
    const obj = this.job?.objects?.[i];
    if (!obj) return;
    const d = this.labelsDialog;
    const color = COLORS[i % COLORS.length];
    const labels = obj.labels && obj.labels.length ? obj.labels : [topLabel(obj)];
    d.style.setProperty("--c", color);
    d.querySelector("#labels-title").textContent = `Object ${i + 1}: ${pretty(labels[0].label)}`;
    d.querySelector("#labels-sub").textContent = (labels.length > 1
      ? "The classifier's candidates, most likely first."
      : "The classifier gave a single candidate.")
      + (this.onPick ? " Not right? Pick the right one: its photos are found, and your pick is kept with"
        + " this sketch to help improve sketchref." : "");
    const ol = d.querySelector("#candidates");
    const pick = (label) => () => {
      d.close();
      this.onPick(i, label);
    };
    ol.replaceChildren(
      ...labels.map((l, k) =>
        el(
          "li",
          { class: `candidate${k === 0 ? " best" : ""}`, "data-testid": "candidate" },
          el("span", { class: "cand-name" }, pretty(l.label)),
          el("span", { class: "cand-score" }, pct(l.score)),
          this.onPick && obj.picked_label !== l.label
            ? el("button", { type: "button", class: "btn btn-small cand-pick", "data-testid": "pick",
              "aria-label": `Pick ${l.label}`, onclick: pick(l.label) }, "Pick")
            : el("span", { class: "cand-picked" }, obj.picked_label === l.label ? "your pick" : ""),
          el("span", { class: "cand-bar", "aria-hidden": "true", style: `--w:${pct(l.score)}` }),
        ),
      ),
    );
    d.showModal();
  }

  openReference(ref, label) {
    trackDownload(ref);
    const v = this.viewer;
    const who = shortCredit(ref);
    v.querySelector("#viewer-title").textContent = pretty(label);
    const img = v.querySelector("#viewer-img");
    img.alt = ref.author ? `${label}, photo by ${who}` : `${label}, ${who}`;
    const fig = img.closest("figure");
    fig.classList.remove("broken");
    img.onerror = () => fig.classList.add("broken");
    img.src = safeUrl(ref.url) || safeUrl(ref.thumb_url) || "";
    v.querySelector("#viewer-caption").replaceChildren(...creditParts(ref));
    const open = v.querySelector("#viewer-open");
    const href = safeUrl(ref.source_url) || safeUrl(ref.url);
    open.hidden = !href;
    if (href) open.href = href;
    open.textContent = ref.provider === "unsplash" ? "View on Unsplash" : safeUrl(ref.source_url) ? "Photo's page" : "Open original";
    v.showModal();
  }
}

/** The viewer's credit line: as the source requires (Unsplash: "Photo by NAME on Unsplash"), else
 * the most specific the source gives: author, the photo's own page, its set, its licence. */
export function creditParts(ref) {
  if (ref.provider === "unsplash" && ref.author) {
    return ["Photo by ", link(ref.author_url, ref.author, "author"), " on ", link(ref.source_url || ref.url, "Unsplash")];
  }
  const parts = [];
  if (ref.author) parts.push("Photo by ", ref.author_url ? link(ref.author_url, ref.author, "author") : ref.author);
  const name = ref.title || (ref.author ? "" : ref.collection || providerName(ref.provider));
  if (name) parts.push(parts.length ? " · " : "", safeUrl(ref.source_url) ? link(ref.source_url, name) : name);
  if (ref.title && ref.collection) parts.push(` from ${ref.collection}`);
  if (ref.license) parts.push(" · licence ", ref.license_url ? link(ref.license_url, ref.license) : ref.license);
  else if (safeUrl(ref.source_url)) parts.push(" · licence: see its page");
  return parts.filter((p) => p !== "");
}

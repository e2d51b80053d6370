// Live guesses while drawing: shortly after each stroke (debounced), the drawing goes to
// POST /v1/guess and the top 3 labels are shown under the canvas, "not sure" when the model is not.
// No job is submitted; a newer drawing cancels the request for an older one.

import { guess } from "./api.js";

const DEBOUNCE_MS = 60; // a quick second stroke replaces the first request instead of queueing behind it

const pretty = (label) => (label ? label.charAt(0).toUpperCase() + label.slice(1) : "");

export class LiveGuesses {
  constructor(root, { getDrawing }) {
    this.root = root;
    this.getDrawing = getDrawing;
    this.timer = 0;
    this.controller = null;
    this.seq = 0;
    // For the benchmark and tests: when the finger last lifted, and when its guess was shown.
    this.last = { liftAt: 0, shownAt: 0, labels: [], confident: null };
    this.idle();
  }

  idle() {
    this.root.dataset.state = "idle";
    this.root.replaceChildren(Object.assign(document.createElement("span"), {
      className: "guesses-lead", textContent: "Guesses appear as you draw",
    }));
  }

  /** The drawing changed (a stroke ended, Undo, Clear): guess again soon. */
  changed() {
    this.last = { liftAt: performance.now(), shownAt: 0, labels: [], confident: null };
    clearTimeout(this.timer);
    if (this.controller) this.controller.abort();
    this.controller = null;
    const drawing = this.getDrawing();
    if (!drawing || !drawing.strokes.length) {
      this.idle();
      return;
    }
    this.timer = setTimeout(() => this.ask(drawing), DEBOUNCE_MS);
  }

  /** Drawing started again, or the app left the drawing screen: drop what is in flight. */
  cancel() {
    clearTimeout(this.timer);
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async ask(drawing) {
    const seq = ++this.seq;
    this.controller = new AbortController();
    let answer;
    try {
      answer = await guess(drawing, { signal: this.controller.signal });
    } catch {
      // Guesses are a nicety: a failure (offline, an old server) leaves the line as it was.
      return;
    }
    // A stale answer, or none (a body cut short while the page reloads): keep the line as it is.
    if (seq !== this.seq || !answer || !Array.isArray(answer.guesses)) return;
    this.controller = null;
    this.show(answer);
  }

  show(answer) {
    const list = (answer.guesses || []).slice(0, 3);
    if (!list.length) {
      this.idle();
      return;
    }
    const sure = answer.confident !== false;
    this.root.dataset.state = sure ? "sure" : "unsure";
    const lead = document.createElement("span");
    lead.className = "guesses-lead";
    lead.textContent = sure ? "Looks like" : "Not sure — maybe";
    const items = list.map((g, i) => {
      const chip = document.createElement("span");
      chip.className = `guess${i === 0 ? " top" : ""}`;
      chip.dataset.testid = "guess";
      chip.dataset.confident = String(g.confident !== false);
      chip.textContent = pretty(g.label) + (!sure && i === list.length - 1 ? "?" : "");
      return chip;
    });
    this.root.replaceChildren(lead, ...items);
    this.last = { ...this.last, shownAt: performance.now(), labels: list.map((g) => g.label), confident: sure };
  }
}

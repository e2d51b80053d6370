// The drawing surface: pointer input (finger, pen, mouse), smoothed ink, undo, and a view transform
// so the same strokes can be shown full-size while drawing and zoomed to their content on results.
//
// Strokes are kept in "drawing space", a coordinate space of their own that the screen only views:
// it starts as the canvas's CSS pixels at the first stroke, and when the canvas changes size (a phone
// rotated, a window resized) the space is re-framed around the ink to cover the whole new canvas, so
// the drawing is rescaled, never cut, and every point the finger can reach lies inside the space.
// That space (width x height) is what is submitted to the API, so the boxes the API answers are in
// the same coordinates and can be drawn back over the sketch through the current view. The strokes
// (and the last cleared drawing, for Undo) are kept in localStorage: a reload or Back loses nothing.

const INK = "#1f2430";
const BASE_WIDTH = 4; // CSS px at view scale 1
const MIN_STEP = 1.2; // drop input points closer than this (drawing space)
const STORE_KEY = "sketchref.drawing.v1";
const FRAME_PAD = 0.1; // room kept around the ink when the space is re-framed on a resize

export class Sketchpad {
  constructor(canvas, { onChange = () => {}, onStart = () => {} } = {}) {
    this.canvas = canvas;
    this.onStart = onStart;
    this.ctx = canvas.getContext("2d");
    this.onChange = onChange;
    this.strokes = []; // [{ pts: [[x, y, pressure], ...], pen: bool }]
    this.cleared = null; // { strokes, space } of the last Clear, until Undo restores it or ink comes
    this.current = null;
    this.activePointer = null;
    this.penSeen = false; // once a pen is used, resting palms (touch) are ignored
    this.locked = false;
    this.space = null; // { w, h } of drawing space, fixed at the first stroke
    this.fit = null; // null = fit the whole space; or a box [x1, y1, x2, y2] to zoom to
    this.view = { s: 1, dx: 0, dy: 0 };
    this.cache = document.createElement("canvas");
    this.frame = 0;
    this.bind();
    this.restore();
    this.resize(true);
    new ResizeObserver(() => this.resize()).observe(canvas);
  }

  // ---- geometry -------------------------------------------------------------------------------

  size() {
    const r = this.canvas.getBoundingClientRect();
    return { w: Math.max(1, Math.round(r.width)), h: Math.max(1, Math.round(r.height)) };
  }

  resize(initial = false) {
    const { w, h } = this.size();
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.canvas, this.cache]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    if (!this.space || this.isEmpty()) this.space = { w, h };
    else if (!this.fit) this.reframe();
    this.updateView();
    this.renderCache();
    this.draw();
    if (!initial) this.onChange("resize");
  }

  updateView() {
    const { w, h } = this.size();
    let box = this.fit || [0, 0, this.space.w, this.space.h];
    const bw = Math.max(box[2] - box[0], 1);
    const bh = Math.max(box[3] - box[1], 1);
    let s = Math.min(w / bw, h / bh);
    if (!this.fit && Math.abs(w - this.space.w) < 1 && Math.abs(h - this.space.h) < 1) s = 1;
    this.view = { s, dx: (w - bw * s) / 2 - box[0] * s, dy: (h - bh * s) / 2 - box[1] * s };
  }

  /**
   * Make the drawing space cover the whole canvas at its current size: keep the ink's scale when it
   * fits (at most 1 drawing unit per CSS px), shrink it when it does not, centre it, and move the
   * strokes into the new space's coordinates. Nothing is dropped and no point leaves the space.
   */
  reframe() {
    const { w, h } = this.size();
    const ink = this.inkBounds();
    if (!ink) {
      this.space = { w, h };
      return;
    }
    const inkW = Math.max(ink[2] - ink[0], 1);
    const inkH = Math.max(ink[3] - ink[1], 1);
    let x0, y0, s;
    if (inkW <= w && inkH <= h) {
      // The ink fits at its natural size (1 unit per CSS px): keep it there, moved as little as needed.
      // Some room is kept between the ink and the edges when there is room for it.
      s = 1;
      const px = Math.min(FRAME_PAD * inkW, (w - inkW) / 2);
      const py = Math.min(FRAME_PAD * inkH, (h - inkH) / 2);
      x0 = Math.min(Math.max(0, ink[2] + px - w), ink[0] - px);
      y0 = Math.min(Math.max(0, ink[3] + py - h), ink[1] - py);
    } else {
      // Too big for the new canvas: shrink it to fit, with some room around, centred.
      s = Math.min(w / (inkW * (1 + 2 * FRAME_PAD)), h / (inkH * (1 + 2 * FRAME_PAD)));
      x0 = (ink[0] + ink[2]) / 2 - w / s / 2;
      y0 = (ink[1] + ink[3]) / 2 - h / s / 2;
    }
    const sw = w / s, sh = h / s;
    const move = (st) => { for (const p of st.pts) { p[0] -= x0; p[1] -= y0; } };
    this.strokes.forEach(move);
    if (this.current) move(this.current);
    this.space = { w: sw, h: sh };
    this.save();
  }

  /** Zoom the view to a box of drawing space (null = the whole space). */
  zoomTo(box) {
    this.fit = box;
    if (!box && !this.isEmpty()) this.reframe();
    this.updateView();
    this.renderCache();
    this.draw();
  }

  toScreen([x, y]) {
    const v = this.view;
    return [x * v.s + v.dx, y * v.s + v.dy];
  }

  toSpace(clientX, clientY) {
    const r = this.canvas.getBoundingClientRect();
    const v = this.view;
    return [(clientX - r.left - v.dx) / v.s, (clientY - r.top - v.dy) / v.s];
  }

  inkBounds() {
    let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    for (const st of this.strokes) {
      for (const [x, y] of st.pts) {
        x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x); y2 = Math.max(y2, y);
      }
    }
    return x1 === Infinity ? null : [x1, y1, x2, y2];
  }

  // ---- state ----------------------------------------------------------------------------------

  isEmpty() {
    return this.strokes.length === 0 && !this.current;
  }

  canUndo() {
    return this.strokes.length > 0 || (this.cleared !== null && this.cleared.strokes.length > 0);
  }

  /** Take back the last stroke; on an empty pad after Clear, bring the cleared drawing back. */
  undo() {
    if (this.locked || this.current) return;
    if (this.strokes.length) this.strokes.pop();
    else if (this.cleared) {
      this.strokes = this.cleared.strokes;
      this.space = this.cleared.space;
      this.cleared = null;
      this.fit = null;
      this.reframe();
    } else return;
    this.updateView();
    this.renderCache();
    this.draw();
    this.save();
    this.onChange("undo");
  }

  /** Empty the pad; the drawing is kept aside so that Undo can bring it back. */
  clear() {
    if (this.locked) return;
    if (this.strokes.length) this.cleared = { strokes: this.strokes, space: this.space };
    this.strokes = [];
    this.current = null;
    this.space = this.size();
    this.fit = null;
    this.updateView();
    this.renderCache();
    this.draw();
    this.save();
    this.onChange("clear");
  }

  // ---- persistence ----------------------------------------------------------------------------

  save() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ space: this.space, strokes: this.strokes, cleared: this.cleared }));
    } catch { /* private mode or full: the drawing still lives in memory */ }
  }

  restore() {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    } catch {
      saved = null;
    }
    const okStrokes = (list) => Array.isArray(list) && list.every((st) => st && Array.isArray(st.pts)
      && st.pts.length > 0 && st.pts.every((p) => Array.isArray(p) && p.length >= 2 && p.every(Number.isFinite)));
    const okSpace = (sp) => sp && Number.isFinite(sp.w) && Number.isFinite(sp.h) && sp.w > 0 && sp.h > 0;
    if (!saved || !okStrokes(saved.strokes) || !okSpace(saved.space)) return;
    this.strokes = saved.strokes.map((st) => ({ pts: st.pts.map((p) => [p[0], p[1], p[2] ?? 0.5]), pen: !!st.pen }));
    this.space = saved.space;
    if (saved.cleared && okStrokes(saved.cleared.strokes) && okSpace(saved.cleared.space)) this.cleared = saved.cleared;
  }

  /** What POST /v1/jobs takes: {"strokes": [[[x..], [y..]], ...], "width": W, "height": H}; every
   * point lies inside [0, W] x [0, H]. */
  toJSON() {
    const width = Math.max(1, Math.ceil(this.space.w));
    const height = Math.max(1, Math.ceil(this.space.h));
    const fix = (v, hi) => Math.min(hi, Math.max(0, Math.round(v * 10) / 10));
    return {
      strokes: this.strokes.map((st) => [st.pts.map((p) => fix(p[0], width)), st.pts.map((p) => fix(p[1], height))]),
      width,
      height,
    };
  }

  // ---- input ----------------------------------------------------------------------------------

  bind() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this.down(e));
    c.addEventListener("pointermove", (e) => this.move(e));
    c.addEventListener("pointerup", (e) => this.up(e));
    c.addEventListener("pointercancel", (e) => this.up(e, true));
    c.addEventListener("lostpointercapture", (e) => this.up(e));
    // Keep the page from scrolling or zooming while drawing (touch-action in CSS does the rest).
    c.addEventListener("touchmove", (e) => e.preventDefault(), { passive: false });
    c.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  down(e) {
    if (this.locked || this.activePointer !== null) return;
    if (e.pointerType === "mouse" && e.button !== 0) return;
    if (e.pointerType === "pen") this.penSeen = true;
    if (e.pointerType === "touch" && this.penSeen) return;
    e.preventDefault();
    if (this.isEmpty()) {
      this.space = this.size();
      this.fit = null;
      this.updateView();
    }
    this.activePointer = e.pointerId;
    try { this.canvas.setPointerCapture(e.pointerId); } catch { /* synthetic events */ }
    this.current = { pts: [], pen: e.pointerType === "pen" };
    this.onStart();
    this.addPoint(e);
    this.schedule();
  }

  move(e) {
    if (e.pointerId !== this.activePointer || !this.current) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) this.addPoint(ev);
    this.schedule();
  }

  up(e, cancelled = false) {
    if (e.pointerId !== this.activePointer) return;
    this.activePointer = null;
    const st = this.current;
    this.current = null;
    if (!st) return;
    if (!cancelled || st.pts.length > 1) {
      if (st.pts.length === 1) st.pts.push([st.pts[0][0] + 0.5, st.pts[0][1] + 0.5, st.pts[0][2]]); // a dot
      this.strokes.push(st);
      this.cleared = null; // new ink: Undo now takes strokes back, not the old drawing
      this.strokeTo(this.cacheCtx(), st);
      this.save();
    }
    this.draw();
    this.onChange("stroke");
  }

  addPoint(e) {
    // A finger dragged past the canvas's edge (pointer capture) stays on the edge of the space.
    let [x, y] = this.toSpace(e.clientX, e.clientY);
    x = Math.min(this.space.w, Math.max(0, x));
    y = Math.min(this.space.h, Math.max(0, y));
    const p = e.pointerType === "pen" && e.pressure > 0 ? e.pressure : 0.5;
    const pts = this.current.pts;
    const last = pts[pts.length - 1];
    if (last && Math.hypot(x - last[0], y - last[1]) < MIN_STEP / this.view.s) return;
    pts.push([x, y, p]);
  }

  // ---- rendering ------------------------------------------------------------------------------

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  cacheCtx() {
    const ctx = this.cache.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const v = this.view;
    ctx.setTransform(dpr * v.s, 0, 0, dpr * v.s, dpr * v.dx, dpr * v.dy);
    return ctx;
  }

  renderCache() {
    const ctx = this.cache.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.cache.width, this.cache.height);
    const t = this.cacheCtx();
    for (const st of this.strokes) this.strokeTo(t, st);
  }

  draw() {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.cache, 0, 0);
    if (this.current) {
      const dpr = window.devicePixelRatio || 1;
      const v = this.view;
      ctx.setTransform(dpr * v.s, 0, 0, dpr * v.s, dpr * v.dx, dpr * v.dy);
      this.strokeTo(ctx, this.current);
    }
  }

  /** Smooth ink: quadratic curves through the midpoints of the input points. */
  strokeTo(ctx, st) {
    const pts = st.pts;
    if (!pts.length) return;
    // Keep the line a pleasant on-screen width whatever the zoom.
    const unit = BASE_WIDTH / Math.max(this.view.s, 0.2);
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    const width = (p) => (st.pen ? unit * (0.45 + 1.1 * p) : unit);
    if (pts.length < 3) {
      ctx.lineWidth = width(pts[0][2]);
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      const q = pts[pts.length - 1];
      ctx.lineTo(q[0] + 0.01, q[1]);
      ctx.stroke();
      return;
    }
    const mid = (a, b) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
    if (!st.pen) {
      // One path: cheapest and seamless.
      ctx.lineWidth = unit;
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (let i = 1; i < pts.length - 1; i++) {
        const m = mid(pts[i], pts[i + 1]);
        ctx.quadraticCurveTo(pts[i][0], pts[i][1], m[0], m[1]);
      }
      const last = pts[pts.length - 1];
      ctx.lineTo(last[0], last[1]);
      ctx.stroke();
      return;
    }
    // Pen: one segment per point so the width can follow the pressure.
    let from = pts[0];
    for (let i = 1; i < pts.length - 1; i++) {
      const m = mid(pts[i], pts[i + 1]);
      ctx.lineWidth = width(pts[i][2]);
      ctx.beginPath();
      ctx.moveTo(from[0], from[1]);
      ctx.quadraticCurveTo(pts[i][0], pts[i][1], m[0], m[1]);
      ctx.stroke();
      from = m;
    }
    const last = pts[pts.length - 1];
    ctx.lineWidth = width(last[2]);
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(last[0], last[1]);
    ctx.stroke();
  }
}

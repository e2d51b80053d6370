// The drawing surface: pointer input (finger, pen, mouse), smoothed ink, undo, and a view transform
// so the same strokes can be shown full-size while drawing and zoomed to their content on results.
//
// Strokes are kept in "drawing space": CSS pixels of the canvas at the time drawing started. That
// space (width x height) is what is submitted to the API, so the boxes the API answers are in the
// same coordinates and can be drawn back over the sketch through the current view.

const INK = "#1f2430";
const BASE_WIDTH = 4; // CSS px at view scale 1
const MIN_STEP = 1.2; // drop input points closer than this (drawing space)

export class Sketchpad {
  constructor(canvas, { onChange = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onChange = onChange;
    this.strokes = []; // [{ pts: [[x, y, pressure], ...], pen: bool }]
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

  /** Zoom the view to a box of drawing space (null = the whole space). */
  zoomTo(box) {
    this.fit = box;
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

  undo() {
    if (this.locked || !this.strokes.length) return;
    this.strokes.pop();
    this.renderCache();
    this.draw();
    this.onChange("undo");
  }

  clear() {
    if (this.locked) return;
    this.strokes = [];
    this.current = null;
    this.space = this.size();
    this.fit = null;
    this.updateView();
    this.renderCache();
    this.draw();
    this.onChange("clear");
  }

  /** What POST /v1/jobs takes: {"strokes": [[[x..], [y..]], ...], "width": W, "height": H}. */
  toJSON() {
    const round = (v) => Math.round(v * 10) / 10;
    return {
      strokes: this.strokes.map((st) => [st.pts.map((p) => round(p[0])), st.pts.map((p) => round(p[1]))]),
      width: Math.round(this.space.w),
      height: Math.round(this.space.h),
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
      this.strokeTo(this.cacheCtx(), st);
    }
    this.draw();
    this.onChange("stroke");
  }

  addPoint(e) {
    const [x, y] = this.toSpace(e.clientX, e.clientY);
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

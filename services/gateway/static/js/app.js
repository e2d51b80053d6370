// sketchref phone app: draw -> submit -> watch the stages -> results. Plain ES modules, no build step.

import { ApiError, createJob, pickLabel, waitJob } from "./api.js";
import { LiveGuesses } from "./guesses.js";
import { ResultsView } from "./results.js";
import { Sketchpad } from "./sketchpad.js";

const $ = (sel) => document.querySelector(sel);
const body = document.body;
const ui = {
  status: $("[data-testid=status]"),
  statusText: $(".status-text"),
  banner: $("#banner"),
  hint: $("#hint"),
  progress: $("#progress"),
  results: $("#results"),
  undo: $("#undo"),
  clear: $("#clear"),
  submit: $("#submit"),
  cancel: $("#cancel"),
  edit: $("#edit"),
  fresh: $("#new"),
};

const STAGE_TEXT = {
  upload: "Sending your sketch…",
  queued: "Starting up, first answer in a few seconds…",
  detect: "Finding objects…",
  classify: "Naming objects…",
  recommend: "Picking reference photos…",
};
const STEPS = ["upload", "detect", "classify", "recommend"];

let mode = "draw"; // draw | busy | result
let controller = null;
let cooldownUntil = 0;
let cooldownTimer = 0;
// A sketch the user tried to send while the network was down: sent by itself when it comes back.
let pendingSend = false;
let resendTimer = 0;
const RESEND_EVERY_MS = 5000;

const view = new ResultsView({
  overlay: $("#overlay"),
  list: $("#object-list"),
  empty: $("#empty"),
  title: $("#results-title"),
  labelsDialog: $("#labels-dialog"),
  viewer: $("#viewer"),
  onPick: (i, label) => pick(i, label),
});

const guesses = new LiveGuesses($("#guesses"), { getDrawing: () => (pad.isEmpty() ? null : pad.toJSON()) });

const pad = new Sketchpad($("#pad"), {
  onStart: () => guesses.cancel(),
  onChange: (why) => {
    if (["stroke", "undo", "clear"].includes(why) && mode === "draw") guesses.changed();
    if (why === "resize" && mode === "result") view.layoutOverlay(pad);
    if (why !== "resize" && ["error", "cancelled"].includes(ui.status.dataset.state)) {
      hideBanner("error");
      ui.status.dataset.state = "ready";
    }
    refresh();
  },
});

// ---- status, banner, buttons -------------------------------------------------------------------

function setStatus(text, state) {
  ui.statusText.textContent = text;
  ui.status.dataset.state = state;
}

function showBanner(kind, title, text, action) {
  const b = ui.banner;
  b.dataset.kind = kind;
  b.querySelector(".banner-title").textContent = title;
  b.querySelector(".banner-text").textContent = text;
  const btn = b.querySelector(".banner-action");
  btn.hidden = !action;
  if (action) {
    btn.textContent = action.label;
    btn.onclick = action.run;
  }
  b.hidden = false;
}

function hideBanner(kind) {
  if (!kind || ui.banner.dataset.kind === kind) ui.banner.hidden = true;
}

function refresh() {
  const empty = pad.isEmpty();
  const cooling = Date.now() < cooldownUntil;
  ui.undo.disabled = mode !== "draw" || !pad.canUndo();
  ui.clear.disabled = mode !== "draw" || empty;
  ui.submit.disabled = mode !== "draw" || empty || cooling;
  ui.submit.setAttribute("aria-busy", String(mode === "busy"));
  ui.submit.querySelector(".submit-text").textContent = mode === "busy" ? "Working…" : "Find references";
  ui.hint.hidden = !empty || mode !== "draw";
  if (mode === "draw" && !cooling && ["idle", "ready"].includes(ui.status.dataset.state)) {
    const n = pad.strokes.length;
    setStatus(empty ? "Draw something" : `${n} ${n === 1 ? "stroke" : "strokes"} · ready`, empty ? "idle" : "ready");
  }
}

function setMode(next) {
  mode = next;
  body.dataset.mode = next;
  pad.locked = next !== "draw";
  ui.progress.hidden = next !== "busy";
  ui.cancel.hidden = next !== "busy";
  ui.results.hidden = next !== "result";
  refresh();
}

function markStep(step) {
  const at = STEPS.indexOf(step);
  for (const li of ui.progress.querySelectorAll("li")) {
    const i = STEPS.indexOf(li.dataset.step);
    li.classList.toggle("done", i < at || step === "done");
    li.classList.toggle("active", i === at);
    if (i === at) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
}

/** The job as the long poll last saw it. `waited`: a long poll has ended with the job unfinished,
 * so a job still queued means no worker has taken it yet (a stack starting up, or a busy one). */
function showStage(job, { waited = false } = {}) {
  if (job.status === "queued") {
    markStep("detect");
    setStatus(waited ? STAGE_TEXT.queued : STAGE_TEXT.detect, "busy");
  } else if (job.status === "running") {
    markStep(job.stage);
    setStatus(STAGE_TEXT[job.stage] || "Working…", "busy");
  }
}

// ---- the flow ----------------------------------------------------------------------------------

async function submit() {
  if (mode !== "draw" || pad.isEmpty() || Date.now() < cooldownUntil) return;
  if (navigator.onLine === false) {
    offline(true, { tried: true });
    return;
  }
  pendingSend = false;
  clearInterval(resendTimer);
  guesses.cancel();
  hideBanner();
  const mine = new AbortController();
  controller = mine;
  setMode("busy");
  markStep("upload");
  setStatus(STAGE_TEXT.upload, "busy");
  try {
    const job = await createJob(pad.toJSON(), { signal: mine.signal });
    showStage(job);
    const done = await waitJob(job, {
      signal: mine.signal,
      onUpdate: (j, err) => {
        if (err) setStatus(err.code === "rate_limited" ? "Busy server, retrying…" : "Reconnecting…", "busy");
        else showStage(j, { waited: true });
      },
    });
    if (done.status === "failed") throw new ApiError("job_failed", done.error || "The job failed.");
    showResults(done);
  } catch (err) {
    if (err.name === "AbortError") return;
    setMode("draw");
    failed(err);
  } finally {
    if (controller === mine) controller = null; // a Cancel and a new submit may have come since
  }
}

function showResults(job) {
  markStep("done");
  view.show(job);
  const n = (job.objects || []).length;
  // Zoom the sketch to what was found, then switch layout; the pad's resize re-lays the overlay.
  pad.fit = view.focusBox(pad.inkBounds(), pad.space);
  setMode("result");
  pad.zoomTo(pad.fit);
  view.layoutOverlay(pad);
  setStatus(n ? `Found ${n} ${n === 1 ? "object" : "objects"}` : "Nothing recognised", n ? "done" : "empty");
  ui.results.focus({ preventScroll: true });
  // Back (the browser's, or a phone's back gesture) returns to the drawing instead of leaving the app.
  if (!history.state || history.state.sketchref !== "result") history.pushState({ sketchref: "result" }, "");
}

/** The user picked the right label for object `i`: the job re-runs its recommend stage for it. */
async function pick(i, label) {
  const job = view.job;
  if (!job || mode !== "result") return;
  setStatus(`Finding photos of ${label}…`, "busy");
  try {
    const queued = await pickLabel(job.id, i, label);
    const done = await waitJob(queued, {});
    if (done.status === "failed") throw new ApiError("job_failed", done.error || "The job failed.");
    if (mode !== "result" || view.job?.id !== job.id) return; // the user moved on
    view.show(done);
    view.layoutOverlay(pad);
    setStatus(`Picked ${label}`, "done");
  } catch (err) {
    setStatus("Could not pick that label", "error");
    showBanner("error", "Could not pick that label", err.message);
  }
}

/** Stop waiting for the running job: its result is simply not shown (the server may finish it). */
function cancel() {
  if (mode !== "busy" || !controller) return;
  controller.abort();
  controller = null;
  setMode("draw");
  setStatus("Cancelled · your sketch is still here", "cancelled");
  $("#pad").focus({ preventScroll: true });
}

function failed(err) {
  const retry = { label: "Try again", run: submit };
  if (err.code === "rate_limited") {
    cooldown(err.retryAfter ?? 10);
    return;
  }
  if (err.code === "network") {
    offline(navigator.onLine === false, { tried: true });
    return;
  }
  if (err.code === "job_failed") {
    setStatus("Recognition failed", "error");
    showBanner("error", "Recognition failed", err.message, retry);
  } else if (err.code === "timeout") {
    setStatus("Timed out", "error");
    showBanner("error", "Still working on it", err.message, retry);
  } else {
    setStatus("Something went wrong", "error");
    showBanner("error", "Could not submit", err.message, err.status >= 500 ? retry : null);
  }
}

function offline(really, { tried = false } = {}) {
  // Whatever order the browser reports things in (the "offline" event, a failed fetch, "online"),
  // a sketch the user tried to send is kept and sent again by itself: on the "online" event, and
  // every few seconds while the browser believes it is online (the server may be what is down).
  pendingSend = (pendingSend || tried) && !pad.isEmpty();
  setStatus("Offline", "offline");
  showBanner(
    "offline",
    really ? "You are offline" : "Can't reach sketchref",
    pendingSend
      ? "Keep drawing; your sketch stays here and is sent when the connection is back."
      : "Keep drawing; your sketch stays here. Submit again when you are back online.",
    { label: "Retry now", run: resend },
  );
  clearInterval(resendTimer);
  if (pendingSend) resendTimer = setInterval(() => { if (navigator.onLine !== false) resend(); }, RESEND_EVERY_MS);
}

function resend() {
  clearInterval(resendTimer);
  hideBanner("offline");
  if (mode !== "draw") return;
  setStatus("Draw something", "ready");
  refresh();
  submit();
}

function cooldown(seconds) {
  cooldownUntil = Date.now() + seconds * 1000;
  clearInterval(cooldownTimer);
  const tick = () => {
    const left = Math.ceil((cooldownUntil - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(cooldownTimer);
      hideBanner("limited");
      setStatus(pad.isEmpty() ? "Draw something" : "Ready", pad.isEmpty() ? "idle" : "ready");
      refresh();
      return;
    }
    setStatus(`Slow down · retry in ${left} s`, "limited");
    showBanner("limited", "Too many sketches at once", `The server needs a breather. You can submit again in ${left} s.`);
  };
  tick();
  cooldownTimer = setInterval(tick, 1000);
  refresh();
}

function backToDrawing({ clear }) {
  if (controller) controller.abort();
  view.clear();
  setMode("draw");
  if (history.state && history.state.sketchref === "result") history.back();
  pad.zoomTo(null);
  if (clear) pad.clear();
  setStatus(pad.isEmpty() ? "Draw something" : "Ready", pad.isEmpty() ? "idle" : "ready");
  refresh();
  $("#pad").focus({ preventScroll: true });
}

// ---- wiring ------------------------------------------------------------------------------------

ui.undo.addEventListener("click", () => pad.undo());
ui.clear.addEventListener("click", () => pad.clear());
ui.submit.addEventListener("click", submit);
ui.cancel.addEventListener("click", cancel);
ui.edit.addEventListener("click", () => backToDrawing({ clear: false }));
ui.fresh.addEventListener("click", () => backToDrawing({ clear: true }));

document.addEventListener("keydown", (e) => {
  if (document.querySelector("dialog[open]")) return;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
    e.preventDefault();
    pad.undo();
  } else if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
    submit();
  }
});

for (const d of document.querySelectorAll("dialog")) {
  // A tap on the backdrop closes the sheet.
  d.addEventListener("click", (e) => { if (e.target === d) d.close(); });
}

window.addEventListener("popstate", () => {
  if (mode === "result") backToDrawing({ clear: false });
});

window.addEventListener("offline", () => { if (mode !== "result") offline(true); });
window.addEventListener("online", () => {
  if (pendingSend && mode === "draw") {
    resend();
    return;
  }
  hideBanner("offline");
  if (mode === "draw") setStatus(pad.isEmpty() ? "Draw something" : "Back online · ready", pad.isEmpty() ? "idle" : "ready");
  refresh();
});

if (navigator.onLine === false) offline(true);

if ("serviceWorker" in navigator && window.isSecureContext) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("sw.js").catch(() => { /* the app works without it */ });
  });
}

refresh();
// For tests and debugging: a read-only peek at the pad.
window.sketchref = { pad, guesses, get mode() { return mode; } };
// A drawing restored from an earlier visit gets its guesses too.
if (!pad.isEmpty()) guesses.changed();

// Talking to the gateway (DESIGN.md §3): submit a job, wait for it with the long poll (polling with
// backoff only when the long poll fails), track downloads.
// Every failure becomes an ApiError with a code the UI knows how to explain.

const KEY_STORAGE = "sketchref.apiKey";

export class ApiError extends Error {
  constructor(code, message, { status = 0, retryAfter = null } = {}) {
    super(message);
    this.code = code; // "network" | "rate_limited" | "timeout" | a server error code
    this.status = status;
    this.retryAfter = retryAfter; // seconds, for 429
  }
}

/** An API key, if the gateway has auth on: `?key=…` once in the URL, then remembered. */
export function apiKey() {
  try {
    const fromUrl = new URLSearchParams(location.search).get("key");
    if (fromUrl) localStorage.setItem(KEY_STORAGE, fromUrl);
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function parseRetryAfter(value) {
  if (!value) return null;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, Math.ceil(secs));
  const when = Date.parse(value);
  return Number.isFinite(when) ? Math.max(0, Math.ceil((when - Date.now()) / 1000)) : null;
}

async function request(path, init = {}) {
  let res;
  try {
    res = await fetch(path, { cache: "no-store", ...init });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError("network", navigator.onLine === false ? "You are offline." : "Could not reach the server.");
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.ok) return body;
  const detail = body && body.error ? body.error : {};
  if (res.status === 429) {
    throw new ApiError("rate_limited", detail.message || "Too many requests.", {
      status: 429,
      retryAfter: parseRetryAfter(res.headers.get("Retry-After")),
    });
  }
  throw new ApiError(detail.code || `http_${res.status}`, detail.message || `The server answered ${res.status}.`, {
    status: res.status,
  });
}

/** POST /v1/jobs with strokes JSON; answers the queued job (202). */
export function createJob(payload, { signal } = {}) {
  return request("/v1/jobs", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", "Idempotency-Key": newId() }),
    body: JSON.stringify(payload),
    signal,
  });
}

/** POST /v1/guess: the top labels for a drawing, at once, without a job. */
export function guess(payload, { signal } = {}) {
  return request("/v1/guess", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ ...payload, top_k: 3 }),
    signal,
  });
}

/** POST /v1/jobs/{id}/objects/{i}/label: the user's pick; answers the job, queued for new references. */
export function pickLabel(jobId, index, label) {
  return request(`/v1/jobs/${encodeURIComponent(jobId)}/objects/${index}/label`, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ label }),
  });
}

export function getJob(id, { signal, wait = 0 } = {}) {
  const q = wait > 0 ? `?wait=${wait}` : "";
  return request(`/v1/jobs/${encodeURIComponent(id)}${q}`, { headers: headers(), signal });
}

const FIRST_WAIT_S = 3; // the first long poll: a usual job is done in it (one request per job)
const LONG_WAIT_S = 25; // then: under the gateway's 30 s cap and common proxy timeouts

/**
 * Wait for a job with the gateway's long poll (`GET /v1/jobs/{id}?wait=S`, answered the moment the
 * job finishes): one request for a job done within FIRST_WAIT_S, then longer waits. `onUpdate(job)`
 * hears the job's state each time a wait ends unfinished (the UI tells "starting up" from "working").
 * When a long poll fails (a network error, a 5xx, a proxy that cuts it), it falls back to `pollJob`.
 */
export async function waitJob(job, { onUpdate = () => {}, signal, maxWaitMs = 120000 } = {}) {
  const started = Date.now();
  let current = job;
  let wait = FIRST_WAIT_S;
  while (current.status !== "succeeded" && current.status !== "failed") {
    if (Date.now() - started > maxWaitMs) {
      throw new ApiError("timeout", "The server is taking too long. Try again in a moment.");
    }
    try {
      current = await getJob(current.id, { signal, wait });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      if (err.code === "network" || err.code === "rate_limited" || err.status >= 500 || err.status === 422) {
        onUpdate(current, err);
        return pollJob(current, { onUpdate, signal, maxWaitMs: Math.max(1000, maxWaitMs - (Date.now() - started)) });
      }
      throw err;
    }
    if (current.status !== "succeeded" && current.status !== "failed") onUpdate(current, null);
    wait = LONG_WAIT_S;
  }
  return current;
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new DOMException("aborted", "AbortError"));
    }, { once: true });
  });

/**
 * The fallback: poll GET /v1/jobs/{id} until it has succeeded or failed. Delays grow from 250 ms by 1.5x up to
 * 2 s; a lost connection or a 429 waits longer and tries again instead of giving up.
 */
export async function pollJob(job, { onUpdate = () => {}, signal, maxWaitMs = 120000 } = {}) {
  const started = Date.now();
  let delay = 250;
  let failures = 0;
  let current = job;
  while (current.status !== "succeeded" && current.status !== "failed") {
    if (Date.now() - started > maxWaitMs) {
      throw new ApiError("timeout", "The server is taking too long. Try again in a moment.");
    }
    await sleep(delay, signal);
    try {
      current = await getJob(current.id, { signal });
      failures = 0;
      delay = Math.min(delay * 1.5, 2000);
      onUpdate(current, null);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      if (err.code === "network" || err.code === "rate_limited" || err.status >= 500) {
        failures += 1;
        onUpdate(current, err);
        if (failures > 8) throw err;
        delay = Math.min(Math.max(delay * 2, (err.retryAfter || 0) * 1000), 8000);
        continue;
      }
      throw err;
    }
  }
  return current;
}

/** Tell Unsplash (through the gateway) that a photo was picked. Fire and forget. */
export function trackDownload(ref) {
  if (!ref || ref.provider !== "unsplash" || !ref.id) return Promise.resolve(false);
  return fetch(`/v1/references/unsplash/${encodeURIComponent(ref.id)}/download`, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(ref.download_location ? { download_location: ref.download_location } : {}),
    keepalive: true,
  }).then((r) => r.ok, () => false);
}

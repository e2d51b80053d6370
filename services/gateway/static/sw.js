// sketchref service worker: keeps the app shell available offline. API calls (/v1/…) always go to
// the network and are never cached: a job's state must be fresh, and an offline submit must fail
// visibly so the app can say so.

const VERSION = "sketchref-shell-v2";
const SHELL = [
  "./",
  "index.html",
  "app.css",
  "js/app.js",
  "js/api.js",
  "js/results.js",
  "js/sketchpad.js",
  "js/guesses.js",
  "manifest.webmanifest",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "icons/favicon-32.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("sketchref-shell-") && k !== VERSION).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  if (url.origin !== self.location.origin) return false;
  const scope = new URL(self.registration.scope);
  if (!url.pathname.startsWith(scope.pathname)) return false;
  const rest = url.pathname.slice(scope.pathname.length);
  return !/^(v1|healthz|readyz|metrics|docs|openapi\.json)(\/|$)/.test(rest);
}

// Network first (so a deploy shows up at once), falling back to the cached shell when offline.
self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (!isShell(url)) return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok && res.type === "basic") {
          const copy = res.clone();
          caches.open(VERSION).then((cache) => cache.put(req, copy));
        }
        return res;
      })
      .catch(async () => {
        const cache = await caches.open(VERSION);
        const hit = await cache.match(req, { ignoreSearch: true });
        if (hit) return hit;
        if (req.mode === "navigate") return (await cache.match("index.html")) || (await cache.match("./"));
        return new Response("offline", { status: 503, statusText: "offline" });
      }),
  );
});

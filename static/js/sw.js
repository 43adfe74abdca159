/* gisgrid service worker: assets from the cache (refreshed in the background), pages and
   data from the network with the cache as fallback, so the inspector's pages open with no
   network. Writes (POST, PATCH, DELETE) are never intercepted: the outbox retries them. */
"use strict";
const CACHE = "gisgrid-v4";   // v4: the re-inspection page; v3: the outbox of every write, the road state, photos, geo
const ASSETS = [
  "/static/css/app.css", "/static/css/inspect.css", "/static/js/lib/http.js", "/static/js/lib/photos.js",
  "/static/js/lib/geo.js", "/static/js/outbox.js", "/static/js/road_state.js", "/static/js/road_map.js", "/static/js/road.js",
  "/static/js/roads.js", "/static/js/rechecks.js", "/static/vendor/leaflet-1.9.4/leaflet.js", "/static/vendor/leaflet-1.9.4/leaflet.css",
  "/static/vendor/leaflet-1.9.4/images/marker-icon.png", "/static/vendor/leaflet-1.9.4/images/marker-shadow.png"
];
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(ASSETS); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromNetwork(request) {
  return new Promise(function (resolve, reject) {
    const timer = setTimeout(function () { reject(new Error("slow network")); }, NETWORK_WAIT_MS);
    fetch(request).then(function (response) {
      clearTimeout(timer);
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      resolve(response);
    }, function (error) { clearTimeout(timer); reject(error); });
  });
}

function networkFirst(request) {
  return fromNetwork(request).catch(function (error) {
    return caches.match(request).then(function (cached) { if (cached) { return cached; } throw error; });
  });
}

function staleWhileRevalidate(request) {
  return caches.match(request).then(function (cached) {
    const refresh = fetch(request).then(function (response) {
      if (response.ok) { const copy = response.clone(); caches.open(CACHE).then(function (c) { c.put(request, copy); }); }
      return response;
    });
    return cached || refresh;
  });
}

self.addEventListener("fetch", function (event) {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staleWhileRevalidate(request));
  } else if (url.pathname.startsWith("/inspect/") || url.pathname.startsWith("/api/")) {
    event.respondWith(networkFirst(request));
  }
});

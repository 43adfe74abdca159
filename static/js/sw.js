/* gisgrid service worker: assets from the cache (refreshed in the background), pages and
   data from the network with the cache as fallback, so the inspector's pages open with no
   network. Writes (POST, PATCH, DELETE) are never intercepted: the outbox retries them.
   A page asks the worker to keep pages for offline use (a "keep" message) and hears back only
   once they are in the cache: the worker may not control that page yet (a first visit), and
   only the worker knows when a copy is stored. */
"use strict";
const CACHE = "gisgrid-v7";   // v7: the header's forms say when they need the network; v6: the month's list kept as "My roads" asks for it, "/" offline; v5: pages kept on the page's request; v4: the re-inspection page; v3: the outbox of every write, the road state, photos, geo
const ASSETS = [
  "/static/css/app.css", "/static/css/inspect.css", "/static/js/lib/http.js", "/static/js/lib/photos.js",
  "/static/js/lib/geo.js", "/static/js/lib/needs_network.js", "/static/js/outbox.js", "/static/js/road_state.js", "/static/js/road_map.js", "/static/js/road.js",
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

/* Fetch and store each of `urls` (the inspector's pages only); the number stored. A page that
   did not come back as itself (an error, or a redirect to the login page) is not stored. */
function keep(urls) {
  return caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.map(function (address) {
      const url = new URL(address, self.location.origin);
      if (url.origin !== self.location.origin || !url.pathname.startsWith("/inspect/")) { return false; }
      return fetch(url.href, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok || response.redirected) { return false; }
        return cache.put(url.href, response).then(function () { return true; });
      }).catch(function () { return false; });
    }));
  }).then(function (stored) { return stored.filter(Boolean).length; });
}

self.addEventListener("message", function (event) {
  const message = event.data || {}, reply = event.ports && event.ports[0];
  if (message.type !== "keep" || !Array.isArray(message.urls) || !reply) { return; }
  event.waitUntil(keep(message.urls).then(function (kept) { reply.postMessage({ kept: kept }); }));
});

self.addEventListener("fetch", function (event) {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staleWhileRevalidate(request));
  } else if (url.pathname.startsWith("/inspect/") || url.pathname.startsWith("/api/")) {
    event.respondWith(networkFirst(request));
  } else if (request.mode === "navigate" && (url.pathname === "/" || url.pathname === "/inspect")) {
    // the logo's "/" or a bookmark without the slash, with no network: the inspector's roads as kept
    event.respondWith(fetch(request).catch(function (error) {
      return caches.match("/inspect/").then(function (cached) { if (cached) { return cached; } throw error; });
    }));
  }
});

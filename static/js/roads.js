/* My roads: drawn from the newest state the tablet has (this page's, or the one kept in
   IndexedDB when the page came from the offline cache) with what waits in the outbox per road;
   sends what waits when the network returns, and keeps every road (page and state) for offline. */
(function () {
  "use strict";
  const $ = function (id) { return document.getElementById(id); };
  const text = JSON.parse($("i18n").textContent);
  const page = JSON.parse($("roads-data").textContent);
  const badge = $("outbox");
  const key = "roads:" + page.month;
  function fmt(template, values) { return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; }); }

  async function newest() {
    const kept = await Outbox.recall(key).catch(function () { return null; });
    if (kept && kept.as_of > page.as_of) { return kept; }
    Outbox.remember(key, page).catch(function () {});
    return page;
  }

  async function render() {
    const data = await newest();
    const writes = await Outbox.all();
    const waiting = writes.filter(function (w) { return w.state !== "refused"; });
    badge.hidden = waiting.length === 0;
    badge.textContent = fmt(text.waiting, { n: waiting.length });
    data.roads.forEach(function (road) {
      const link = document.querySelector('a.road-link[data-code="' + CSS.escape(road.code) + '"]');
      if (!link) { return; }
      const mine = waiting.filter(function (w) { return w.scope === data.month + "/" + road.code; }).length;
      const status = link.querySelector(".road-status"), score = link.querySelector(".road-score");
      status.className = "road-status " + (road.submitted_at ? "done" : road.findings ? "started" : "todo");
      status.textContent = (road.submitted_at ? text.submitted : road.findings ? fmt(text.findings, { n: road.findings })
        : text.not_started) + (mine ? " · " + fmt(text.waiting, { n: mine }) : "");
      score.textContent = road.score.toFixed(1);
      score.classList.toggle("provisional", mine > 0);
    });
  }

  /* Ask the service worker to keep this list and every road page, and say so only when it has
     (and each road's state is in IndexedDB): on a first visit the worker does not control this
     page yet, so the page's own fetches would go past its cache. */
  function workerKeeps(worker, urls) {
    return new Promise(function (resolve) {
      const channel = new MessageChannel();
      channel.port1.onmessage = function (event) { resolve(event.data.kept); };
      worker.postMessage({ type: "keep", urls: urls }, [channel.port2]);
    });
  }

  async function keepOffline(registration) {
    const links = Array.from(document.querySelectorAll("a.road-link"));
    if (!links.length || !registration.active) { return; }
    // this list as it was asked for, as a road page's "My roads" asks for it, and each road
    const asked = [location.href.split("#")[0], new URL("/inspect/?month=" + page.month, location.href).href]
      .concat(links.map(function (a) { return a.href; }));
    const pages = asked.filter(function (url, i) { return asked.indexOf(url) === i; });
    const states = links.map(function (a) {
      return window.gisgridHttp.call("/api/months/" + page.month + "/roads/" + a.dataset.code)
        .then(RoadState.keep).then(function () { return true; }, function () { return false; });
    });
    const kept = await workerKeeps(registration.active, pages);
    const stateKept = await Promise.all(states);
    $("offline-ready").hidden = !(kept === pages.length && stateKept.every(Boolean));
  }

  async function refresh() {
    try { await Outbox.remember(key, await window.gisgridHttp.call("/api/months/" + page.month + "/roads")); }
    catch (e) { /* offline: the kept state stands */ }
    await render();
  }

  function flush() { Outbox.flush().then(refresh); }
  Outbox.on(function (event) { if (event.type === "sent" || event.type === "refused") { render(); } });
  window.addEventListener("online", flush);
  Outbox.storage();
  render().then(function () { if (navigator.onLine) { flush(); } });
  if (navigator.serviceWorker && navigator.onLine) { navigator.serviceWorker.ready.then(keepOffline); }
})();

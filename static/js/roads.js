/* My roads: show what waits in the outbox, send it when the network returns, and keep every
   road page in the offline cache. */
(function () {
  "use strict";
  const text = JSON.parse(document.getElementById("i18n").textContent);
  const badge = document.getElementById("outbox");

  async function showOutbox() {
    const waiting = (await Outbox.all()).filter(function (i) { return !i.refused; }).length;
    badge.hidden = waiting === 0;
    badge.textContent = text.waiting.replace("%(n)s", waiting);
  }

  async function keepOffline() {
    const links = Array.from(document.querySelectorAll("a.road-link"));
    await Promise.all(links.map(function (a) { return fetch(a.href, { credentials: "same-origin" }).catch(function () {}); }));
    if (links.length && navigator.onLine) { document.getElementById("offline-ready").hidden = false; }
  }

  async function flush() { await Outbox.flush(); await showOutbox(); }

  window.addEventListener("online", flush);
  showOutbox().then(flush);
  if (navigator.serviceWorker) { navigator.serviceWorker.ready.then(keepOffline); }
})();

/* The outbox: every finding (and its photos) is written to IndexedDB before it is sent, and
   removed only when the server has it. A client-made id makes each send idempotent, so a retry
   after a lost response cannot duplicate. Shared by the inspector's pages. */
(function () {
  "use strict";
  const DB_NAME = "gisgrid", STORE = "outbox";
  let flushing = null;

  function openDb() {
    return new Promise(function (resolve, reject) {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "id" }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  async function withStore(mode, work) {
    const db = await openDb();
    return new Promise(function (resolve, reject) {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = function () { db.close(); resolve(request ? request.result : undefined); };
      tx.onerror = function () { db.close(); reject(tx.error); };
    });
  }

  const call = window.gisgridHttp.call;

  function newId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // a lost network or a failing server: the item stays in the outbox to be sent again
  function transient(error) { return error.offline || error.status >= 500; }

  /* Send one item: the finding, then its photos. Resolves {ok, status, data}; rejects when the
     network fails (the item then stays in the outbox). */
  async function send(item) {
    let data;
    try {
      data = await call("/api/findings", item.finding);
    } catch (error) {
      if (transient(error)) { throw error; }
      return { ok: false, status: error.status, data: error.data };
    }
    data.photoErrors = [];
    for (let i = 0; i < item.photos.length; i++) {
      const form = new FormData();
      form.append("client_id", item.finding.id + "-p" + i);
      form.append("photo", item.photos[i], "photo-" + i + ".jpg");
      try {
        await call("/api/findings/" + data.finding.id + "/photos", form);
      } catch (error) {
        if (transient(error)) { throw error; }
        data.photoErrors.push(error.message);
      }
    }
    return { ok: true, status: 200, data: data };
  }

  async function flushOnce(onResult) {
    const items = await withStore("readonly", function (s) { return s.getAll(); });
    for (const item of items) {
      if (item.refused) { continue; }
      let result;
      try { result = await send(item); } catch (e) { return; }  // still offline: try again later
      if (result.ok) {
        await withStore("readwrite", function (s) { return s.delete(item.id); });
      } else {
        item.refused = (result.data && result.data.message) || String(result.status);
        await withStore("readwrite", function (s) { return s.put(item); });
      }
      if (onResult) { onResult(item, result); }
    }
  }

  window.Outbox = {
    newId: newId,
    send: send,
    put: function (item) { return withStore("readwrite", function (s) { return s.put(item); }); },
    remove: function (id) { return withStore("readwrite", function (s) { return s.delete(id); }); },
    all: function () { return withStore("readonly", function (s) { return s.getAll(); }); },
    /* Send everything waiting; one flush at a time. */
    flush: function (onResult) {
      if (!flushing) {
        flushing = flushOnce(onResult).finally(function () { flushing = null; });
      }
      return flushing;
    }
  };

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* pages still work online */ });
  }
})();

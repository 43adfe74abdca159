/* The outbox: every write the tablet makes (a finding created, edited, moved or deleted, a photo
   added or removed, a road submitted; later a re-inspection) is kept in IndexedDB before it is
   sent, and removed only when the server has answered it. A queued write is generic — method,
   URL, body (JSON, or form fields and files), its client-made id — and carries the client-made
   id in its body, so the server answers a re-send as the first time: nothing is lost when the
   network drops, the answer is lost, the tab is closed or the tablet restarts, and nothing is
   written twice. Writes go in the order they were made, one at a time.
   The same database keeps the last state the tablet saw from the server (`remember`/`recall`),
   so pages can open from it with no network. */
(function () {
  "use strict";
  const DB_NAME = "gisgrid", VERSION = 2, WRITES = "writes", STATE = "state", LEGACY = "outbox";
  const http = window.gisgridHttp;
  const listeners = [];
  let flushing = null, counter = 0;

  function openDb() {
    return new Promise(function (resolve, reject) {
      const request = indexedDB.open(DB_NAME, VERSION);
      request.onupgradeneeded = function (event) {
        const db = request.result, tx = request.transaction;
        const writes = db.createObjectStore(WRITES, { keyPath: "id" });
        writes.createIndex("seq", "seq");
        db.createObjectStore(STATE, { keyPath: "key" });
        if (event.oldVersion >= 1 && db.objectStoreNames.contains(LEGACY)) {
          // findings queued by the first outbox (a finding with its photos) become the writes
          // they are, so an update of the app loses nothing that waited on the tablet
          tx.objectStore(LEGACY).getAll().onsuccess = function (e) {
            e.target.result.forEach(function (old, n) {
              const scope = old.scope || old.road;
              writes.put(write(old.id, "POST", "/api/findings", old.finding, null, scope,
                               { finding: old.id, kind: "create" }, n * 10));
              (old.photos || []).forEach(function (blob, i) {
                const id = old.id + "-p" + i;
                writes.put(write(id, "POST", "/api/findings/client/" + old.id + "/photos", null,
                                 { fields: { client_id: id }, files: { photo: blob } }, scope,
                                 { finding: old.id, kind: "photo", photo: id }, n * 10 + i + 1));
              });
            });
            db.deleteObjectStore(LEGACY);
          };
        }
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function write(id, method, url, body, form, scope, about, seq) {
    return { id: id, method: method, url: url, body: body, form: form, scope: scope, about: about || {},
             seq: seq, state: "waiting", refused: null, saved_at: Date.now() };
  }

  async function withStore(name, mode, work) {
    const db = await openDb();
    return new Promise(function (resolve, reject) {
      const tx = db.transaction(name, mode);
      const request = work(tx.objectStore(name));
      tx.oncomplete = function () { db.close(); resolve(request ? request.result : undefined); };
      tx.onerror = function () { db.close(); reject(tx.error); };
      tx.onabort = function () { db.close(); reject(tx.error); };
    });
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function emit(event) { listeners.forEach(function (f) { try { f(event); } catch (e) { /* a page's bug */ } }); }

  async function all(scope) {
    const items = await withStore(WRITES, "readonly", function (s) { return s.index("seq").getAll(); });
    return scope ? items.filter(function (i) { return i.scope === scope; }) : items;
  }

  /* Queue a write: {id, method, url, body} or {id, method, url, form: {fields, files}}, with the
     page's `scope` (which road) and `about` (what it does, for showing it). The order of the
     queue is the order of the calls. */
  async function queue(spec) {
    // the clock only orders the tablet's own writes; the counter keeps two in one millisecond apart
    const seq = Date.now() * 1000 + (counter++ % 1000);
    const item = write(spec.id, spec.method, spec.url, spec.body || null, spec.form || null, spec.scope, spec.about, seq);
    await withStore(WRITES, "readwrite", function (s) { return s.put(item); });
    emit({ type: "change", item: item });
    return item;
  }

  async function update(id, changes) {
    const item = await withStore(WRITES, "readonly", function (s) { return s.get(id); });
    if (!item) { return null; }
    Object.assign(item, changes);
    await withStore(WRITES, "readwrite", function (s) { return s.put(item); });
    emit({ type: "change", item: item });
    return item;
  }

  async function discard(id) {
    await withStore(WRITES, "readwrite", function (s) { return s.delete(id); });
    emit({ type: "change", item: { id: id } });
  }

  function size(item) {
    if (item.form) {
      return Object.values(item.form.files || {}).reduce(function (n, b) { return n + (b.size || 0); }, 0) + 200;
    }
    return item.body ? JSON.stringify(item.body).length : 0;
  }

  // a lost network, a failing or restarting server, a session to renew: the write waits and is
  // sent again; any other refusal is the server's answer to this write, shown to the inspector
  function transient(error) {
    return error.offline || error.status >= 500 || error.status === 401 || error.status === 429 ||
      error.kind === "CSRFError";
  }

  async function sendOne(item) {
    let body = item.body === null ? undefined : item.body;
    if (item.form) {
      body = new FormData();
      Object.entries(item.form.fields || {}).forEach(function (kv) { body.append(kv[0], kv[1]); });
      Object.entries(item.form.files || {}).forEach(function (kv) { body.append(kv[0], kv[1], kv[0] + ".jpg"); });
    }
    const total = size(item);
    emit({ type: "progress", item: item, loaded: 0, total: total });
    return http.call(item.url, body, item.method, {
      onProgress: function (loaded, all) { emit({ type: "progress", item: item, loaded: loaded, total: all || total }); }
    });
  }

  async function flushOnce() {
    const items = await all();
    for (const item of items) {
      if (item.state === "refused") { continue; }
      let data;
      try {
        data = await sendOne(item);
      } catch (error) {
        if (transient(error)) {
          emit({ type: "paused", item: item, error: error });
          return false;   // still offline (or the server is away): the rest waits, in order
        }
        await update(item.id, { state: "refused", refused: error.message || String(error.status), status: error.status });
        emit({ type: "refused", item: item, error: error });
        continue;
      }
      await withStore(WRITES, "readwrite", function (s) { return s.delete(item.id); });
      emit({ type: "sent", item: item, data: data });
    }
    return true;
  }

  /* Send everything waiting, in order; one flush at a time in this tab, and one tab at a time
     (another tab's flush would send the same writes: harmless, but twice the traffic). */
  function flush() {
    if (!flushing) {
      const run = navigator.locks ? navigator.locks.request("gisgrid-outbox", flushOnce) : flushOnce();
      flushing = run.finally(function () { flushing = null; emit({ type: "flushed" }); });
    }
    return flushing;
  }

  async function remember(key, value) {
    await withStore(STATE, "readwrite", function (s) { return s.put({ key: key, value: value }); });
  }

  async function recall(key) {
    const row = await withStore(STATE, "readonly", function (s) { return s.get(key); });
    return row ? row.value : null;
  }

  /* Ask the browser to keep this site's storage (the outbox) under storage pressure, and say
     whether space runs low: {persisted, low, free_mb}. */
  async function storage() {
    const out = { persisted: false, low: false, free_mb: null };
    if (!navigator.storage) { return out; }
    try { out.persisted = navigator.storage.persist ? await navigator.storage.persist() : false; } catch (e) { /* refused */ }
    try {
      const estimate = await navigator.storage.estimate();
      const free = (estimate.quota || 0) - (estimate.usage || 0);
      out.free_mb = Math.floor(free / 1048576);
      // room for about a hundred downscaled photos, or a store nine tenths full
      out.low = free < LOW_SPACE_BYTES || (estimate.quota > 0 && estimate.usage / estimate.quota > 0.9);
    } catch (e) { /* no estimate: say nothing */ }
    return out;
  }
  const LOW_SPACE_BYTES = 50 * 1048576;

  window.Outbox = {
    newId: newId, queue: queue, update: update, discard: discard, all: all, flush: flush,
    remember: remember, recall: recall, storage: storage, size: size,
    on: function (listener) { listeners.push(listener); }
  };

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* pages still work online */ });
  }
})();

/* The inspector's re-inspections (复查): the tasks the server gave (this page's, or the newest kept
   on the tablet when the page came from the offline cache), each at its place on the map; a
   check (fixed or not, the date, a photo) goes into the outbox like every tablet write and is
   sent when the network allows, once, whatever happens to the answer. */
(function () {
  "use strict";
  const $ = function (id) { return document.getElementById(id); };
  const text = JSON.parse($("i18n").textContent);
  const page = JSON.parse($("rechecks-data").textContent);
  const KEY = "rechecks", SCOPE = "rechecks";
  const states = {};     // "notice/item" -> {kind, message}: what the tablet knows of its own checks
  let map = null, markers = null;
  function fmt(template, values) { return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; }); }
  function keyOf(task) { return task.notice + "/" + task.item; }

  async function newest() {
    const kept = await Outbox.recall(KEY).catch(function () { return null; });
    if (kept && kept.as_of > page.as_of) { return kept; }
    Outbox.remember(KEY, page).catch(function () {});
    return page;
  }

  function drawMap(tasks) {
    if (!map) {
      map = L.map("recheck-map", { zoomControl: true, tap: true });
      markers = L.layerGroup().addTo(map);
    }
    markers.clearLayers();
    const placed = tasks.filter(function (t) { return t.lon !== null && t.lat !== null; });
    placed.forEach(function (t) {
      L.circleMarker([t.lat, t.lon], { radius: 12, color: "#b42318", fillOpacity: 0.8 })
        .bindTooltip(t.number + " · " + t.item, { permanent: false }).addTo(markers)
        .on("click", function () { const card = document.querySelector('[data-task="' + CSS.escape(keyOf(t)) + '"]');
                                   if (card) { card.scrollIntoView({ behavior: "smooth" }); } });
    });
    $("recheck-map").hidden = placed.length === 0;
    if (placed.length) {
      map.fitBounds(L.latLngBounds(placed.map(function (t) { return [t.lat, t.lon]; })), { padding: [30, 30], maxZoom: 18 });
    }
  }

  function show(card, state) {
    const box = card.querySelector(".task-state");
    box.hidden = !state;
    if (!state) { return; }
    box.className = "task-state notice " + (state.kind === "refused" ? "bad" : state.kind === "sent" ? "good" : "warn");
    box.textContent = state.message;
    card.querySelector(".task-form").hidden = state.kind !== "refused";
  }

  async function render() {
    const data = await newest();
    const writes = await Outbox.all(SCOPE);
    const waiting = writes.filter(function (w) { return w.state !== "refused"; });
    $("outbox").hidden = waiting.length === 0;
    $("outbox").textContent = fmt(text.waiting, { n: waiting.length });
    writes.forEach(function (w) {
      const key = w.about.notice + "/" + w.about.item;
      if (w.state === "refused") { states[key] = { kind: "refused", message: fmt(text.refused, { why: w.refused }) }; }
      else if (!states[key] || states[key].kind !== "sent") { states[key] = { kind: "queued", message: text.queued }; }
    });
    const list = $("tasks");
    list.textContent = "";
    data.tasks.forEach(function (task) {
      const card = $("task-template").content.firstElementChild.cloneNode(true);
      card.dataset.task = keyOf(task);
      card.querySelector(".task-title").textContent = task.number + " · " + task.item;
      const why = card.querySelector(".task-why");
      why.textContent = task.why === "reported" ? fmt(text.reported, { day: task.reported_on }) : text.overdue;
      why.classList.add(task.why === "reported" ? "good" : "bad");
      card.querySelector(".task-text").textContent = task.text;
      card.querySelector(".task-where").textContent = [task.grid_name || task.grid, task.road || "",
        fmt(text.deadline, { day: task.deadline })].filter(Boolean).join(" · ");
      const form = card.querySelector(".task-form");
      form.elements.on.value = data.today;
      form.elements.on.max = data.today;
      form.addEventListener("submit", function (event) { event.preventDefault(); send(task, form, card); });
      show(card, states[keyOf(task)]);
      list.appendChild(card);
    });
    $("no-tasks").hidden = data.tasks.length > 0;
    $("task-count").textContent = data.tasks.length;
    drawMap(data.tasks);
  }

  async function send(task, form, card) {
    const base = "/api/notices/" + task.notice + "/items/" + task.item;
    const about = { kind: "check", notice: task.notice, item: task.item };
    const file = form.elements.photo.files[0];
    if (file) {
      const blob = await gisgridPhotos.shrink(file, text.photo_long_side, text.photo_max_bytes);
      const photoId = Outbox.newId();
      await Outbox.queue({ id: photoId, method: "POST", url: base + "/photos", scope: SCOPE, about: about,
                           form: { fields: { client_id: photoId }, files: { photo: blob } } });
    }
    const id = Outbox.newId(), rating = form.elements.satisfaction.value;
    await Outbox.queue({ id: id, method: "POST", url: base + "/check", scope: SCOPE, about: about,
                         body: { client_id: id, fixed: form.elements.fixed.value === "yes", on: form.elements.on.value,
                                 note: form.elements.note.value || null, satisfaction: rating ? parseInt(rating, 10) : null } });
    states[keyOf(task)] = { kind: "queued", message: text.queued };
    show(card, states[keyOf(task)]);
    flush();
  }

  async function refresh() {
    try { await Outbox.remember(KEY, await window.gisgridHttp.call("/api/rechecks")); }
    catch (e) { /* offline: the kept tasks stand */ }
    await render();
  }

  function flush() { Outbox.flush().then(refresh); }
  Outbox.on(function (event) {
    if (!event.item || event.item.scope !== SCOPE || !event.item.about || event.item.about.kind !== "check") { return; }
    const key = event.item.about.notice + "/" + event.item.about.item;
    if (event.type === "sent" && event.item.url.endsWith("/check")) { states[key] = { kind: "sent", message: text.sent }; }
    if (event.type === "sent" || event.type === "refused") { render(); }
  });
  window.addEventListener("online", flush);
  setInterval(function () { Outbox.all(SCOPE).then(function (w) { if (w.some(function (i) { return i.state !== "refused"; })) { flush(); } }); }, 5000);
  render().then(function () { if (navigator.onLine) { flush(); } });
})();

/* The road page: the road on a map, the inspector's position, the findings, and the form to pin
   one. Every write (new, edit, move, delete, photo added or removed, submit) goes into the
   outbox and the form closes at once; the page is drawn from the last server state the tablet
   saw plus what waits in the outbox (RoadState), so nothing shown is lost offline. */
(function () {
  "use strict";
  const $ = function (id) { return document.getElementById(id); };
  const config = JSON.parse($("page-config").textContent);
  const text = JSON.parse($("i18n").textContent);
  // what the server decides (rules and what each needs, photo limits, the snap tolerance) comes
  // from the page, which the service worker keeps for offline use
  const rules = JSON.parse($("rules").textContent);
  const threshold = rules.rulebook.area_threshold_m2, photoLimit = rules.photos_per_finding;
  const ruleByCode = {};
  rules.rulebook.sections.forEach(function (s) { s.rules.forEach(function (r) { ruleByCode[r.code] = r; }); });
  let data = JSON.parse($("road-data").textContent);
  const month = data.month, roadCode = data.road.properties.code, scope = month + "/" + roadCode;
  const dialog = $("finding-form"), form = $("form"), ruleSelect = $("rule");
  let current = { findings: [], waiting: 0, refused: 0 };
  const progress = {};

  function fmt(template, values) { return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; }); }
  function label(code) { return ruleByCode[code] ? code + " " + ruleByCode[code].label : code; }
  // "kept, sending in the background" stands while this road's writes wait, and gives way to
  // "sent" once none does; "queuing" while the write said kept is not in the outbox yet
  let keptNotice = null;
  function say(message, kind) {
    const box = $("message");
    box.textContent = message; box.className = "notice " + (kind || "good"); box.hidden = false;
    keptNotice = message === text.kept ? "waiting" : null;
  }
  function settleKeptNotice() {
    if (keptNotice === "waiting" && !$("message").hidden && current.waiting === 0) { say(text.sent, "good"); }
  }

  // the map, for a finger (road_map.js) -----------------------------------------------
  const shown = RoadMap.create(data, config, text, say), map = shown.map, pins = shown.pins;

  // drawing ------------------------------------------------------------------------------
  function status(f) {
    if (f.state === "refused") { return text.refused + ": " + f.refused; }
    if (f.state !== "waiting") { return ""; }
    const sending = progress[f.cid];
    if (sending !== undefined) { return fmt(text.sending, { p: sending }); }
    return f.deleted ? text.delete_waiting : text.pending;
  }

  function row(f) {
    const li = document.createElement("li");
    li.className = "finding " + ({ saved: "", waiting: "pending", refused: "refused" })[f.state] + (f.deleted ? " deleting" : "");
    li.dataset.cid = f.cid;
    const title = document.createElement("strong");
    title.textContent = label(f.rule);
    li.appendChild(title);
    const detail = document.createElement("span");
    const parts = [];
    const rule = ruleByCode[f.rule];
    if (!rule || rule.needs_count) { parts.push("×" + (f.count || 1)); }
    if (rule && rule.needs_area && f.area_m2) { parts.push(f.area_m2 + " m²"); }
    if (rule && rule.needs_deadline && f.deadline) { parts.push(text.deadline + " " + f.deadline); }
    if (f.note) { parts.push(f.note); }
    detail.textContent = parts.join(" · ");
    li.appendChild(detail);
    const state = document.createElement("em");
    state.className = "state"; state.textContent = status(f);
    li.appendChild(state);
    f.photos.forEach(function (photo) {
      const img = document.createElement("img");
      img.src = photo.blob ? URL.createObjectURL(photo.blob) : photo.thumb; img.alt = ""; img.className = "thumb";
      li.appendChild(img);
    });
    if (f.state === "refused") {
      const actions = document.createElement("div");
      actions.className = "row-between";
      [["move-refused", text.move, function () { startMove(f, true); }],
       ["discard", text.discard, function () { discard(f); }]].forEach(function (b) {
        const button = document.createElement("button");
        button.type = "button"; button.className = "big " + b[0]; button.textContent = b[1];
        button.addEventListener("click", function (e) { e.stopPropagation(); b[2](); });
        actions.appendChild(button);
      });
      li.appendChild(actions);
    } else if (f.mine && !f.deleted) {
      li.classList.add("editable");
      li.addEventListener("click", function () { openForm(null, f); });
    }
    return li;
  }

  async function render() {
    // everything is gathered first, then swapped in at once: never a half-drawn list
    const writes = await Outbox.all(scope);
    current = RoadState.view(data, writes);
    pins.clearLayers();
    const items = [];
    current.findings.forEach(function (f) {
      if (f.lon === undefined) { return; }
      const colour = f.state === "refused" ? "#7a1209" : f.state === "waiting" ? "#fbbf24" : (f.mine ? "#b42318" : "#6b7280");
      f.marker = L.circleMarker([f.lat, f.lon], { radius: 12, color: f.state === "saved" ? "#fff" : "#111", weight: 2,
                                                  dashArray: f.state === "saved" ? null : "3 3", fillColor: colour,
                                                  fillOpacity: f.deleted ? 0.3 : 0.95, interactive: false }).addTo(pins);
      items.push(row(f));
    });
    $("findings").replaceChildren.apply($("findings"), items);
    $("count").textContent = current.findings.filter(function (f) { return !f.deleted; }).length;
    $("score").textContent = data.score.score.toFixed(1);
    // the score is the server's (the browser never retypes its rules): with writes waiting it is
    // the last one known, marked as such
    $("score").classList.toggle("provisional", current.waiting > 0);
    $("score-note").hidden = current.waiting === 0;
    $("score-note").textContent = fmt(text.provisional, { n: current.waiting });
    $("outbox").hidden = current.waiting === 0;
    $("outbox").textContent = fmt(text.waiting, { n: current.waiting });
    settleKeptNotice();
    const submitted = !!data.inspection.submitted_at, frozen = data.month_state.state === "published";
    $("submit-road").disabled = submitted || frozen || !!current.submitting;
    $("submit-road").textContent = submitted ? text.submitted : current.submitting ? text.submit_waiting : text.submit;
    $("pin-here").disabled = $("pin-crosshair").disabled = frozen || submitted;
    $("month-state").textContent = frozen ? text.month_published : submitted ? text.road_submitted : text.month_open;
    $("month-state").className = "notice " + (frozen ? "bad" : submitted ? "warn" : "good");
  }

  async function refresh() {
    try {
      const fresh = await window.gisgridHttp.call("/api/months/" + month + "/roads/" + roadCode);
      await RoadState.keep(fresh);
      data = fresh;
    } catch (e) { /* offline or refused: keep what we have */ }
    await render();
  }

  // sending ------------------------------------------------------------------------------
  Outbox.on(function (event) {
    const about = event.item && event.item.about;
    if (event.type === "progress" && about && about.finding) {
      progress[about.finding] = event.total ? Math.min(99, Math.round(100 * event.loaded / event.total)) : 0;
      const state = document.querySelector('#findings li[data-cid="' + CSS.escape(about.finding) + '"] .state');
      if (state) { state.textContent = fmt(text.sending, { p: progress[about.finding] }); }
    } else if (event.type === "sent" || event.type === "refused" || event.type === "paused") {
      if (about && about.finding) { delete progress[about.finding]; }
      if (event.type === "paused" && event.error.status === 401) { say(text.log_in_again, "bad"); }
      if (event.type === "refused") { say(fmt(text.refused_item, { reason: event.error.message }), "bad"); }
      // what was sent is now the server's: draw its state, not the last one without it
      if (event.type === "sent") { refresh(); } else { render(); }
    } else if (event.type === "flushed") {
      refresh();
    }
  });

  function flush() { if (navigator.onLine) { Outbox.flush(); } }
  window.addEventListener("online", flush);
  // a send whose answer was lost stays in the outbox: try again every few seconds while online
  setInterval(function () { if (current.waiting > 0) { flush(); } }, 5000);

  function queue(kind, finding, spec) {
    return Outbox.queue(Object.assign({}, spec, { scope: scope,
                                                  about: Object.assign({ kind: kind, finding: finding }, spec.about || {}) }));
  }

  // the form -----------------------------------------------------------------------------
  let target = null, editing = null, formPhotos = [];

  function kindOf(code) { return ruleByCode[code] || {}; }

  function syncArea() {
    const rule = ruleByCode[ruleSelect.value], area = parseFloat($("area").value);
    const known = !!rule && rule.needs_area && area > 0;
    $("area-points").hidden = !known;
    if (!known) { return; }
    const large = area > threshold;
    form.querySelector("input[name=area_class][value=" + (large ? "large" : "small") + "]").checked = true;
    const points = large && rule.points_high !== null ? rule.points_high : rule.points;
    $("area-points").textContent = text.deduction + " −" + points;
  }

  // switching the rule shows what the new one needs and clears what it does not
  function syncKind() {
    const rule = kindOf(ruleSelect.value);
    $("area-box").hidden = !rule.needs_area;
    $("deadline-box").hidden = !rule.needs_deadline;
    $("count-box").hidden = rule.needs_count === false;
    if (!rule.needs_area) { $("area").value = ""; form.querySelectorAll("input[name=area_class]").forEach(function (r) { r.checked = false; }); }
    if (!rule.needs_deadline) { $("deadline").value = ""; }
    syncArea();
  }

  function drawPhotos() {
    const box = $("photo-previews");
    box.replaceChildren.apply(box, formPhotos.filter(function (p) { return !p.removed; }).map(function (photo) {
      const wrap = document.createElement("div");
      wrap.className = "preview";
      const img = document.createElement("img");
      img.src = photo.preview; img.className = "thumb"; img.alt = "";
      const remove = document.createElement("button");
      remove.type = "button"; remove.className = "remove-photo"; remove.textContent = "×";
      remove.setAttribute("aria-label", text.remove_photo);
      remove.addEventListener("click", function () {
        if (photo.saved) { photo.removed = true; } else { formPhotos.splice(formPhotos.indexOf(photo), 1); }
        drawPhotos();
      });
      wrap.appendChild(img); wrap.appendChild(remove);
      return wrap;
    }));
    const left = photoLimit - formPhotos.filter(function (p) { return !p.removed; }).length;
    $("photos").disabled = left <= 0;
    $("photos-left").textContent = fmt(text.photos_left, { n: left });
  }

  function openForm(at, finding) {
    editing = finding || null;
    target = at;
    $("form-error").hidden = true;
    $("form-title").textContent = editing ? text.edit : text.new;
    $("delete").hidden = $("move").hidden = !editing;
    $("reason-box").hidden = !(editing && data.inspection.submitted_at);
    form.reset();
    formPhotos = [];
    if (editing) {
      ruleSelect.value = editing.rule; $("count-input").value = editing.count || 1;
      $("area").value = editing.area_m2 || ""; $("deadline").value = editing.deadline || ""; $("note").value = editing.note || "";
      formPhotos = editing.photos.map(function (p) {
        return { saved: p, preview: p.blob ? URL.createObjectURL(p.blob) : p.thumb };
      });
    }
    syncKind();
    drawPhotos();
    if (!dialog.open) { dialog.showModal(); }
  }

  function closeForm() {
    dialog.close();
    $("area-box").hidden = true;
    target = null; editing = null;
  }

  function formError(message) { $("form-error").textContent = message; $("form-error").hidden = false; }

  ruleSelect.addEventListener("change", syncKind);
  form.querySelectorAll("input[name=area_class]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      // "up to the threshold" counts as the threshold (inclusive); "above" starts from an
      // estimate one m² over it, which the inspector can correct
      $("area").value = String(radio.value === "small" ? threshold : threshold + 1);
      syncArea();
    });
  });
  $("area").addEventListener("input", syncArea);
  // each photo is shrunk as soon as it is taken, so Save has nothing left to wait for; every
  // pick adds to the photos already there, up to the server's limit
  $("photos").addEventListener("change", function () {
    const files = Array.from($("photos").files);
    const room = photoLimit - formPhotos.filter(function (p) { return !p.removed; }).length;
    if (files.length > room) { formError(text.too_many_photos); }
    files.slice(0, Math.max(0, room)).forEach(function (file) {
      formPhotos.push({ preview: URL.createObjectURL(file),
                        blob: window.gisgridPhotos.shrink(file, rules.photo_long_side, rules.photo_max_bytes) });
    });
    $("photos").value = "";
    drawPhotos();
  });
  $("cancel").addEventListener("click", closeForm);

  function values() {
    const code = ruleSelect.value, rule = kindOf(code);
    if (!code) { formError(text.choose_rule); return null; }
    const out = { rule: code, count: rule.needs_count === false ? 1 : parseInt($("count-input").value || "1", 10),
                  note: $("note").value.trim() || null, area_m2: null, deadline: null };
    if (rule.needs_area) {
      const area = parseFloat($("area").value);
      if (!(area > 0)) { formError(text.need_area); return null; }
      out.area_m2 = area;
    }
    if (rule.needs_deadline) {
      if (!$("deadline").value) { formError(text.need_deadline); return null; }
      out.deadline = $("deadline").value;
    }
    return out;
  }

  // the distance to this road, checked on the tablet at once (the server checks again)
  function offRoad(latlng) {
    const metres = window.gisgridGeo.distanceM(latlng.lng, latlng.lat, data.road.geometry);
    if (metres <= data.snap_tolerance_m) { return null; }
    return fmt(text.off_road, { m: Math.round(metres), road: roadCode, tolerance: data.snap_tolerance_m });
  }

  async function queuePhotos(finding, photos) {
    for (const photo of photos) {
      const blob = await photo.blob;
      const id = finding.cid + "-p-" + Outbox.newId().slice(0, 8);
      await queue("photo", finding.cid, { id: id, method: "POST", url: RoadState.findingUrl(finding) + "/photos",
                                          form: { fields: { client_id: id }, files: { photo: blob } },
                                          about: { photo: id } });
    }
  }

  async function saveNew(fields, photos, at) {
    const cid = Outbox.newId();
    const body = Object.assign(fields, { id: cid, lon: at.lng, lat: at.lat, observed_at: new Date().toISOString() });
    await queue("create", cid, { id: cid, method: "POST", url: "/api/findings", body: body });
    await render();
    await queuePhotos({ cid: cid }, photos);
  }

  async function saveEdit(finding, fields, photos, removed, reason) {
    const create = finding.writes.find(function (w) { return w.about.kind === "create" && w.state === "refused"; });
    if (create) {   // a refused new finding is corrected where it waits, and sent again
      await Outbox.update(create.id, { body: Object.assign({}, create.body, fields), state: "waiting", refused: null });
    } else {
      const id = Outbox.newId();
      await queue("edit", finding.cid, { id: id, method: "PATCH", url: RoadState.findingUrl(finding),
                                         body: Object.assign({}, fields, { client_id: id, reason: reason }) });
    }
    for (const photo of removed) {
      const id = Outbox.newId();
      await queue("unphoto", finding.cid, { id: id, method: "DELETE", url: RoadState.photoUrl(photo),
                                            body: { client_id: id }, about: { photo: photo.cid, photo_id: photo.id } });
    }
    await render();
    await queuePhotos(finding, photos);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const fields = values();
    if (!fields) { return; }
    const fresh = formPhotos.filter(function (p) { return !p.saved; });
    const removed = formPhotos.filter(function (p) { return p.saved && p.removed; }).map(function (p) { return p.saved; });
    if (fresh.length + formPhotos.filter(function (p) { return p.saved && !p.removed; }).length > photoLimit) {
      formError(text.too_many_photos); return;
    }
    const at = target, finding = editing, reason = $("reason").value.trim() || null;
    if (!finding) {
      const off = offRoad(at);
      if (off) { formError(off); return; }
    }
    // Save never waits: the form closes now, the outbox keeps and sends in the background
    window.gisgridLastSave = { closed_at: performance.now() };
    closeForm();
    say(text.kept, "good");
    keptNotice = "queuing";   // until the write is in the outbox, an empty outbox does not mean sent
    const work = finding ? saveEdit(finding, fields, fresh, removed, reason) : saveNew(fields, fresh, at);
    work.then(function () {
      window.gisgridLastSave.queued_at = performance.now();
      if (keptNotice === "queuing") { keptNotice = "waiting"; }
      return render();
    })
      .then(flush, function (error) { say(fmt(text.not_kept, { reason: String(error) }), "bad"); });
  });

  $("delete").addEventListener("click", async function () {
    const finding = editing;
    if (!finding || !window.confirm(text.delete_confirm)) { return; }
    const id = Outbox.newId(), reason = $("reason").value.trim() || null;
    closeForm();
    await queue("delete", finding.cid, { id: id, method: "DELETE", url: RoadState.findingUrl(finding),
                                         body: { client_id: id, reason: reason } });
    say(text.kept); await render(); flush();
  });

  // Moving a finding (or a refused one): the next tap on the map is its new place.
  let moving = null;
  function startMove(finding, refused) {
    moving = { finding: finding, refused: refused, reason: $("reason").value.trim() || null };
    if (dialog.open) { closeForm(); }
    say(text.move_where, "warn");
  }
  $("move").addEventListener("click", function () { startMove(editing, false); });

  async function move(latlng) {
    const job = moving;
    const off = offRoad(latlng);
    if (off) { say(off, "bad"); return; }    // still moving: tap again on the road
    moving = null;
    const place = { lon: latlng.lng, lat: latlng.lat };
    const refused = job.finding.writes.filter(function (w) { return w.state === "refused"; });
    if (job.refused && refused.length) {
      for (const w of refused) {
        const body = w.about.kind === "create" || w.about.kind === "edit" ? Object.assign({}, w.body, place) : w.body;
        await Outbox.update(w.id, { body: body, state: "waiting", refused: null });
      }
    } else {
      const id = Outbox.newId();
      await queue("edit", job.finding.cid, { id: id, method: "PATCH", url: RoadState.findingUrl(job.finding),
                                             body: Object.assign(place, { client_id: id, reason: job.reason }) });
    }
    say(text.kept); await render(); flush();
  }

  async function discard(finding) {
    if (!window.confirm(text.discard_confirm)) { return; }
    const createRefused = finding.writes.some(function (w) { return w.about.kind === "create" && w.state === "refused"; });
    for (const w of finding.writes) {
      if (w.state === "refused" || createRefused) { await Outbox.discard(w.id); }
    }
    await render();
  }

  // a tap near a pin asks whether it is a new finding here or that one to edit
  function nearestPin(latlng) {
    const point = map.latLngToContainerPoint(latlng);
    let best = null, bestD = 28;
    current.findings.forEach(function (f) {
      if (!f.marker || !f.mine || f.deleted || f.state === "refused") { return; }
      const d = map.latLngToContainerPoint(f.marker.getLatLng()).distanceTo(point);
      if (d < bestD) { best = f; bestD = d; }
    });
    return best;
  }

  const chooser = $("chooser");
  let chosen = null;
  $("choose-new").addEventListener("click", function () { chooser.close(); openForm(chosen.at); });
  $("choose-edit").addEventListener("click", function () { chooser.close(); openForm(null, chosen.finding); });
  $("choose-cancel").addEventListener("click", function () { chooser.close(); });

  // a tap on the map, or "Pin at the crosshair" (the map's centre): the same place to pin or move to
  function placeAt(latlng) {
    if (moving) { move(latlng); return; }
    if ($("pin-here").disabled) { say($("month-state").textContent, "bad"); return; }
    const near = nearestPin(latlng);
    if (near) {
      chosen = { at: latlng, finding: near };
      $("choose-edit").textContent = fmt(text.edit_this, { rule: label(near.rule) });
      chooser.showModal();
      return;
    }
    openForm(latlng);
  }
  map.on("click", function (event) { placeAt(event.latlng); });
  $("pin-crosshair").addEventListener("click", function () { placeAt(map.getCenter()); });

  $("pin-here").addEventListener("click", function () {
    if (!navigator.geolocation) { say(text.no_gps, "bad"); return; }
    say(text.locating, "good");
    navigator.geolocation.getCurrentPosition(function (p) {
      $("message").hidden = true;
      openForm(L.latLng(p.coords.latitude, p.coords.longitude));
    }, function () { say(text.no_gps, "bad"); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 });
  });

  $("submit-road").addEventListener("click", async function () {
    if (!window.confirm(text.confirm_submit)) { return; }
    const id = Outbox.newId();
    await queue("submit", null, { id: id, method: "POST", url: "/api/months/" + month + "/roads/" + roadCode + "/submit",
                                  body: { client_id: id } });
    say(text.kept); await render(); flush();
  });

  Outbox.storage().then(function (space) {
    if (space.low) { say(fmt(text.space_low, { mb: space.free_mb }), "bad"); }
  });
  RoadState.newest(month, roadCode, data).then(function (best) { data = best; return render(); })
    .then(function () { if (navigator.onLine) { Outbox.flush().then(refresh); } });
})();

/* The road page: the road on a map, the inspector's position, the findings pinned so far, and
   the form to pin a new one (tap the map or "pin where I stand"). Every new finding goes
   through the outbox, so nothing is lost when the network drops. */
(function () {
  "use strict";
  let data = JSON.parse(document.getElementById("road-data").textContent);
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const text = JSON.parse(document.getElementById("i18n").textContent);
  // the rulebook in force for the month and the photo limit, as the server has them: the page
  // (cached for offline use) carries them, so a district's own rulebook is the tablet's too
  const rules = JSON.parse(document.getElementById("rules").textContent);
  const threshold = rules.rulebook.area_threshold_m2, photoLimit = rules.photos_per_finding;
  const ruleByCode = {};
  rules.rulebook.sections.forEach(function (s) { s.rules.forEach(function (r) { ruleByCode[r.code] = r; }); });
  const roadCode = data.road.properties.code;
  const $ = function (id) { return document.getElementById(id); };
  const call = window.gisgridHttp.call;
  const dialog = $("finding-form"), form = $("form"), ruleSelect = $("rule");
  const labels = {};
  Array.from(ruleSelect.options).forEach(function (o) { if (o.value) { labels[o.value] = o.textContent; } });

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; });
  }

  // the map ------------------------------------------------------------------------------
  const map = L.map("map", { zoomControl: true, tap: true });
  if (config.tiles) {
    L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: config.tiles.max_zoom,
                                    subdomains: config.tiles.subdomains || "abc" }).addTo(map);
  }
  if (data.grid.geometry) {
    L.geoJSON(data.grid, { style: { color: "#0d2b4e", weight: 2, dashArray: "6 6", fill: false }, interactive: false }).addTo(map);
  }
  const roadLayer = L.geoJSON(data.road, { style: { color: "#b45309", weight: 3, fillColor: "#f59e0b", fillOpacity: 0.35 },
                                           interactive: false }).addTo(map);
  map.fitBounds(roadLayer.getBounds(), { padding: [30, 30], maxZoom: 19 });
  const pins = L.layerGroup().addTo(map);
  let here = null;

  if (navigator.geolocation) {
    navigator.geolocation.watchPosition(function (p) {
      const at = [p.coords.latitude, p.coords.longitude];
      if (!here) {
        here = L.circleMarker(at, { radius: 9, color: "#fff", weight: 3, fillColor: "#1d4ed8", fillOpacity: 1 })
          .bindTooltip(text.you_are_here).addTo(map);
      } else { here.setLatLng(at); }
    }, function () {}, { enableHighAccuracy: true, maximumAge: 5000 });
  }

  // findings -----------------------------------------------------------------------------
  function row(props, state) {
    const li = document.createElement("li");
    li.className = "finding " + (state || "");
    const title = document.createElement("strong");
    title.textContent = labels[props.rule] || props.rule;
    li.appendChild(title);
    const detail = document.createElement("span");
    const parts = ["×" + (props.count || 1)];
    if (props.area_m2) { parts.push(props.area_m2 + " m²"); }
    if (props.note) { parts.push(props.note); }
    if (state === "pending") { parts.push(text.pending); }
    if (state === "refused") { parts.push(text.refused + ": " + props.refused); }
    detail.textContent = parts.join(" · ");
    li.appendChild(detail);
    (props.photos || []).forEach(function (photo) {
      const link = document.createElement("a");
      link.href = photo.url; link.target = "_blank";
      const img = document.createElement("img");
      img.src = photo.thumb; img.alt = ""; img.className = "thumb";
      link.appendChild(img); li.appendChild(link);
    });
    return li;
  }

  async function render() {
    // everything is gathered first, then swapped in at once: never a half-drawn list
    const waiting = (await Outbox.all()).filter(function (i) { return i.road === roadCode; });
    const items = [];
    pins.clearLayers();
    data.findings.features.forEach(function (f) {
      const p = f.properties;
      const marker = L.circleMarker([f.geometry.coordinates[1], f.geometry.coordinates[0]],
        { radius: 11, color: "#fff", weight: 2, fillColor: p.mine ? "#b42318" : "#6b7280", fillOpacity: 0.95 })
        .bindTooltip(labels[p.rule] || p.rule).addTo(pins);
      const li = row(p);
      if (p.mine) {
        marker.on("click", function (e) { L.DomEvent.stop(e); openForm(null, f); });
        li.addEventListener("click", function () { openForm(null, f); });
        li.classList.add("editable");
      }
      items.push(li);
    });
    waiting.forEach(function (item) {
      const p = Object.assign({}, item.finding, { refused: item.refused });
      L.circleMarker([item.finding.lat, item.finding.lon], { radius: 11, color: "#111", weight: 2, dashArray: "3 3",
                                                              fillColor: "#fbbf24", fillOpacity: 0.9 }).addTo(pins);
      items.push(row(p, item.refused ? "refused" : "pending"));
    });
    $("findings").replaceChildren.apply($("findings"), items);
    $("count").textContent = data.findings.features.length + waiting.length;
    $("score").textContent = data.score.score.toFixed(1);
    const pending = waiting.filter(function (i) { return !i.refused; }).length;
    $("outbox").hidden = pending === 0;
    $("outbox").textContent = fmt(text.waiting, { n: pending });
  }

  async function reload() {
    try {
      data = await call("/api/months/" + data.month + "/roads/" + roadCode);
    } catch (e) { /* offline or refused: keep what we have */ }
    await render();
  }

  function say(message, kind) {
    const box = $("message");
    box.textContent = message; box.className = "notice " + (kind || "good"); box.hidden = false;
  }

  // the form -----------------------------------------------------------------------------
  let target = null, editing = null;

  function kindOf(code) { return ruleByCode[code] ? ruleByCode[code].kind : ""; }

  // The deduction the server will make for this area: the rulebook's low figure up to the
  // threshold (inclusive), its high one above, and the size class chosen to match.
  function syncArea() {
    const rule = ruleByCode[ruleSelect.value], area = parseFloat($("area").value);
    const known = !!rule && rule.kind === "area" && area > 0;
    $("area-points").hidden = !known;
    if (!known) { return; }
    const large = area > threshold;
    form.querySelector("input[name=area_class][value=" + (large ? "large" : "small") + "]").checked = true;
    const points = large && rule.points_high !== null ? rule.points_high : rule.points;
    $("area-points").textContent = text.deduction + " −" + points;
    $("area-points").dataset.points = String(points);
  }

  function syncKind() {
    const area = kindOf(ruleSelect.value) === "area";
    $("area-box").hidden = !area;
    syncArea();
  }

  function openForm(at, feature) {
    editing = feature || null;
    target = at;
    $("form-error").hidden = true;
    $("form-title").textContent = editing ? text.edit : text.new;
    $("delete").hidden = !editing;
    $("move").hidden = !editing;
    $("reason-box").hidden = !(editing && data.inspection.submitted_at);
    if (editing) {
      const p = editing.properties;
      ruleSelect.value = p.rule; $("count-input").value = p.count; $("area").value = p.area_m2 || "";
      $("note").value = p.note || "";
    }
    syncKind();
    if (!dialog.open) { dialog.showModal(); }
  }

  function closeForm() {
    dialog.close();
    form.reset();
    $("photo-previews").replaceChildren();
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
  $("photos").addEventListener("change", function () {
    const previews = $("photo-previews");
    previews.replaceChildren();
    Array.from($("photos").files).slice(0, photoLimit).forEach(function (file) {
      const img = document.createElement("img");
      img.src = URL.createObjectURL(file); img.className = "thumb"; img.alt = "";
      previews.appendChild(img);
    });
    if ($("photos").files.length > photoLimit) { formError(text.too_many_photos); }
  });
  $("cancel").addEventListener("click", closeForm);

  function values() {
    const rule = ruleSelect.value;
    if (!rule) { formError(text.choose_rule); return null; }
    const out = { rule: rule, count: parseInt($("count-input").value || "1", 10), note: $("note").value.trim() || null };
    if (kindOf(rule) === "area") {
      const area = parseFloat($("area").value);
      if (!(area > 0)) { formError(text.need_area); return null; }
      out.area_m2 = area;
    }
    return out;
  }

  async function saveNew(fields) {
    const photos = Array.from($("photos").files);
    if (photos.length > photoLimit) { formError(text.too_many_photos); return; }
    const finding = Object.assign(fields, { id: Outbox.newId(), lon: target.lng, lat: target.lat,
                                            observed_at: new Date().toISOString() });
    const item = { id: finding.id, road: roadCode, finding: finding, photos: photos, saved_at: Date.now() };
    await Outbox.put(item);  // on the tablet first: nothing typed is lost, whatever happens next
    let result;
    try { result = await Outbox.send(item); } catch (e) { result = null; }
    if (result === null) {
      closeForm(); say(text.queued, "warn"); await render(); return;
    }
    if (!result.ok) {  // refused: the form and its photos stay for the inspector to fix
      await Outbox.remove(item.id);
      formError(result.data.message || String(result.status));
      return;
    }
    await Outbox.remove(item.id);
    closeForm();
    const r = result.data;
    if (r.road !== roadCode) { say(fmt(text.other_road, { road: r.road }), "warn"); }
    else if (r.snapped_m > 0) { say(fmt(text.snapped, { m: r.snapped_m, road: r.road }), "warn"); }
    else { say(text.saved); }
    if (r.photoErrors && r.photoErrors.length) { say(fmt(text.photo_failed, { reason: r.photoErrors.join("; ") }), "bad"); }
    await reload();
  }

  // a refusal's message, or "kept on the tablet" when the network is gone
  function problem(error) { return error.offline ? text.queued : error.message; }

  async function saveEdit(fields) {
    const body = Object.assign(fields, { reason: $("reason").value.trim() || null });
    try { await call("/api/findings/" + editing.properties.id, body, "PATCH"); }
    catch (error) { formError(problem(error)); return; }
    closeForm(); say(text.saved); await reload();
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const fields = values();
    if (!fields) { return; }
    $("save").disabled = true;
    try { if (editing) { await saveEdit(fields); } else { await saveNew(fields); } }
    finally { $("save").disabled = false; }
  });

  $("delete").addEventListener("click", async function () {
    if (!editing || !window.confirm(text.delete_confirm)) { return; }
    try { await call("/api/findings/" + editing.properties.id, { reason: $("reason").value.trim() || null }, "DELETE"); }
    catch (error) { formError(problem(error)); return; }
    closeForm(); say(text.saved); await reload();
  });

  // Moving a finding: the next tap on the map is its new place.
  let moving = null;
  $("move").addEventListener("click", function () {
    moving = { finding: editing, reason: $("reason").value.trim() || null };
    closeForm();
    say(text.move_where, "warn");
  });

  async function move(latlng) {
    const target = moving;
    moving = null;
    try { await call("/api/findings/" + target.finding.properties.id,
                     { lon: latlng.lng, lat: latlng.lat, reason: target.reason }, "PATCH"); }
    catch (error) { say(problem(error), "bad"); return; }
    say(text.saved); await reload();
  }

  map.on("click", function (event) { if (moving) { move(event.latlng); } else { openForm(event.latlng); } });

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
    try { await call("/api/months/" + data.month + "/roads/" + roadCode + "/submit", undefined, "POST"); }
    catch (error) { say(problem(error), "bad"); return; }
    $("submit-road").disabled = true; $("submit-road").textContent = text.submitted;
    await reload();
  });

  async function flush() {
    await Outbox.flush();
    await reload();
  }
  window.addEventListener("online", flush);
  // a send whose answer was lost stays in the outbox: try again every few seconds while online
  setInterval(async function () {
    if (navigator.onLine && (await Outbox.all()).some(function (i) { return !i.refused; })) { flush(); }
  }, 5000);
  render().then(function () { if (navigator.onLine) { flush(); } });
})();

/* The planner's map: grids, roads and towns; draw, reshape (with snapping to neighbours),
   cut, split, merge and remove; an attribute form; saves that say which version they started
   from, and a dialog with both versions when someone else saved first; the validation report
   with zoom-to. Every user- or file-supplied string reaches the page as text, never as HTML. */
(function () {
  "use strict";
  const P = window.gisgridPlanner, config = P.config, text = P.text, fmt = P.fmt, asText = P.asText, call = P.call;
  const $ = function (id) { return document.getElementById(id); };
  const SNAP = { snappable: true, snapDistance: 20, allowSelfIntersection: false };
  // grid classes, road grades and the attributes of each kind are the server's (page-config);
  // only their colours are the map's, handed out in the server's order
  const ATTRIBUTES = config.attributes;
  function colours(values, palette) {
    const out = {};
    values.forEach(function (v, i) { out[v] = palette[i % palette.length]; });
    return out;
  }
  const GRID_COLOURS = colours(config.grid_classes, ["#1a7f37", "#0b5cad", "#b45309"]);
  const ROAD_COLOURS = colours(config.grades, ["#b42318", "#d97706", "#7c3aed", "#0e7490"]);
  const FORM_IDS = { code: "f-code", name: "f-name", town: "f-town", grid_class: "f-class", leader: "f-leader",
                     grade: "f-grade", grid: "f-grid" };

  function say(message, tone) {
    const box = $("message");
    box.textContent = message;
    box.className = "notice " + (tone || "good");
    box.hidden = !message;
  }

  function setMode(hint) {
    $("mode").textContent = hint ? hint + " " + text.cancel : "";
    $("mode").hidden = !hint;
  }

  // the map ------------------------------------------------------------------------------
  const map = L.map("map", { zoomControl: true, tap: true, preferCanvas: false });
  map.pm.setLang(config.lang === "zh" ? "zh" : "en");
  map.pm.setGlobalOptions(SNAP);
  P.baseMap(map);
  const groups = { grid: L.featureGroup().addTo(map), road: L.featureGroup().addTo(map) };
  const towns = L.featureGroup().addTo(map);
  const defectLayer = L.featureGroup().addTo(map);
  const conflictLayer = L.featureGroup().addTo(map);
  const index = { grid: {}, road: {} };
  let selected = null;       // {kind, code (null while new), layer, version, dirty}
  let mode = null;           // draw-grid | draw-road | cut | split | merge
  let pendingConflict = null;

  function style(kind, props, active) {
    if (kind === "grid") {
      const colour = GRID_COLOURS[props.grid_class] || "#555";
      return { color: active ? "#f59e0b" : colour, weight: active ? 4 : 2, fillColor: colour, fillOpacity: 0.08 };
    }
    const colour = ROAD_COLOURS[props.grade] || "#374151";
    return { color: active ? "#f59e0b" : colour, weight: active ? 4 : 1.5, fillColor: colour, fillOpacity: 0.35 };
  }

  function makeLayer(kind, feature) {
    const layer = L.geoJSON(feature).getLayers()[0];
    layer.feature = feature;
    layer.setStyle(style(kind, feature.properties, false));
    layer.on("click", function () { clicked(kind, layer); });   // bubbles on: drawing needs the map to hear it
    if (feature.properties.name) { layer.bindTooltip(asText(feature.properties.name), { sticky: true }); }
    groups[kind].addLayer(layer);
    if (kind === "road") { layer.bringToFront(); }
    return layer;
  }

  function put(kind, feature, old) {
    if (old) { old.pm.disable(); groups[kind].removeLayer(old); map.removeLayer(old); }
    const layer = makeLayer(kind, feature);
    index[kind][feature.properties.code] = layer;
    return layer;
  }

  function fillLists() {
    const grids = $("grid-list"), townList = $("town-list");
    grids.textContent = ""; townList.textContent = "";
    Object.keys(index.grid).sort().forEach(function (code) {
      const o = document.createElement("option"); o.value = code; grids.appendChild(o);
    });
    const seen = {};
    Object.values(index.grid).forEach(function (l) {
      const town = l.feature.properties.town;
      if (town && !seen[town]) { seen[town] = true; const o = document.createElement("option"); o.value = town; townList.appendChild(o); }
    });
  }

  // A district comes whole; a city (more than data.limit features) comes by view, and only
  // once the view holds few enough of them to edit.
  let large = false;

  async function load(fit) {
    let url = config.layers;
    if (large && !fit) {
      const b = map.getBounds().pad(0.25);
      url += "?bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
    }
    const data = await call(url);
    large = data.large;
    const keep = selected;          // the feature being edited (or drawn, not yet saved) stays as it is
    ["grid", "road"].forEach(function (kind) {
      groups[kind].eachLayer(function (layer) { if (!keep || layer !== keep.layer) { groups[kind].removeLayer(layer); } });
      index[kind] = {};
      if (keep && keep.code && keep.kind === kind) { index[kind][keep.code] = keep.layer; }
    });
    [["grid", data.grids], ["road", data.roads]].forEach(function (pair) {
      pair[1].features.forEach(function (f) {
        if (!keep || keep.kind !== pair[0] || keep.code !== f.properties.code) { put(pair[0], f); }
      });
    });
    if (fit) {
      towns.clearLayers();
      L.geoJSON(data.towns, { pmIgnore: true, snapIgnore: true, interactive: false,
                              style: { color: "#0d2b4e", weight: 3, dashArray: "8 6", fill: false } }).addTo(towns);
    }
    fillLists();
    $("zoom-in").hidden = !data.too_many;
    if (fit && data.bounds) { map.fitBounds([[data.bounds[1], data.bounds[0]], [data.bounds[3], data.bounds[2]]], { padding: [20, 20] }); }
    else if (fit) { map.setView([35, 105], 4); }
    window.gisgridPlan.loads += 1;     // tests wait on it: a reload replaced the layers
  }

  map.on("moveend", function () { if (large && !mode) { load(false).catch(function (e) { say(e.message, "bad"); }); } });

  // selection and the form ---------------------------------------------------------------
  function clicked(kind, layer) {
    if (mode === "merge") { merge(kind, layer); return; }
    if (mode) { return; }
    if (selected && selected.dirty && selected.layer !== layer && !window.confirm(text.unsaved)) { return; }
    select(kind, layer);
  }

  function select(kind, layer, isNew) {
    deselect();
    const props = layer.feature ? layer.feature.properties : {};
    selected = { kind: kind, code: isNew ? null : props.code, layer: layer, version: isNew ? null : props.version,
                 dirty: !!isNew, stored: isNew ? null : layer.feature };
    layer.setStyle(style(kind, props, true));
    const panel = $("feature-panel");
    panel.hidden = false;
    panel.dataset.kind = kind;
    $("feature-title").textContent = (isNew ? (kind === "grid" ? text.new_grid : text.new_road)
                                            : (kind === "grid" ? text.grid : text.road) + " " + props.code);
    $("f-code").value = props.code || "";
    ATTRIBUTES[kind].forEach(function (a) { $(FORM_IDS[a]).value = props[a] || ""; });
    $("f-reason").value = "";
    $("f-version").textContent = isNew ? "" : fmt(text.version, { n: props.version });
    $("history-link").hidden = $("retire").hidden = $("split").hidden = $("merge").hidden = !!isNew;
    $("history-link").href = config.history.replace("KIND", kind).replace("CODE", encodeURIComponent(props.code || ""));
    $("feature-warnings").textContent = "";
  }

  function deselect() {
    if (!selected) { return; }
    selected.layer.pm.disable();
    if (selected.dirty && selected.stored) {       // changes not saved are undone, on the map too
      const kind = selected.kind, stored = selected.stored;
      selected.layer = put(kind, stored, selected.layer);
    }
    if (selected.layer.feature) { selected.layer.setStyle(style(selected.kind, selected.layer.feature.properties, false)); }
    if (selected.code === null && groups[selected.kind].hasLayer(selected.layer)) { groups[selected.kind].removeLayer(selected.layer); }
    selected = null;
    $("feature-panel").hidden = true;
  }

  function formProperties() {
    const props = { code: $("f-code").value.trim() };
    ATTRIBUTES[selected.kind].forEach(function (a) { props[a] = $(FORM_IDS[a]).value.trim() || null; });
    return props;
  }

  function geometryOf(layer) { return layer.toGeoJSON(false).geometry; }

  async function save(overVersion) {
    if (!selected) { return; }
    const props = formProperties();
    if (!$("feature-form").reportValidity()) { return; }
    selected.layer.pm.disable();
    say("");                         // the last save's "saved" must not stand for this one while it is sent
    const url = config.api + "/" + selected.kind + "/" + encodeURIComponent(selected.code || props.code);
    const body = { version: overVersion !== undefined ? overVersion : selected.version, properties: props,
                   geometry: geometryOf(selected.layer), reason: $("f-reason").value.trim() || null };
    try {
      const result = await call(url, body);
      if (result.conflict) { showConflict(result.conflict); return; }
      afterSave(result, text.saved);
    } catch (e) { say(e.message, "bad"); }
  }

  function afterSave(result, message) {
    const kind = selected.kind, old = selected.layer, oldCode = selected.code;
    selected.dirty = false;
    deselect();
    if (oldCode && oldCode !== result.features[0].properties.code) { delete index[kind][oldCode]; }
    let first = null;
    result.features.forEach(function (f, i) {
      const layer = put(kind, f, i === 0 ? old : index[kind][f.properties.code]);
      first = first || layer;
    });
    fillLists();
    select(kind, first);
    showWarnings(result.warnings || []);
    say(message, "good");
  }

  function showWarnings(warnings) {
    const list = $("feature-warnings");
    list.textContent = "";
    warnings.forEach(function (d) { list.appendChild(defectItem(d)); });
  }

  $("feature-form").addEventListener("submit", function (e) { e.preventDefault(); save(); });
  $("close").addEventListener("click", function () {
    if (selected && selected.dirty && !window.confirm(text.unsaved)) { return; }
    deselect();
  });
  // the reason goes with whatever is saved, split or merged next: typing it changes nothing yet
  $("feature-form").addEventListener("input", function (e) { if (selected && e.target.id !== "f-reason") { selected.dirty = true; } });

  // drawing and shape tools --------------------------------------------------------------
  function start(newMode, hint) {
    cancel();
    mode = newMode;
    setMode(hint);
  }

  function cancel() {
    map.pm.disableDraw();
    if (map.pm.globalCutModeEnabled()) { map.pm.disableGlobalCutMode(); }
    mode = null;
    setMode(null);
  }

  $("draw-grid").addEventListener("click", function () {
    deselect(); start("draw-grid", text.draw_hint); map.pm.enableDraw("Polygon", SNAP);
  });
  $("draw-road").addEventListener("click", function () {
    deselect(); start("draw-road", text.draw_hint); map.pm.enableDraw("Polygon", SNAP);
  });
  $("edit-shape").addEventListener("click", function () {
    if (!selected) { return; }
    selected.layer.pm.enable(SNAP);
    setMode(text.edit_hint);
  });
  $("cut").addEventListener("click", function () {
    if (!selected) { return; }
    start("cut", text.cut_hint);
    map.pm.enableGlobalCutMode(Object.assign({ layersToCut: [selected.layer] }, SNAP));
  });
  // the server splits and merges the stored shapes: edits not saved yet would be lost
  function storedSelection() {
    if (!selected || selected.code === null) { return false; }
    if (selected.dirty) { say(text.save_first, "bad"); return false; }
    return true;
  }
  $("split").addEventListener("click", function () {
    if (!storedSelection()) { return; }
    start("split", text.split_hint);
    map.pm.enableDraw("Line", { snappable: false });
  });
  $("merge").addEventListener("click", function () {
    if (!storedSelection()) { return; }
    start("merge", text.merge_hint);
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { cancel(); } });

  map.on("pm:create", function (e) {
    const drawn = e.layer;
    const was = mode;
    cancel();
    if (was === "draw-grid" || was === "draw-road") {
      const kind = was === "draw-grid" ? "grid" : "road";
      map.removeLayer(drawn);
      const layer = makeLayer(kind, { type: "Feature", properties: {}, geometry: drawn.toGeoJSON(false).geometry });
      select(kind, layer, true);
      $("f-code").focus();
    } else if (was === "split") {
      map.removeLayer(drawn);
      split(drawn.toGeoJSON(false).geometry);
    } else {
      map.removeLayer(drawn);
    }
  });

  map.on("pm:cut", function (e) {
    // Geoman puts the cut shape on a new layer: keep our feature, with its new outline
    if (!selected) { return; }
    const geometry = e.layer.toGeoJSON(false).geometry;
    map.removeLayer(e.layer);
    e.layer.remove();
    const feature = Object.assign({}, selected.layer.feature, { geometry: geometry });
    const kind = selected.kind, code = selected.code, version = selected.version;
    groups[kind].removeLayer(selected.layer);
    const layer = makeLayer(kind, feature);
    if (code) { index[kind][code] = layer; }
    selected.layer = layer;
    selected.dirty = true;
    layer.setStyle(style(kind, feature.properties, true));
    selected.version = version;
    cancel();
  });

  map.on("pm:edit", function () { if (selected) { selected.dirty = true; } });

  async function split(line) {
    const code = window.prompt(text.new_code, selected.code + "-2");
    if (!code) { return; }
    say("");
    try {
      const result = await call(config.api + "/" + selected.kind + "/" + encodeURIComponent(selected.code) + "/split",
                                { line: line, new_code: code.trim(), version: selected.version,
                                  reason: $("f-reason").value.trim() || null });
      if (result.conflict) { showConflict(result.conflict); return; }
      afterSave(result, text.saved);
    } catch (e) { say(e.message, "bad"); }
  }

  async function merge(kind, other) {
    cancel();
    if (!selected || kind !== selected.kind || other === selected.layer) { return; }
    const otherCode = other.feature.properties.code;
    if (!window.confirm(fmt(text.confirm_merge, { other: otherCode, code: selected.code }))) { return; }
    say("");
    try {
      const result = await call(config.api + "/" + kind + "/" + encodeURIComponent(selected.code) + "/merge",
                                { other: otherCode, version: selected.version, other_version: other.feature.properties.version,
                                  reason: $("f-reason").value.trim() || null });
      if (result.conflict) { showConflict(result.conflict); return; }
      groups[kind].removeLayer(other);
      delete index[kind][otherCode];
      if (kind !== "grid") { afterSave(result, text.saved); return; }
      selected.dirty = false;
      deselect();
      await load(false);                       // the merged grid's roads moved to it
      select(kind, index[kind][result.features[0].properties.code]);
      showWarnings(result.warnings || []);
      say(text.saved, "good");
    } catch (e) { say(e.message, "bad"); }
  }

  $("retire").addEventListener("click", async function () {
    if (!selected || selected.code === null) { return; }
    if (!window.confirm(fmt(text.confirm_retire, { code: selected.code }))) { return; }
    say("");
    try {
      const result = await call(config.api + "/" + selected.kind + "/" + encodeURIComponent(selected.code) + "/retire",
                                { version: selected.version, reason: $("f-reason").value.trim() || null });
      if (result.conflict) { showConflict(result.conflict); return; }
      const kind = selected.kind, code = selected.code, layer = selected.layer;
      selected.dirty = false;
      deselect();
      groups[kind].removeLayer(layer);
      delete index[kind][code];
      fillLists();
      say(text.saved, "good");
    } catch (e) { say(e.message, "bad"); }
  });

  // a conflicting save ---------------------------------------------------------------------
  function showConflict(data) {
    pendingConflict = data;
    $("conflict-message").textContent = data.message;
    const body = document.querySelector("#conflict-table tbody");
    body.textContent = "";
    const theirs = data.theirs.properties, yours = (data.yours || { properties: {} }).properties;
    ["code"].concat(ATTRIBUTES[selected.kind]).concat(["version"]).forEach(function (key) {
      const tr = document.createElement("tr");
      [text[key] || key, theirs[key], yours[key]].forEach(function (value) {
        const td = document.createElement("td"); td.textContent = value === null || value === undefined ? "" : String(value);
        tr.appendChild(td);
      });
      if (String(theirs[key]) !== String(yours[key]) && key !== "version") { tr.className = "differs"; }
      body.appendChild(tr);
    });
    conflictLayer.clearLayers();
    L.geoJSON(data.theirs, { pmIgnore: true, interactive: false, style: { color: "#b42318", weight: 3, dashArray: "6 4", fillOpacity: 0.1 } }).addTo(conflictLayer);
    if (data.yours) {
      L.geoJSON(data.yours, { pmIgnore: true, interactive: false, style: { color: "#0b5cad", weight: 3, fillOpacity: 0.1 } }).addTo(conflictLayer);
    }
    $("keep-mine").hidden = !data.yours;
    $("conflict").showModal();
  }

  $("take-theirs").addEventListener("click", function () {
    $("conflict").close();
    conflictLayer.clearLayers();
    const kind = selected.kind, theirs = pendingConflict.theirs, code = theirs.properties.code;
    if (code !== selected.code) {          // a merge's neighbour had changed: show it as stored, keep ours
      put(kind, theirs, index[kind][code]);
      return;
    }
    selected.dirty = false;
    const layer = put(kind, theirs, selected.layer);
    selected = null;
    select(kind, layer);
  });
  $("keep-mine").addEventListener("click", function () {
    $("conflict").close();
    conflictLayer.clearLayers();
    save(pendingConflict.theirs.properties.version);
  });

  // validation -----------------------------------------------------------------------------
  function zoomTo(bbox) {
    if (!bbox) { return; }
    const bounds = L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]);
    map.fitBounds(bounds.pad(0.5), { maxZoom: 19 });
  }

  function defectItem(d) {
    const li = document.createElement("li");
    li.className = "defect " + (d.blocking ? "blocking" : "warning");
    li.dataset.kind = d.kind;
    const title = document.createElement("strong");
    title.textContent = d.label;
    li.appendChild(title);
    const detail = document.createElement("span");
    detail.textContent = [d.codes.join(", "), d.area_m2 !== null ? fmt(text.area, { m2: d.area_m2 }) : "", d.message]
      .filter(Boolean).join(" · ");
    li.appendChild(detail);
    const zoom = document.createElement("button");
    zoom.type = "button"; zoom.className = "zoom"; zoom.textContent = text.zoom_to;
    zoom.addEventListener("click", function () {
      zoomTo(d.bbox);
      if (d.geometry) {
        defectLayer.clearLayers();
        L.geoJSON(d.geometry, { pmIgnore: true, interactive: false,
                                style: { color: "#e11d48", weight: 4, fillColor: "#e11d48", fillOpacity: 0.45 } }).addTo(defectLayer);
      }
    });
    li.appendChild(zoom);
    return li;
  }

  $("check").addEventListener("click", async function () {
    const panel = $("defect-panel"), list = $("defects");
    panel.hidden = false;
    list.textContent = "";
    $("defect-summary").textContent = text.checking;
    try {
      const report = await call(config.validation);
      defectLayer.clearLayers();
      $("defect-summary").textContent = report.defects.length
        ? report.blocking + " " + text.blocking + " · " + report.warnings + " " + text.warnings : text.no_defects;
      report.defects.forEach(function (d) {
        list.appendChild(defectItem(d));
        if (d.geometry) {
          L.geoJSON(d.geometry, { pmIgnore: true, interactive: false,
                                  style: { color: "#e11d48", weight: 3, fillColor: "#e11d48", fillOpacity: 0.3 } }).addTo(defectLayer);
        }
      });
    } catch (e) { $("defect-summary").textContent = e.message; }
  });

  // layers on and off ------------------------------------------------------------------------
  [["show-grids", groups.grid], ["show-roads", groups.road], ["show-towns", towns]].forEach(function (pair) {
    $(pair[0]).addEventListener("change", function (e) {
      if (e.target.checked) { map.addLayer(pair[1]); } else { map.removeLayer(pair[1]); }
    });
  });

  window.addEventListener("beforeunload", function (e) {
    if (selected && selected.dirty) { e.preventDefault(); e.returnValue = ""; }
  });

  load(true).catch(function (e) { say(e.message, "bad"); });
  window.gisgridPlan = { map: map, index: index, selected: function () { return selected; }, loads: 0 };
})();

/* The import wizard: upload (with its progress), preview the first rows and the features on
   a map, map the file's fields to ours and pick the CRS, then import in one transaction while
   the page follows its progress. File contents are shown as text, never as HTML. */
(function () {
  "use strict";
  const P = window.gisgridPlanner, config = P.config, text = P.text, fmt = P.fmt, asText = P.asText, call = P.call;
  const $ = function (id) { return document.getElementById(id); };
  let upload = null;      // {token, kind, preview}
  let previewMap = null, previewLayer = null;
  // The change list shown for the current choices (a JSON string of them), null when none is:
  // Import stays disabled until the planner has seen what it will write (issue 14).
  let shown = null, askedChanges = 0;

  function fail(message) { $("message").textContent = message; $("message").hidden = !message; }
  function step(name) {
    $("do-import").disabled = !(upload && upload.preview && upload.preview.osm) && !shown;
    ["upload", "preview", "import"].forEach(function (s) {
      $("step-" + s).hidden = s !== name;
      document.querySelector('#steps [data-step="' + s + '"]').className = s === name ? "on" : "";
    });
  }
  function kind() { return document.querySelector("input[name=kind]:checked").value; }

  // 1. upload ------------------------------------------------------------------------------
  $("upload-form").addEventListener("submit", function (e) {
    e.preventDefault();
    fail("");
    const file = $("file").files[0];
    if (!file) { return; }
    const form = new FormData();
    form.append("file", file);
    form.append("kind", kind());
    const request = new XMLHttpRequest();
    const bar = $("upload-progress");
    bar.hidden = false; bar.value = 0;
    $("upload").disabled = true;
    request.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) { bar.value = ev.loaded / ev.total; $("upload").textContent = fmt(text.uploading, { pct: Math.round(100 * ev.loaded / ev.total) }); }
    });
    request.upload.addEventListener("load", function () { $("upload").textContent = text.previewing; });
    request.addEventListener("loadend", function () {
      $("upload").disabled = false;
      $("upload").textContent = $("upload").dataset.label;
      bar.hidden = true;
      let data = {};
      try { data = JSON.parse(request.responseText || "{}"); } catch (err) { data = {}; }
      if (request.status === 0) { fail(text.offline); return; }
      if (request.status !== 201 && request.status !== 202) { fail(data.message || fmt(text.failed, { reason: request.status })); return; }
      upload = { token: data.token, kind: kind(), preview: data };
      if (request.status === 201) { showPreview(data); return; }
      $("upload").disabled = true;          // read in the background: the page asks until it is ready
      $("upload").textContent = text.previewing;
      awaitPreview(data.preview).finally(function () {
        $("upload").disabled = false;
        $("upload").textContent = $("upload").dataset.label;
      });
    });
    request.open("POST", config.uploads);
    // XMLHttpRequest, not fetch: only it reports upload progress; the token is the helper's
    request.setRequestHeader("X-CSRFToken", window.gisgridHttp.csrfToken());
    request.setRequestHeader("Accept", "application/json");
    request.send(form);
  });
  $("upload").dataset.label = $("upload").textContent;

  // 2. preview, fields and CRS ---------------------------------------------------------------
  function option(select, value, label, chosen) {
    const o = document.createElement("option");
    o.value = value; o.textContent = label; o.selected = chosen;
    select.appendChild(o);
  }

  function showPreview(data) {
    forgetChanges();
    step("preview");
    const osm = !!data.osm;
    $("show-changes").hidden = osm;
    $("do-import").disabled = !osm;
    $("mapping-box").hidden = $("crs-box").hidden = osm;
    $("layer-box").hidden = osm || !(data.layers && data.layers.length > 1);
    const layerSelect = $("layer");
    layerSelect.textContent = "";
    if (!osm) {
      option(layerSelect, "", text.choose_layer, !data.layer);
      (data.layers || []).forEach(function (name) { option(layerSelect, name, name, name === data.layer); });
    }
    $("crs-note").hidden = osm || !!data.crs || !!$("crs").value;
    $("preview-summary").textContent = osm ? fmt(text.osm_preview, { n: data.count, grids: data.drafted_grids })
      : [fmt(text.features, { n: data.count === undefined || data.count === null ? "?" : data.count }), data.crs || "", data.encoding || ""]
          .filter(Boolean).join(" · ");
    if (!osm) { showMapping(data); showRows(data); } else { $("rows").querySelector("thead").textContent = ""; $("rows").querySelector("tbody").textContent = ""; }
    showMap(data);
  }

  function showMapping(data) {
    const box = $("mapping");
    box.textContent = "";
    Object.keys(config.fields[upload.kind]).forEach(function (ours) {
      const label = document.createElement("label");
      label.textContent = text.ours[ours] || ours;
      const select = document.createElement("select");
      select.name = ours; select.dataset.ours = ours;
      option(select, "", text.none, !data.mapping || !data.mapping[ours]);
      (data.fields || []).forEach(function (f) { option(select, f, f, data.mapping && data.mapping[ours] === f); });
      select.addEventListener("change", function () { forgetChanges(); showUnmapped(); });
      label.appendChild(select);
      if (ours !== "code") {      // emptying a stored value is a choice, never what a missing column does
        const clear = document.createElement("label");
        clear.className = "check";
        const box_ = document.createElement("input");
        box_.type = "checkbox"; box_.dataset.clear = ours;
        box_.addEventListener("change", forgetChanges);
        clear.appendChild(box_);
        clear.appendChild(document.createTextNode(" " + text.clear));
        label.appendChild(clear);
      }
      box.appendChild(label);
    });
    showUnmapped();
  }

  function chosenFields() {
    const fields = {};
    document.querySelectorAll("#mapping select").forEach(function (s) { if (s.value) { fields[s.dataset.ours] = s.value; } });
    return fields;
  }

  function showUnmapped() {
    const used = Object.values(chosenFields());
    const left = ((upload && upload.preview && upload.preview.fields) || []).filter(function (f) { return used.indexOf(f) < 0; });
    $("unmapped").textContent = fmt(text.unmapped, { fields: left.join(", ") });
    $("unmapped").hidden = !left.length;
  }

  function choices() {
    const clear = [];
    document.querySelectorAll("#mapping input[data-clear]").forEach(function (c) { if (c.checked) { clear.push(c.dataset.clear); } });
    return { kind: upload.kind, layer: $("layer").value || null, crs: $("crs").value || null, fields: chosenFields(),
             clear: clear, retire_missing: $("retire-missing").checked };
  }

  // The change list: what the import would write, compared with what is stored -----------------
  function forgetChanges() {
    shown = null; askedChanges++;
    $("changes").hidden = true;
    if (upload && upload.preview && !upload.preview.osm) { $("do-import").disabled = true; }
  }

  function changeRow(code, what) {
    const tr = document.createElement("tr");
    [code, what].forEach(function (value) { const td = document.createElement("td"); td.textContent = value; tr.appendChild(td); });
    return tr;
  }

  function showChanges(data, key) {
    const body = $("changes-table").querySelector("tbody");
    body.textContent = "";
    data.new.forEach(function (code) { body.appendChild(changeRow(code, text.change_new)); });
    data.changed.forEach(function (c) {
      const what = Object.keys(c.attributes).map(function (name) {
        if (name === "retired") { return text.change_restored; }
        const pair = c.attributes[name];
        return (text.ours[name] || name) + ": " + (pair[0] === null ? text.none : pair[0]) + " → " + (pair[1] === null ? text.none : pair[1]);
      });
      if (c.area_changed_m2) { what.push(fmt(text.change_shape, { m2: c.area_changed_m2 })); }
      const row = changeRow(c.code, what.join("; "));
      row.dataset.code = c.code;
      body.appendChild(row);
    });
    $("changes-summary").textContent = (data.new.length || data.changed.length)
      ? fmt(text.changes_summary, { new: data.new.length, changed: data.changed.length, unchanged: data.unchanged, missing: data.missing.length })
      : text.no_changes;
    $("missing-box").hidden = !data.missing.length;
    $("missing-list").textContent = fmt(text.missing, { codes: data.missing.join(", ") });
    $("changes").hidden = false;
    shown = key;
    $("do-import").disabled = false;
  }

  async function askChanges() {
    fail("");
    const wanted = choices();
    if (!wanted.fields.code) { fail(text.code_needed); return; }
    if (!upload.preview.crs && !wanted.crs) { fail(text.crs_needed); return; }
    const key = JSON.stringify(Object.assign({}, wanted, { retire_missing: false }));
    const mine = ++askedChanges;
    const button = $("show-changes");
    button.disabled = true;
    $("changes-summary").textContent = text.reading_changes;
    try {
      let data = await call(config.uploads + "/" + upload.token + "/changes", wanted);
      while (data.state === "running") {
        await new Promise(function (done) { setTimeout(done, 400); });
        if (mine !== askedChanges) { return; }
        data = await call(config.uploads + "/" + upload.token + "/changes", wanted);
      }
      if (mine === askedChanges) { showChanges(data, key); }
    } catch (e) { if (mine === askedChanges) { fail(e.message); } } finally { button.disabled = false; }
  }
  $("show-changes").addEventListener("click", askChanges);

  function showRows(data) {
    const head = $("rows").querySelector("thead"), body = $("rows").querySelector("tbody");
    head.textContent = ""; body.textContent = "";
    if (!data.fields || !data.rows) { return; }
    const tr = document.createElement("tr");
    data.fields.forEach(function (f) { const th = document.createElement("th"); th.textContent = f; tr.appendChild(th); });
    head.appendChild(tr);
    data.rows.forEach(function (row) {
      const r = document.createElement("tr");
      row.forEach(function (value) { const td = document.createElement("td"); td.textContent = value === null ? "" : String(value); r.appendChild(td); });
      body.appendChild(r);
    });
  }

  function showMap(data) {
    if (!previewMap) {
      previewMap = L.map("preview-map", { zoomControl: true });
      P.baseMap(previewMap);
    }
    if (previewLayer) { previewMap.removeLayer(previewLayer); }
    previewLayer = L.featureGroup().addTo(previewMap);
    if (data.grids) { L.geoJSON(data.grids, { style: { color: "#555", weight: 1, dashArray: "4 4", fillOpacity: 0 } }).addTo(previewLayer); }
    if (data.features) {
      L.geoJSON(data.features, { style: { color: "#0b5cad", weight: 2, fillOpacity: 0.2 },
        onEachFeature: function (f, layer) {
          const label = f.properties && (f.properties.name || f.properties.code);
          if (label) { layer.bindTooltip(asText(label)); }
        } }).addTo(previewLayer);
    }
    setTimeout(function () {
      previewMap.invalidateSize();
      const bounds = previewLayer.getBounds();
      if (bounds.isValid()) { previewMap.fitBounds(bounds, { padding: [10, 10] }); } else { previewMap.setView([35, 105], 4); }
    }, 0);
  }

  // A preview is read in the background: 202 {state: "running"} until it is ready, then the
  // preview itself; only the newest request's answer is shown.
  let asked = 0;
  async function awaitPreview(url) {
    const mine = ++asked;
    try {
      let data = await call(url);
      while (data.state === "running") {
        await new Promise(function (done) { setTimeout(done, 400); });
        if (mine !== asked) { return; }
        data = await call(url);
      }
      if (mine !== asked || !upload) { return; }
      upload.preview = data;
      showPreview(data);
    } catch (e) { if (mine === asked) { fail(e.message); } }
  }

  function refresh() {
    fail("");
    const params = new URLSearchParams({ kind: upload.kind, layer: $("layer").value, crs: $("crs").value });
    return awaitPreview(config.uploads + "/" + upload.token + "/preview?" + params.toString());
  }
  $("layer").addEventListener("change", refresh);
  $("crs").addEventListener("change", refresh);
  $("restart").addEventListener("click", function () { asked++; upload = null; fail(""); step("upload"); });
  $("again").addEventListener("click", function () { asked++; upload = null; $("file").value = ""; step("upload"); });

  // 3. import with progress -------------------------------------------------------------------
  $("do-import").addEventListener("click", async function () {
    fail("");
    const wanted = upload.preview.osm ? {} : choices();
    if (!upload.preview.osm && shown !== JSON.stringify(Object.assign({}, wanted, { retire_missing: false }))) {
      fail(text.changes_needed); return;
    }
    const button = this;
    button.disabled = true;                 // a double tap starts one import
    try {
      const started = await call(config.uploads + "/" + upload.token + "/import", wanted);
      step("import");
      $("import-result").hidden = true;
      follow(started.progress);
    } catch (e) { button.disabled = false; fail(e.message); }
  });

  async function follow(url) {
    let state;
    try { state = await call(url); } catch (e) { setTimeout(function () { follow(url); }, 1000); return; }
    $("import-progress").value = state.fraction || 0;
    $("import-stage").textContent = text["stage_" + state.stage] || "";
    if (state.state === "running" || state.state === "waiting") { setTimeout(function () { follow(url); }, 400); return; }
    if (state.state === "failed") { step("preview"); fail(state.message); return; }
    const r = state.result;
    $("import-result").hidden = false;
    $("import-summary").textContent = r.kind === "osm" ? fmt(text.osm_done, { created: r.created, grids: r.grids })
                                                       : [fmt(text.done, { created: r.created, updated: r.updated }),
                                                          fmt(text.done_unchanged, { n: r.unchanged || 0 })]
                                                          .concat(r.retired && r.retired.length ? [fmt(text.done_retired, { n: r.retired.length })] : []).join(", ");
    const notes = $("import-notes");
    notes.textContent = "";
    (r.repaired || []).forEach(function (pair) { const li = document.createElement("li"); li.textContent = fmt(text.repaired, { code: pair[0], what: pair[1] }); notes.appendChild(li); });
    (r.warnings || []).forEach(function (w) { const li = document.createElement("li"); li.textContent = w; notes.appendChild(li); });
    if (r.kept) { const li = document.createElement("li"); li.textContent = fmt(text.osm_kept, { n: r.kept }); notes.appendChild(li); }
    if (r.unplaced && r.unplaced.length) { const li = document.createElement("li"); li.textContent = fmt(text.unplaced, { codes: r.unplaced.join(", ") }); notes.appendChild(li); }
  }
})();

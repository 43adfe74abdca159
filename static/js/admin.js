// The office's month page: choosing another month in the picker opens that month's page.
(function () {
  const input = document.getElementById("month-input");
  if (!input) return;
  input.addEventListener("change", function () {
    if (/^\d{4}-\d{2}$/.test(input.value)) window.location.assign("../month/" + input.value);
  });
})();

// Designating roads from the map: a click on a road ticks or unticks its box in the list (the
// form sends the boxes; the server checks the designation). A city is loaded in view, as the
// planner's map does, and asks to zoom in when more is in view than the server sends.
(function () {
  "use strict";
  const box = document.getElementById("designate-map");
  if (!box || !window.L) return;
  const ticks = {};
  document.querySelectorAll("#designation input[name=roads]").forEach(function (input) { ticks[input.value] = input; });
  const ON = { color: "#6e0f08", weight: 3, fillColor: "#b42318", fillOpacity: 0.7 };
  const OFF = { color: "#7c2d12", weight: 1, fillColor: "#f59e0b", fillOpacity: 0.3 };
  const note = document.getElementById("designate-zoom");
  let map = null, roads = null, large = false;

  function ticked(code) { return !!(ticks[code] && ticks[code].checked); }
  function style(feature) {
    return Object.assign({ className: "designate-road road-" + feature.properties.code }, ticked(feature.properties.code) ? ON : OFF);
  }
  function restyle() { if (roads) { roads.eachLayer(function (layer) { layer.setStyle(ticked(layer.feature.properties.code) ? ON : OFF); }); } }

  function draw(data) {
    note.hidden = !data.too_many;
    if (data.too_many) { return; }
    const grids = L.geoJSON(data.grids, { style: { color: "#0d2b4e", weight: 1, dashArray: "4 4", fill: false }, interactive: false });
    roads = L.geoJSON(data.roads, {
      style: style,
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(feature.properties.code + (feature.properties.name ? " " + feature.properties.name : ""));
        layer.on("click", function () {
          const input = ticks[feature.properties.code];
          if (!input) { return; }
          input.checked = !input.checked;
          input.dispatchEvent(new Event("change", { bubbles: true }));
        });
      }
    });
    layers.clearLayers();
    layers.addLayer(grids).addLayer(roads);
    box.dataset.ready = "1";
  }

  let layers = null;
  async function load(bbox) {
    const data = await window.gisgridHttp.call(box.dataset.layers + (bbox ? "?bbox=" + bbox : ""));
    draw(data);
    return data;
  }

  async function open() {
    if (map) { map.invalidateSize(); return; }
    map = L.map(box);
    layers = L.layerGroup().addTo(map);
    const first = await load(null);
    large = first.large;
    if (first.bounds) { map.fitBounds([[first.bounds[1], first.bounds[0]], [first.bounds[3], first.bounds[2]]]); }
    map.on("moveend", function () { if (large) { load(map.getBounds().toBBoxString()); } });
    if (large) { load(map.getBounds().toBBoxString()); }
  }

  document.getElementById("designation").addEventListener("change", restyle);
  const details = box.closest("details");
  if (details.open) { open(); }
  details.addEventListener("toggle", function () { if (details.open) { open(); } });
})();

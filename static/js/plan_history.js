/* A feature's history: a small map per version, the shape before (dashed grey) and after. */
(function () {
  "use strict";
  const history = JSON.parse(document.getElementById("history-data").textContent);
  history.forEach(function (h) {
    const box = document.querySelector('.thumb-map[data-version="' + h.version + '"]');
    if (!box) { return; }
    const map = L.map(box, { zoomControl: false, attributionControl: false, dragging: false, scrollWheelZoom: false,
                             doubleClickZoom: false, boxZoom: false, keyboard: false, touchZoom: false });
    const shapes = L.featureGroup().addTo(map);
    if (h.before) {
      L.geoJSON(h.before, { style: { color: "#6b7280", weight: 2, dashArray: "5 4", fillOpacity: 0.05 } }).addTo(shapes);
    }
    L.geoJSON(h.after, { style: { color: "#0b5cad", weight: 2, fillOpacity: 0.2 } }).addTo(shapes);
    map.fitBounds(shapes.getBounds(), { padding: [8, 8] });
  });
})();

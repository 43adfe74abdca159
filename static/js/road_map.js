/* The road page's map, for a finger: the road drawn as a band wide enough to tap (with or without
   a base map), opened on the road, the position with its accuracy circle, a "centre on me"
   control and an optional fixed crosshair (placing by moving the map under it, where a fingertip
   would hide the spot; the choice is kept on the tablet); controls are 44 px (inspect.css). */
window.RoadMap = (function () {
  "use strict";

  function create(data, config, text, say) {
    const map = L.map("map", { zoomControl: true, tap: true });
    if (config.tiles) {
      L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: config.tiles.max_zoom,
                                      subdomains: config.tiles.subdomains || "abc" }).addTo(map);
    }
    if (data.grid.geometry) {
      L.geoJSON(data.grid, { style: { color: "#0d2b4e", weight: 2, dashArray: "6 6", fill: false }, interactive: false }).addTo(map);
    }
    // an 8 m road is a 3-px line at the zoom that shows all of it: a wide band makes it a target
    L.geoJSON(data.road, { style: { color: "#b45309", weight: 22, opacity: 0.35, lineJoin: "round" }, interactive: false }).addTo(map);
    const roadLayer = L.geoJSON(data.road, { style: { color: "#7c2d12", weight: 3, fillColor: "#f59e0b", fillOpacity: 0.45 },
                                             interactive: false }).addTo(map);
    map.fitBounds(roadLayer.getBounds(), { padding: [24, 24], maxZoom: 19 });
    // the page around the map changes height (the score's "waiting" note, the messages): the map
    // keeps what is at its centre there, instead of sliding under the inspector's finger
    if (window.ResizeObserver) { new ResizeObserver(function () { map.invalidateSize(); }).observe(map.getContainer()); }
    const pins = L.layerGroup().addTo(map);
    let here = null, accuracy = null, lastFix = null;

    const CentreOnMe = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        const button = L.DomUtil.create("button", "map-button");
        button.type = "button"; button.id = "centre-on-me"; button.textContent = "◎";
        button.title = text.centre_on_me; button.setAttribute("aria-label", text.centre_on_me);
        L.DomEvent.disableClickPropagation(button);
        L.DomEvent.on(button, "click", function () {
          if (lastFix) { map.setView(lastFix, Math.max(map.getZoom(), 18)); } else { say(text.no_gps, "bad"); }
        });
        return button;
      }
    });
    new CentreOnMe().addTo(map);

    const CROSSHAIR_KEY = "gisgrid.crosshair";
    const mark = L.DomUtil.create("div", "crosshair-mark", map.getContainer());
    mark.setAttribute("aria-hidden", "true");
    let crosshairButton = null;
    function showCrosshair(on) {
      map.getContainer().classList.toggle("with-crosshair", on);
      crosshairButton.setAttribute("aria-pressed", on ? "true" : "false");
      document.getElementById("pin-crosshair").hidden = !on;
      try { localStorage.setItem(CROSSHAIR_KEY, on ? "1" : ""); } catch (e) { /* private mode: not kept */ }
    }
    const Crosshair = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        crosshairButton = L.DomUtil.create("button", "map-button");
        crosshairButton.type = "button"; crosshairButton.id = "crosshair"; crosshairButton.textContent = "✛";
        crosshairButton.title = text.crosshair; crosshairButton.setAttribute("aria-label", text.crosshair);
        L.DomEvent.disableClickPropagation(crosshairButton);
        L.DomEvent.on(crosshairButton, "click", function () {
          showCrosshair(!map.getContainer().classList.contains("with-crosshair"));
        });
        return crosshairButton;
      }
    });
    new Crosshair().addTo(map);
    let kept = "";
    try { kept = localStorage.getItem(CROSSHAIR_KEY) || ""; } catch (e) { /* private mode */ }
    showCrosshair(kept === "1");

    if (navigator.geolocation) {
      navigator.geolocation.watchPosition(function (p) {
        lastFix = L.latLng(p.coords.latitude, p.coords.longitude);
        if (!here) {
          accuracy = L.circle(lastFix, { radius: p.coords.accuracy, color: "#1d4ed8", weight: 1, fillOpacity: 0.12,
                                         interactive: false, className: "accuracy" }).addTo(map);
          here = L.circleMarker(lastFix, { radius: 9, color: "#fff", weight: 3, fillColor: "#1d4ed8", fillOpacity: 1,
                                           interactive: false }).bindTooltip(text.you_are_here).addTo(map);
        } else { here.setLatLng(lastFix); accuracy.setLatLng(lastFix).setRadius(p.coords.accuracy); }
      }, function () {}, { enableHighAccuracy: true, maximumAge: 5000 });
    }

    return { map: map, pins: pins };
  }

  return { create: create };
})();

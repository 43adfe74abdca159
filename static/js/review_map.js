// The reviewer's map layers, called from the folium maps' scripts: the month's choropleth
// and a grid's roads and findings. Every text from the data goes in with textContent.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function baseLayer(map, tiles) {
    // a metric scale bar only: Chinese offices measure in metres, never in feet
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    // without a tile layer Leaflet knows no maximum zoom, and clustering needs one
    map.setMaxZoom(tiles && tiles.max_zoom ? tiles.max_zoom : 19);
    if (!tiles) return;
    var options = { attribution: tiles.attribution || "", maxZoom: tiles.max_zoom || 19 };
    if (tiles.subdomains) options.subdomains = tiles.subdomains;
    L.tileLayer(tiles.url, options).addTo(map);
  }

  function colourOf(score, classes, unassessed) {
    if (score === null || score === undefined) return unassessed;
    var chosen = classes[0][1];
    for (var i = 0; i < classes.length; i++) if (score >= classes[i][0]) chosen = classes[i][1];
    return chosen;
  }

  function points(value) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(2);
  }

  // The compact layer (gisgrid.review.light_layer) back to GeoJSON: rings are integer steps.
  function decode(light) {
    var features = [];
    for (var i = 0; i < light.codes.length; i++) {
      var polygons = light.shapes[i].map(function (rings) {
        return rings.map(function (steps) {
          var ring = [], x = light.origin[0], y = light.origin[1];
          for (var k = 0; k < steps.length; k += 2) {
            x += steps[k];
            y += steps[k + 1];
            ring.push([x / light.scale, y / light.scale]);
          }
          ring.push(ring[0]);
          return ring;
        });
      });
      features.push({ type: "Feature", geometry: { type: "MultiPolygon", coordinates: polygons },
        properties: { c: light.codes[i], n: light.names ? light.names[i] : null, s: light.scores[i], r: light.ranks[i] } });
    }
    return { type: "FeatureCollection", features: features };
  }

  // The month: grids coloured by score; hover shows score and rank, click asks the page for details.
  window.gisgridChoropleth = function (map, light, options) {
    baseLayer(map, options.tiles);
    var labels = options.labels || {};
    var data = decode(light);
    var layer = L.geoJSON(data, {
      renderer: options.canvas ? L.canvas({ padding: 0.1 }) : undefined,
      style: function (feature) {
        var p = feature.properties;
        return { color: "#555", weight: 0.6, fillOpacity: p.s === null ? 0.35 : 0.8,
                 fillColor: colourOf(p.s, options.classes, options.unassessed),
                 dashArray: p.s === null ? "3 3" : null };
      },
      onEachFeature: function (feature, lyr) {
        var p = feature.properties;
        // the grid's code on its SVG path: for keyboard-less tests and for the print view
        lyr.on("add", function () { if (lyr.getElement && lyr.getElement()) lyr.getElement().setAttribute("data-code", p.c); });
        if (options.interactive === false) return;
        lyr.bindTooltip(function () {
          var box = el("div", "grid-tip");
          box.appendChild(el("strong", null, p.n || p.c));
          if (p.n) box.appendChild(el("div", null, p.c));
          box.appendChild(el("div", "tip-score", p.s === null ? (labels.unassessed || "not assessed")
            : (labels.score || "score") + " " + points(p.s) + " · " + (labels.rank || "rank") + " " + p.r));
          return box;
        }, { sticky: true });
        lyr.on("click", function () {
          document.dispatchEvent(new CustomEvent("gisgrid:grid", { detail: { code: p.c, map: options.id } }));
        });
      }
    }).addTo(map);
    if (data.features.length) map.fitBounds(layer.getBounds(), { padding: [8, 8] });
    map.gisgridLayer = layer;
    // names on the map for a district-sized month (the server says up to how many grids)
    if (light.names && data.features.length <= (options.label_up_to || 0)) {
      var labelLayer = L.layerGroup().addTo(map);
      layer.eachLayer(function (lyr) {
        var p = lyr.feature.properties;
        var text = el("span", "grid-label-text", (p.n || p.c) + (p.s === null ? "" : " " + points(p.s)));
        var marker = L.marker(lyr.getBounds().getCenter(), {
          interactive: false, keyboard: false,
          icon: L.divIcon({ className: "grid-label", html: text.outerHTML, iconSize: null })
        });
        marker.on("add", function () { if (marker.getElement()) marker.getElement().setAttribute("data-code", p.c); });
        marker.addTo(labelLayer);
      });
    }
    // two months side by side move together
    window.gisgridMaps = window.gisgridMaps || {};
    window.gisgridMaps[options.id || "main"] = map;
    var others = Object.keys(window.gisgridMaps).map(function (k) { return window.gisgridMaps[k]; });
    if (others.length === 2) {
      others.forEach(function (one, i) {
        var other = others[1 - i];
        one.on("move", function () {
          if (one.gisgridSyncing) return;
          other.gisgridSyncing = true;
          other.setView(one.getCenter(), one.getZoom(), { animate: false });
          other.gisgridSyncing = false;
        });
      });
    }
    // Two animation frames after the layer was added, it has been painted.
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        window.gisgridDrawn = performance.now();
        map.getContainer().setAttribute("data-drawn", String(data.features.length));
      });
    });
    return layer;
  };

  // A grid: its outline, its roads (sampled ones bold and coloured), every finding clustered.
  window.gisgridGridMap = function (map, data, options) {
    baseLayer(map, options.tiles);
    var labels = options.labels || {};
    var outline = L.geoJSON(data.grid, { style: { color: "#1f2937", weight: 2, fill: false, dashArray: "6 4" } })
      .addTo(map);
    data.roads.forEach(function (road) {
      L.geoJSON(road.geometry, {
        style: { color: road.sampled ? "#b2182b" : "#6b7280", weight: road.sampled ? 3 : 1,
                 fillOpacity: road.sampled ? 0.45 : 0.15 }
      }).bindTooltip(function () {
        var box = el("div");
        box.appendChild(el("strong", null, road.name || road.code));
        box.appendChild(el("div", null, road.code + (road.sampled ? " · " + (labels.sampled || "sampled") + " · "
          + points(road.score) : "")));
        return box;
      }, { sticky: true }).addTo(map);
    });
    var cluster = L.markerClusterGroup ? L.markerClusterGroup({ maxClusterRadius: 40 }) : L.layerGroup();
    data.findings.forEach(function (f) {
      var marker = L.circleMarker([f.lat, f.lon], {
        radius: 8, weight: 2, color: "#fff", fillColor: f.sampled ? "#b2182b" : "#6b7280", fillOpacity: 0.95
      });
      marker.bindPopup(function () {
        var box = el("div", "finding-pop");
        box.appendChild(el("strong", null, f.rule + " " + (f.rule_zh || "")));
        box.appendChild(el("div", null, f.road + " · " + f.observed_at));
        box.appendChild(el("div", null, (labels.count || "count") + " " + f.count + " · " +
          (f.sampled ? (labels.points || "points") + " −" + points(f.points) : (labels.not_scored || "not scored"))));
        if (f.note) box.appendChild(el("div", "muted", f.note));
        f.photos.forEach(function (photo) {
          var link = el("a");
          link.href = photo.url;
          link.target = "_blank";
          link.rel = "noopener";
          var img = el("img", "thumb");
          img.src = photo.thumb;
          img.alt = labels.photo || "photo";
          link.appendChild(img);
          box.appendChild(link);
        });
        return box;
      }, { maxWidth: 360 });
      marker.findingId = f.id;
      cluster.addLayer(marker);
    });
    cluster.addTo(map);
    map.fitBounds(outline.getBounds(), { padding: [12, 12] });
    map.gisgridFindings = cluster;
    document.addEventListener("gisgrid:finding", function (event) {
      cluster.eachLayer(function (marker) {
        if (marker.findingId === event.detail.id) {
          if (cluster.zoomToShowLayer) cluster.zoomToShowLayer(marker, function () { marker.openPopup(); });
          else marker.openPopup();
        }
      });
    });
    return cluster;
  };
})();

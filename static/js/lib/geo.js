/* How far a point is from a road's shape (GeoJSON from the server, WGS84), in metres, so the
   tablet can say at once that a pin is off the road instead of learning it on reconnect. A local
   equirectangular projection is exact to well under a metre over a road's few hundred metres;
   the server's placement (in a metric projection) still decides. */
window.gisgridGeo = (function () {
  "use strict";
  const METRES_PER_DEGREE = 6371008.8 * Math.PI / 180;

  function rings(geometry) {
    const c = geometry.coordinates;
    switch (geometry.type) {
      case "Polygon": return { areas: [c], lines: c };
      case "MultiPolygon": return { areas: c, lines: [].concat.apply([], c) };
      case "LineString": return { areas: [], lines: [c] };
      case "MultiLineString": return { areas: [], lines: c };
      default: return { areas: [], lines: [] };
    }
  }

  function inside(x, y, ring) {
    let hit = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i], b = ring[j];
      if ((a[1] > y) !== (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0]) { hit = !hit; }
    }
    return hit;
  }

  function distanceM(lon, lat, geometry) {
    const shape = rings(geometry);
    if (shape.areas.some(function (polygon) {
      return inside(lon, lat, polygon[0]) && !polygon.slice(1).some(function (hole) { return inside(lon, lat, hole); });
    })) { return 0; }
    const kx = METRES_PER_DEGREE * Math.cos(lat * Math.PI / 180), ky = METRES_PER_DEGREE;
    let best = Infinity;
    shape.lines.forEach(function (line) {
      for (let i = 1; i < line.length; i++) {
        const ax = (line[i - 1][0] - lon) * kx, ay = (line[i - 1][1] - lat) * ky;
        const bx = (line[i][0] - lon) * kx, by = (line[i][1] - lat) * ky;
        const dx = bx - ax, dy = by - ay, length = dx * dx + dy * dy;
        const t = length ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / length)) : 0;
        best = Math.min(best, Math.hypot(ax + t * dx, ay + t * dy));
      }
    });
    return best;
  }

  return { distanceM: distanceM };
})();

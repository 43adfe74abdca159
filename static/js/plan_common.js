/* What the planner's pages share: their config and texts, message templates, text-only
   tooltips, JSON calls (lib/http.js) in the planner's words, and the base map when tiles are configured. */
window.gisgridPlanner = (function () {
  "use strict";
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const text = JSON.parse(document.getElementById("i18n").textContent);

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; });
  }
  // Leaflet puts a tooltip's string in as HTML: names from files and forms go in as text
  function asText(value) { const span = document.createElement("span"); span.textContent = String(value); return span; }

  // GET without a body, POST with one (as JSON, through the one helper); a refused save of a
  // changed feature answers {conflict} with both versions, any other refusal throws its message.
  async function call(url, body) {
    try {
      return await window.gisgridHttp.call(url, body);
    } catch (error) {
      if (error.offline) { throw new Error(text.offline); }
      if (error.status === 409 && error.data.theirs) { return { conflict: error.data }; }
      throw new Error(error.data.message || fmt(text.failed, { reason: error.status }));
    }
  }

  function baseMap(map) {
    if (config.tiles) {
      L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: config.tiles.max_zoom,
                                      subdomains: config.tiles.subdomains || "abc" }).addTo(map);
    }
    return map;
  }

  return { config: config, text: text, fmt: fmt, asText: asText, call: call, baseMap: baseMap };
})();

/* What the planner's pages share: their config and texts, message templates, text-only
   tooltips, JSON calls that carry the CSRF token, and the base map when tiles are configured. */
window.gisgridPlanner = (function () {
  "use strict";
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const text = JSON.parse(document.getElementById("i18n").textContent);

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; });
  }
  // Leaflet puts a tooltip's string in as HTML: names from files and forms go in as text
  function asText(value) { const span = document.createElement("span"); span.textContent = String(value); return span; }

  // GET without a body, POST with one (as JSON); a refused save of a changed feature answers
  // {conflict} with both versions, any other refusal throws its message.
  async function call(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: body === undefined ? "GET" : "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": document.querySelector("meta[name=csrf-token]").content },
        body: body === undefined ? undefined : JSON.stringify(body)
      });
    } catch (e) {
      throw new Error(text.offline);
    }
    const data = await response.json().catch(function () { return {}; });
    if (response.status === 409 && data.theirs) { return { conflict: data }; }
    if (!response.ok) { throw new Error(data.message || fmt(text.failed, { reason: response.status })); }
    return data;
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

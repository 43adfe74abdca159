// The month page: the month picker, and a click on a grid showing its roads and deductions by
// section beside the map, from the page's JSON twin, asked for that grid alone. Text goes in with textContent only.
(function () {
  "use strict";
  // the month picker goes to the chosen month (or comparison) at once; the page's policy allows
  // no inline handlers, so they are here
  var picker = document.getElementById("month-picker");
  if (picker) {
    picker.elements.month.addEventListener("change", function () {
      location.href = picker.dataset.base.replace("MONTH", picker.elements.month.value);
    });
    picker.elements.compare.addEventListener("change", function () {
      var compare = picker.elements.compare.value;
      location.href = picker.dataset.base.replace("MONTH", picker.dataset.month) +
        (compare ? "?compare=" + encodeURIComponent(compare) : "");
    });
  }
  // the ranking's filters apply at once (the button stays for a page without scripts)
  var filter = document.getElementById("ranking-filter");
  if (filter) {
    ["town", "class"].forEach(function (name) {
      filter.elements[name].addEventListener("change", function () { filter.submit(); });
    });
  }
  var panel = document.getElementById("grid-detail");
  if (!panel) return;
  var labels = JSON.parse(document.getElementById("review-labels").textContent);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function points(v) { return v === null || v === undefined ? "–" : Number(v).toFixed(2); }
  function sectionName(code) {
    var s = labels.sections[code];
    return s ? code + " " + s[labels.lang] : code;
  }

  function show(grid) {
    panel.replaceChildren();
    panel.setAttribute("data-code", grid.code);
    panel.appendChild(el("h2", null, grid.name || grid.code));
    panel.appendChild(el("p", "muted", grid.code + (grid.town ? " · " + grid.town : "")));
    var head = el("p", "detail-score");
    head.appendChild(el("span", "score", grid.score === null ? labels.unassessed : labels.score + " " + points(grid.score)));
    if (grid.rank) head.appendChild(el("span", "rank", " · " + labels.rank + " " + grid.rank));
    panel.appendChild(head);
    if (grid.roads.length) {
      panel.appendChild(el("h3", null, labels.roads));
      var list = el("ul", "detail-roads");
      grid.roads.forEach(function (road) {
        var item = el("li");
        item.setAttribute("data-road", road.code);
        item.appendChild(el("strong", null, road.code + " "));
        item.appendChild(el("span", "road-score", points(road.score)));
        var sections = Object.keys(road.by_section);
        var sub = el("ul", "sections");
        if (!sections.length) sub.appendChild(el("li", "muted", labels.none));
        sections.forEach(function (code) {
          var line = el("li", null, sectionName(code) + ": −");
          line.setAttribute("data-section", code);
          line.appendChild(el("span", "points", points(road.by_section[code])));
          sub.appendChild(line);
        });
        item.appendChild(sub);
        list.appendChild(item);
      });
      panel.appendChild(list);
    }
    var link = el("a", "button", labels.open);
    link.href = panel.dataset.gridUrl.replace("CODE", encodeURIComponent(grid.code));
    panel.appendChild(link);
    document.querySelectorAll("#ranking tr.selected").forEach(function (row) { row.classList.remove("selected"); });
    var row = document.querySelector('#ranking tr[data-code="' + CSS.escape(grid.code) + '"]');
    if (row) row.classList.add("selected");
  }

  document.addEventListener("gisgrid:grid", function (event) {
    var code = event.detail.code;
    if (event.detail.map === "compare") return;
    window.gisgridHttp.call(panel.dataset.url + "?grid=" + encodeURIComponent(code))
      .then(function (data) {
        var grid = data.grids.find(function (g) { return g.code === code; });
        if (grid) show(grid);
      });
  });
})();

/* The header's forms that only the server can do (switch the language, log out) on a page the
   tablet opened from its cache: with no network the browser would swap the page for its own
   error page. A form marked data-needs-network asks the server first (a HEAD of its address,
   which no cache answers) and is sent only when that arrives; otherwise the page stays and the
   form says why (data-offline, in the page's language). */
"use strict";
(function () {
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches || !form.matches("form[data-needs-network]") || form.dataset.reached === "1") { return; }
    event.preventDefault();
    let note = form.querySelector(".offline-note");
    fetch(form.action, { method: "HEAD", credentials: "same-origin", cache: "no-store" }).then(function () {
      form.dataset.reached = "1";
      form.submit();
    }, function () {
      if (!note) {
        note = document.createElement("span");
        note.className = "offline-note";
        note.setAttribute("role", "status");
        form.appendChild(note);
      }
      note.textContent = form.dataset.offline;
    });
  });
})();

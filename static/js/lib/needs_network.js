/* The header's forms that only the server can do (switch the language, log out) on a page the
   tablet opened from its cache: with no network the browser would swap the page for its own
   error page. A form marked data-needs-network asks the server first (a HEAD of its address,
   which no cache answers: the server says 405, a proxy without it 5xx) and is sent only when the
   server answered; otherwise the page stays and the form says why (data-offline, in the page's
   language). Sent with form.submit(), which is not a submit event: no loop. */
"use strict";
(function () {
  function unreachable(form) {
    let note = form.querySelector(".offline-note");
    if (!note) {
      note = document.createElement("span");
      note.className = "offline-note";
      note.setAttribute("role", "status");
      form.appendChild(note);
    }
    note.textContent = form.dataset.offline;
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches || !form.matches("form[data-needs-network]")) { return; }
    event.preventDefault();
    fetch(form.action, { method: "HEAD", credentials: "same-origin", cache: "no-store" }).then(function (response) {
      if (response.status >= 500) { unreachable(form); } else { form.submit(); }
    }, function () { unreachable(form); });
  });
})();

/* The one way page scripts call the server: JSON in and out (or a FormData upload as it is),
   the CSRF token from the page's meta tag on every call, and a refusal ({error, message}) or a
   lost network thrown as an HttpError the page can show. The service worker needs no copy: it
   only answers GETs from the network or its cache, and every write is sent from a page (the
   outbox runs in the page, not in the worker). */
window.gisgridHttp = (function () {
  "use strict";

  function csrfToken() {
    const meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  /* status 0 (offline) when the request never got an answer; otherwise the server's status,
     its error kind and message, and the whole answer (a save conflict carries both versions). */
  class HttpError extends Error {
    constructor(status, data) {
      super((data && data.message) || (status ? String(status) : "offline"));
      this.name = "HttpError";
      this.status = status;
      this.offline = status === 0;
      this.kind = data && data.error;
      this.data = data || {};
    }
  }

  /* GET without a body, POST with one, unless `method` says otherwise. */
  async function call(url, body, method) {
    const headers = { "Accept": "application/json", "X-CSRFToken": csrfToken() };
    let payload;
    if (body instanceof FormData) {
      payload = body;                      // the browser writes the multipart header itself
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, { method: method || (body === undefined ? "GET" : "POST"),
                                    credentials: "same-origin", headers: headers, body: payload });
    } catch (e) {
      throw new HttpError(0, {});
    }
    const data = await response.json().catch(function () { return {}; });
    if (!response.ok) { throw new HttpError(response.status, data); }
    return data;
  }

  return { call: call, csrfToken: csrfToken, HttpError: HttpError };
})();

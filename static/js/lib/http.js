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

  /* The upload through XMLHttpRequest, the one browser API that reports an upload's progress
     (the outbox shows it per finding on a slow network). Same answer as fetch's path. */
  function withProgress(url, method, headers, payload, onProgress) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.withCredentials = true;
      Object.entries(headers).forEach(function (kv) { xhr.setRequestHeader(kv[0], kv[1]); });
      xhr.upload.onprogress = function (e) { onProgress(e.loaded, e.lengthComputable ? e.total : 0); };
      xhr.onload = function () {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
        if (xhr.status < 200 || xhr.status >= 300) { reject(new HttpError(xhr.status, data)); return; }
        resolve(data);
      };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () { reject(new HttpError(0, {})); };
      xhr.send(payload === undefined ? null : payload);
    });
  }

  /* GET without a body, POST with one, unless `method` says otherwise; `options.onProgress`
     (loaded, total) follows the upload. */
  async function call(url, body, method, options) {
    const headers = { "Accept": "application/json", "X-CSRFToken": csrfToken() };
    let payload;
    if (body instanceof FormData) {
      payload = body;                      // the browser writes the multipart header itself
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const verb = method || (body === undefined ? "GET" : "POST");
    if (options && options.onProgress) { return withProgress(url, verb, headers, payload, options.onProgress); }
    let response;
    try {
      response = await fetch(url, { method: verb,
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

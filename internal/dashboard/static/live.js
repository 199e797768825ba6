// Live updates of a release page: the page's live part is fetched again,
// rendered by the server, each time the dashboard's event stream says the
// release's record changed; the stream ends with the release.
(function () {
  "use strict";
  var el = document.querySelector("[data-live]");
  if (!el || !window.EventSource) return;
  var src = new EventSource(el.getAttribute("data-live"));
  var url = el.getAttribute("data-fragment");
  var pending = null;
  function refresh() {
    if (pending) return pending;
    pending = fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) el.innerHTML = html; })
      .catch(function () {})
      .then(function () { pending = null; });
    return pending;
  }
  src.addEventListener("record", function (ev) {
    var shown = document.getElementById("state");
    try {
      if (shown && String(JSON.parse(ev.data).revision) === shown.getAttribute("data-revision")) return;
    } catch (e) { /* not JSON: refresh anyway */ }
    refresh();
  });
  src.addEventListener("end", function () {
    src.close();
    (pending || Promise.resolve()).then(refresh);
  });
})();

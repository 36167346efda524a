// The console's only script, served by the binary itself (no inline script: the CSP forbids it).
// Progressive enhancement: every page works without it.
//
// An element with `data-poll="URL"` is refreshed from URL (an HTML fragment the server rendered
// and escaped) every second; when the fragment holds an element with `data-done`, the page
// reloads once to show the results.
(function () {
  "use strict";
  function poll(el) {
    var url = el.getAttribute("data-poll");
    var timer = setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          el.innerHTML = html;
          if (el.querySelector("[data-done]")) {
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { /* the next tick tries again */ });
    }, 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
  });
})();

// Refreshes the parts of a page marked data-live="<key>" in place: every few seconds
// (data-refresh-seconds on <body>) it fetches the same page and copies each marked part
// whose content changed. Without this script the page is the same, only not refreshed.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh-seconds") || "0", 10);
  if (!(seconds > 0) || !window.fetch || !window.DOMParser) {
    return;
  }
  var stamp = document.getElementById("live-stamp");

  function copy(fresh) {
    var parts = document.querySelectorAll("[data-live]");
    for (var i = 0; i < parts.length; i++) {
      var key = parts[i].getAttribute("data-live");
      var next = fresh.querySelector('[data-live="' + key + '"]');
      if (next && next.innerHTML !== parts[i].innerHTML) {
        parts[i].innerHTML = next.innerHTML;
      }
    }
    if (stamp) {
      stamp.textContent = "Refreshed at " + new Date().toLocaleTimeString() + ".";
    }
  }

  function tick() {
    if (document.hidden) {
      return later();
    }
    fetch(window.location.href, { credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html) {
          copy(new DOMParser().parseFromString(html, "text/html"));
        } else if (stamp) {
          stamp.textContent = "Not refreshed: reload the page (you may need to sign in again).";
        }
      })
      .catch(function () {})
      .then(later);
  }

  function later() {
    window.setTimeout(tick, seconds * 1000);
  }

  later();
})();

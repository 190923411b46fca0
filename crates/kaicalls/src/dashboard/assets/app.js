// KaiCalls dashboard: live refresh from the event stream, copy buttons,
// confirmations and CSV files. No framework; every page works without it.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="element-id">.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      var text = source.textContent.trim();
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand("copy"); } catch (e) { /* selected for the user */ }
        done();
      }
    });
  });

  // Forms that destroy something ask first: <form data-confirm="message">.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // CSV import: a chosen file fills the text area.
  document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-fills"));
      var file = input.files && input.files[0];
      if (!target || !file) return;
      file.text().then(function (text) { target.value = text; });
    });
  });

  // Live views: <div id="live" data-stream="/api/v1/events/stream?...">. Each event
  // refetches this page and swaps in its #live part; the browser's EventSource
  // reconnects with Last-Event-ID by itself.
  var live = document.getElementById("live");
  if (live && live.getAttribute("data-stream") && window.EventSource) {
    var pending = null;
    var refresh = function () {
      pending = null;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("live");
          if (fresh) {
            live.innerHTML = fresh.innerHTML;
            live.setAttribute("data-refreshed", String(Date.now()));
          }
        })
        .catch(function () { /* the next event tries again */ });
    };
    var source = new EventSource(live.getAttribute("data-stream"));
    source.onmessage = null;
    // Once now, and once more a little later for what follows an event without one
    // of its own (a webhook delivery's attempt, a recording's copy).
    var later = null;
    var onEvent = function () {
      if (pending === null) pending = setTimeout(refresh, 250);
      if (later !== null) clearTimeout(later);
      later = setTimeout(function () { later = null; refresh(); }, 2500);
    };
    ["call.queued", "call.ringing", "call.in_progress", "call.completed", "call.failed",
     "call.canceled", "lead.created", "lead.updated", "webhook.test",
     "campaign.started", "campaign.paused", "campaign.resumed", "campaign.completed",
     "campaign.canceled", "campaign.contacts_expired", "contact.skipped",
     "contact.retry_scheduled", "contact.completed", "contact.failed", "contact.exhausted",
     "contact.expired", "contact.canceled"].forEach(function (type) {
      source.addEventListener(type, onEvent);
    });
    source.addEventListener("open", function () { live.setAttribute("data-streaming", "open"); });
    window.addEventListener("pagehide", function () { source.close(); });
  }
})();

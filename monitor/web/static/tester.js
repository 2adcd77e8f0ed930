// The rule tester re-runs as the analyst types: after a pause in typing (DEBOUNCE_MS) the
// backtest form's fields go to /tester/live, whose streamed HTML replaces the lower half of
// the page chunk by chunk, so results show as they come. A newer edit aborts the request
// in flight (the server stops scanning when the connection closes). Without JavaScript the
// Backtest button does the same with a page load. No inline script: the page's CSP forbids it.
"use strict";
(function () {
  var DEBOUNCE_MS = 400;
  var form = document.getElementById("backtest");
  var target = document.getElementById("tester-live");
  var state = document.getElementById("live-state");
  if (!form || !target || !window.fetch || !window.AbortController) { return; }
  var timer = null, running = null, last = null;

  function params() {
    var p = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (typeof v === "string") { p.append(k, v); } });
    return p;
  }

  function run() {
    var p = params(), key = p.toString();
    if (key === last) { return; }
    last = key;
    if (running) { running.abort(); }
    var ctl = new AbortController();
    running = ctl;
    state.textContent = "updating…";
    history.replaceState(null, "", form.getAttribute("action") + "?" + key);
    fetch(target.getAttribute("data-live") + "?" + key, {signal: ctl.signal, credentials: "same-origin"})
      .then(function (resp) {
        if (!resp.ok || !resp.body) { throw new Error("HTTP " + resp.status); }
        var reader = resp.body.getReader(), decoder = new TextDecoder(), html = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (ctl.signal.aborted) { return; }
            if (chunk.done) {
              target.innerHTML = html;
              state.textContent = "";
              running = null;
              return;
            }
            html += decoder.decode(chunk.value, {stream: true});
            target.innerHTML = html;           // autoescaped server HTML; the CSP keeps any script inert
            return pump();
          });
        }
        return pump();
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") { return; }
        state.textContent = "could not update (" + err.message + "); press Backtest";
        last = null;
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  last = params().toString();      // what the page was loaded with is already shown
})();

// DataFair's only script; every page works without it.
// - [data-poll-url]: refreshed from the server every few seconds; when the fresh fragment
//   carries [data-finished], the page reloads to show the results.
// - form[data-once]: the submit button is disabled after the first submit (the server's
//   once-only key is what really prevents a double charge).
// - [data-task-kind] radios: offer only the metrics and models that fit the chosen kind.
// - [data-focus-on-load]: an error summary takes the focus, so it is read out first.
(function () {
  "use strict";
  var POLL_MS = 2000;

  function poll(region) {
    function tick() {
      fetch(region.dataset.pollUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null) {
            region.innerHTML = html;
            if (region.querySelector("[data-finished]")) {
              window.location.reload();
              return;
            }
          }
          window.setTimeout(tick, POLL_MS);
        })
        .catch(function () { window.setTimeout(tick, POLL_MS); }); // a blip: try again
    }
    window.setTimeout(tick, POLL_MS);
  }

  function once(form) {
    var buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach(function (button) { button.dataset.idleText = button.textContent; });
    form.addEventListener("submit", function () {
      buttons.forEach(function (button) {
        button.disabled = true;
        if (button.dataset.busyText) { button.textContent = button.dataset.busyText; }
      });
    });
    // Back to a page kept in the browser's cache: make its buttons usable again.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) { return; }
      buttons.forEach(function (button) {
        button.disabled = false;
        button.textContent = button.dataset.idleText;
      });
    });
  }

  function fitOptions(kind) {
    document.querySelectorAll("option[data-tasks]").forEach(function (option) {
      var fits = option.dataset.tasks.split(" ").indexOf(kind) >= 0;
      option.disabled = !fits;
      option.hidden = !fits;
    });
    document.querySelectorAll("optgroup").forEach(function (group) {
      group.hidden = !group.querySelector("option:not([disabled])");
    });
    document.querySelectorAll("select").forEach(function (select) {
      var chosen = select.options[select.selectedIndex];
      if (chosen && chosen.disabled) {
        var first = select.querySelector("option:not([disabled])");
        if (first) { select.value = first.value; }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll-url]").forEach(poll);
    document.querySelectorAll("form[data-once]").forEach(once);
    var radios = document.querySelectorAll("input[data-task-kind]");
    radios.forEach(function (radio) {
      radio.addEventListener("change", function () { fitOptions(radio.value); });
      if (radio.checked) { fitOptions(radio.value); }
    });
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  });
})();

/* Pilotage: small behaviours on top of server-rendered pages (no framework). */
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof window.Plotly === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.chart);
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      el.dataset.drawn = "1";
      window.Plotly.newPlot(el, figure.data, figure.layout, {
        displayModeBar: false,
        responsive: true,
        locale: document.documentElement.lang
      });
    });
  }

  function bind(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        var reset = select.dataset.reset;
        if (reset && select.form.elements[reset]) {
          select.form.elements[reset].disabled = true;
        }
        select.form.submit();
      });
    });
    root.querySelectorAll("input[data-filter]").forEach(function (input) {
      input.addEventListener("input", function () {
        var needle = input.value.trim().toLowerCase();
        document.querySelectorAll(input.dataset.filter).forEach(function (item) {
          var text = (item.dataset.search || item.textContent).toLowerCase();
          item.hidden = needle !== "" && text.indexOf(needle) === -1;
        });
      });
    });
    root.querySelectorAll("[data-menu-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = document.body.classList.toggle("menu-open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bind(document);
    drawCharts(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    bind(event.target);
    drawCharts(event.target);
  });
})();

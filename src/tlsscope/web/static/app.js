/* tlsscope dashboard: charts from the page's JSON data, small conveniences. No inline
   script anywhere (the Content-Security-Policy forbids it). Colours: Okabe-Ito blue and
   vermillion, told apart with every kind of colour vision. */
"use strict";
(function () {
  var OK = "#0072B2", FAIL = "#D55E00", GRID = "rgba(0,0,0,0.08)";

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.classList && el.classList.contains("autosubmit") && el.form) {
      if (el.id === "days") {
        ["since", "until"].forEach(function (id) {
          var input = document.getElementById(id);
          if (input) { input.value = ""; }
        });
      }
      el.form.submit();
    }
  });

  document.body.addEventListener("htmx:configRequest", function (event) {
    var token = document.body.getAttribute("data-csrf");
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  function data() {
    var node = document.getElementById("chart-data");
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function axis(title) {
    return { title: { display: true, text: title }, grid: { color: GRID },
             ticks: { precision: 0 } };
  }

  function timeline(d) {
    var canvas = document.getElementById("timeline");
    if (!canvas || !d.days) { return; }
    new Chart(canvas, {
      type: "bar",
      data: { labels: d.days, datasets: [
        { label: d.labels.successful, data: d.successful, backgroundColor: OK, stack: "s" },
        { label: d.labels.failed, data: d.failed, backgroundColor: FAIL, stack: "s" } ] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: axis(d.labels.day + " (UTC)"), y: axis(d.labels.sessions) },
        plugins: { legend: { position: "bottom" } } }
    });
  }

  function breakdowns(d) {
    if (!d.breakdowns) { return; }
    Object.keys(d.breakdowns).forEach(function (key) {
      var canvas = document.getElementById("chart-" + key);
      var b = d.breakdowns[key];
      if (!canvas || !b.names.length) { if (canvas) { canvas.parentNode.hidden = true; } return; }
      var sets = [];
      if (b.successful.some(function (v) { return v !== null; })) {
        sets.push({ label: d.labels.successful, backgroundColor: OK, stack: "s",
                    data: b.successful.map(function (v) { return v || 0; }) });
      }
      sets.push({ label: d.labels.failed, backgroundColor: FAIL, stack: "s", data: b.failed });
      new Chart(canvas, {
        type: "bar",
        data: { labels: b.names.slice(0, 12), datasets: sets.map(function (s) {
          return Object.assign({}, s, { data: s.data.slice(0, 12) }); }) },
        options: { indexAxis: "y", responsive: true, maintainAspectRatio: false,
          animation: false, scales: { x: axis(d.labels.sessions), y: { grid: { display: false } } },
          plugins: { legend: { position: "bottom" } } }
      });
    });
  }

  function mxTimeline(d) {
    var canvas = document.getElementById("mx-timeline");
    if (!canvas || !d.days) { return; }
    new Chart(canvas, {
      type: "bar",
      data: { labels: d.days, datasets: [
        { label: d.labels.failed, data: d.failed, backgroundColor: FAIL } ] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: axis(d.labels.day + " (UTC)"), y: axis(d.labels.failed) },
        plugins: { legend: { display: false } } }
    });
  }

  function sparks() {
    document.querySelectorAll("canvas.spark").forEach(function (canvas) {
      var values;
      try { values = JSON.parse(canvas.getAttribute("data-values")); } catch (e) { return; }
      var ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
      var step = w / Math.max(1, values.length - 1);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = OK;
      ctx.beginPath();
      var drawing = false;
      values.forEach(function (v, i) {
        if (v === null) { drawing = false; return; }
        var y = h - 2 - (h - 4) * Math.max(0, v - 80) / 20;  /* 80 % .. 100 % */
        if (drawing) { ctx.lineTo(i * step, y); } else { ctx.moveTo(i * step, y); }
        drawing = true;
        if (v < 100) { ctx.fillStyle = FAIL; ctx.fillRect(i * step - 1.5, y - 1.5, 3, 3); }
      });
      ctx.stroke();
    });
  }

  function start() {
    sparks();
    var d = data();
    if (d && window.Chart) { timeline(d); breakdowns(d); mxTimeline(d); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();

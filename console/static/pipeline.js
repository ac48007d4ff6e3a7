// The Pipeline page's charts (Chart.js): drawn from the JSON the batches panel carries,
// and updated in place each time htmx swaps a fresh panel in (no reload, no new canvas).
(function () {
  "use strict";
  var COLORS = ["#1f6feb", "#2da44e", "#cf222e", "#bf8700", "#8250df", "#0a7b83", "#d1242f"];

  function series() {
    var node = document.querySelector("#pipeline-batches script.batch-series");
    return node ? JSON.parse(node.textContent) : null;
  }

  function datasets(chart) {
    return chart.datasets.map(function (d, i) {
      var color = COLORS[i % COLORS.length];
      return {
        label: d.label, data: d.data, borderColor: color, backgroundColor: color,
        spanGaps: d.kind !== "points", stepped: d.kind === "step",
        showLine: d.kind !== "points", pointRadius: d.kind === "points" ? 4 : 2,
      };
    });
  }

  function render() {
    var data = series();
    if (!data || typeof Chart === "undefined") return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = data.charts[canvas.dataset.chart];
      var chart = Chart.getChart(canvas);
      if (chart) {
        chart.data.labels = data.labels;
        chart.data.datasets = datasets(spec);
        chart.update("none");
        return;
      }
      new Chart(canvas, {
        type: "line",
        data: { labels: data.labels, datasets: datasets(spec) },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          plugins: { title: { display: true, text: spec.title } },
          scales: { y: { type: spec.scale || "linear", beginAtZero: !spec.scale,
                         title: { display: !!spec.unit, text: spec.unit } } },
        },
      });
    });
    document.body.dataset.chartsRendered = String(data.labels.length);
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "pipeline-batches") render();
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();

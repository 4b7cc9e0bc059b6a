/* Trend charts on the team page, drawn with the vendored uPlot (pulse/static/pulse/vendor/README.md).
   The numbers come from the page's own JSON (json_script) and are the same as the table beside each chart,
   so the page is complete without this script. */
(function () {
  "use strict";
  var source = document.getElementById("pulse-charts");
  if (!source || typeof window.uPlot === "undefined") { return; }
  var charts = JSON.parse(source.textContent);

  function finite(values) { return values.filter(function (v) { return v !== null && isFinite(v); }); }

  function yRange(scale, values) {
    var bounds = scale === "percent" || scale === "0-100" ? [0, 100] : (scale === "0-5" ? [0, 5] : [1, 5]);
    var pad = bounds[1] - bounds[0] > 10 ? 10 : 0.5;
    var seen = finite(values);
    if (!seen.length) { return bounds; }
    var low = Math.max(bounds[0], Math.min.apply(null, seen) - pad);
    var high = Math.min(bounds[1], Math.max.apply(null, seen) + pad);
    return [low, high];
  }

  function draw(el, data) {
    var percent = data.scale === "percent";
    var series = [{}, {
      label: percent ? "Response rate" : "Team result",
      stroke: "#0b5cad", width: 2, spanGaps: false,
      points: { show: true, size: 7, fill: "#0b5cad" },
      value: function (u, v) { return v === null ? "withheld" : (percent ? v + "%" : v); }
    }];
    var columns = [data.x, data.values];
    var bands = [];
    var everything = data.values.slice();
    if (finite(data.trend).length) {
      series.push({ label: "Trend (Sen's slope)", stroke: "#1a1a1a", dash: [6, 4], width: 1.5, points: { show: false } });
      columns.push(data.trend);
      everything = everything.concat(data.trend);
      if (finite(data.low).length) {
        series.push({ label: "Noise band", stroke: "rgba(0,0,0,0)", points: { show: false } });
        series.push({ label: "", stroke: "rgba(0,0,0,0)", points: { show: false }, show: true });
        columns.push(data.low, data.high);
        bands.push({ series: [4, 3], fill: "rgba(11, 92, 173, 0.14)" });
        everything = everything.concat(data.low, data.high);
      }
    }
    var range = yRange(data.scale, everything);
    var width = Math.max(260, Math.floor(el.getBoundingClientRect().width) || 480);
    var options = {
      width: width,
      height: 220,
      series: series,
      bands: bands,
      scales: { x: { time: true }, y: { range: function () { return range; } } },
      axes: [{ stroke: "#1a1a1a" }, { stroke: "#1a1a1a", values: function (u, ticks) {
        return ticks.map(function (t) { return percent ? t + "%" : t; }); } }],
      legend: { show: true }
    };
    el.textContent = "";
    return new window.uPlot(options, columns, el);
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var data = charts[el.getAttribute("data-chart")];
    if (data && data.x.length) {
      draw(el, data);
      el.setAttribute("data-drawn", "true");
    }
  });
})();

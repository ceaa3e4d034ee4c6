/* Report pages: draw the ECharts option the server rendered next to the table. */
(function () {
  "use strict";
  var el = document.getElementById("report-chart");
  var data = document.getElementById("report-chart-option");
  if (!el || !data || typeof echarts === "undefined") return;
  var option = JSON.parse(data.textContent);
  if (!option || !Object.keys(option).length) return;
  var chart = echarts.init(el);
  chart.setOption(option);
  window.addEventListener("resize", function () { chart.resize(); });
})();

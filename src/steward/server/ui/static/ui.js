// Draws each chart from its data-figure attribute with the plotly.js this server ships.
// No inline scripts anywhere: the pages' Content-Security-Policy allows only files from here.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var boxes = document.querySelectorAll(".chart[data-figure]");
  if (!boxes.length || typeof Plotly === "undefined") { return; }
  boxes.forEach(function (box) {
    var figure = JSON.parse(box.getAttribute("data-figure"));
    Plotly.newPlot(box, figure.data, figure.layout, {responsive: true, displaylogo: false});
  });
});

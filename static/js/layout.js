// Sizes and shades the server computed (the watch bar, the review page's grounding strips and
// heat maps), applied through the CSSOM. The content-security policy (config/csp.py) refuses
// style="" attributes in the HTML, not styles a script file sets.
(function () {
  "use strict";

  var PROPERTIES = [
    ["data-width", "width", "%"],
    ["data-left", "left", "%"],
    ["data-opacity", "opacity", ""],
  ];

  function apply(root) {
    PROPERTIES.forEach(function (property) {
      var attribute = property[0];
      var elements = Array.prototype.slice.call(root.querySelectorAll("[" + attribute + "]"));
      if (root.hasAttribute && root.hasAttribute(attribute)) elements.push(root);
      elements.forEach(function (element) {
        element.style[property[1]] = element.getAttribute(attribute) + property[2];
      });
    });
  }

  if (window.htmx) {
    window.htmx.onLoad(apply);
  } else {
    document.addEventListener("DOMContentLoaded", function () { apply(document); });
  }
})();

// Runs before the page is drawn: apply the remembered language so the other one never flashes.
(function () {
  "use strict";
  var lang = "both";
  try {
    var saved = window.localStorage.getItem("qcvngen-site-lang");
    if (saved === "vi" || saved === "en") {
      lang = saved;
    }
  } catch (e) {
    // Storage can be disabled (private mode, file:// in some browsers): show both languages.
  }
  document.documentElement.setAttribute("data-lang", lang);
})();

// The check-in's comment box: a live count of the characters left, under the box (progressive
// enhancement: without this script the hint beside the box states the limit, and the server refuses a
// longer comment at the field, keeping the text). Counted as the server counts: code points of the text
// without surrounding spaces, a line break sent as CR LF (two), so the count and the server agree.
(function () {
  "use strict";
  var DEBOUNCE_MS = 800; // a screen reader hears the count once typing pauses, not at every key

  function count(text) {
    return Array.from(text.trim().replace(/\r?\n/g, "\r\n")).length;
  }

  // The words come from the page, in its language: data-left and data-over hold "%(count)s" where the
  // number goes (the template translates them; English when the attributes are missing), and the number is
  // written as the page's language writes it ("2,000", "2.000").
  function describe(box, left) {
    var words = left >= 0
      ? box.getAttribute("data-left") || "Characters left: %(count)s"
      : box.getAttribute("data-over") || "Characters too many: %(count)s";
    var number = Math.abs(left);
    var written = window.Intl ? new Intl.NumberFormat(document.documentElement.lang || undefined).format(number)
      : String(number);
    return words.replace("%(count)s", written);
  }

  function enhance(box) {
    var max = parseInt(box.getAttribute("data-max-chars"), 10);
    if (!(max > 0)) return;
    // Seen: updated at every key, hidden from screen readers (which would read it at every key).
    var shown = document.createElement("p");
    shown.className = "hint char-count";
    shown.id = box.id + "-count";
    shown.setAttribute("aria-hidden", "true");
    // Heard: the same words, announced politely after a pause.
    var heard = document.createElement("p");
    heard.className = "visually-hidden";
    heard.setAttribute("aria-live", "polite");
    box.insertAdjacentElement("afterend", heard);
    box.insertAdjacentElement("afterend", shown);
    var timer = null;

    function update(announce) {
      var left = max - count(box.value);
      shown.textContent = describe(box, left);
      shown.classList.toggle("error", left < 0);
      if (announce) {
        clearTimeout(timer);
        timer = setTimeout(function () { heard.textContent = describe(box, left); }, DEBOUNCE_MS);
      }
    }

    box.addEventListener("input", function () { update(true); });
    update(false);
  }

  document.querySelectorAll("textarea[data-max-chars]").forEach(enhance);
})();

// The printable pages' Print button: shown only when this script runs, so a page without JavaScript
// keeps its hint to use the browser's own Print command instead. No inline script (the CSP forbids it).
"use strict";
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
document.querySelectorAll("[data-print-hint]").forEach((hint) => {
  hint.hidden = true;
});

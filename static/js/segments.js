// A static segment's Members: select rows (or the whole page) and remove them in one go.
// Event delegation on document, so it keeps working after htmx swaps #segment-members.
(function () {
  "use strict";

  function rowBoxes() { return Array.from(document.querySelectorAll('#segment-members input[name="lead"]')); }

  function refresh() {
    const form = document.querySelector("[data-member-form]");
    if (!form) return;
    const boxes = rowBoxes();
    const checked = boxes.filter((b) => b.checked).length;
    const pageBox = document.querySelector("#segment-members [data-select-page]");
    if (pageBox) pageBox.checked = boxes.length > 0 && checked === boxes.length;
    form.querySelector("[data-selection-label]").textContent =
      checked ? checked + (checked === 1 ? " lead selected" : " leads selected") : "No leads selected";
    form.querySelector("[data-remove-selected]").disabled = checked === 0;
  }

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.matches("#segment-members [data-select-page]")) {
      rowBoxes().forEach((b) => { b.checked = el.checked; });
    }
    if (el.closest("#segment-members")) refresh();
  });

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
})();

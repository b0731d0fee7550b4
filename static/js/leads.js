// Leads list: row selection, "select all matching", and the bulk update bar.
// Event delegation on document, so it keeps working after htmx swaps #lead-results.
(function () {
  "use strict";

  function bulkForm() { return document.querySelector("[data-bulk-form]"); }
  function rowBoxes() { return Array.from(document.querySelectorAll('#lead-results input[name="lead"]')); }

  function refresh() {
    const form = bulkForm();
    if (!form) return;
    const boxes = rowBoxes();
    const checked = boxes.filter((b) => b.checked).length;
    const allMatching = form.querySelector("[data-all-matching]");
    const label = form.querySelector("[data-selection-label]");
    const selectAll = form.querySelector("[data-select-all-matching]");
    const pageBox = document.querySelector("#lead-results [data-select-page]");
    if (checked < boxes.length) allMatching.value = "";
    if (pageBox) pageBox.checked = boxes.length > 0 && checked === boxes.length;
    if (allMatching.value) {
      label.textContent = selectAll.textContent.replace(/^Select all/, "All") + " leads selected";
    } else {
      label.textContent = checked ? checked + (checked === 1 ? " lead selected" : " leads selected") : "No leads selected";
    }
    selectAll.classList.toggle("d-none", !(boxes.length && checked === boxes.length) || Boolean(allMatching.value));
    const action = form.querySelector("[data-bulk-action]").value;
    form.querySelectorAll(".bulk-value").forEach((el) => {
      el.classList.toggle("d-none", !el.dataset.for.split(" ").includes(action));
    });
    form.querySelector("[data-bulk-submit]").disabled = !action || !(checked || allMatching.value);
  }

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.matches("#lead-results [data-select-page]")) {
      rowBoxes().forEach((b) => { b.checked = el.checked; });
    }
    if (el.closest("#lead-results")) refresh();
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-select-all-matching]");
    if (!button) return;
    bulkForm().querySelector("[data-all-matching]").value = "1";
    refresh();
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("[data-bulk-form]")) return;
    const action = form.querySelector("[data-bulk-action]");
    const label = form.querySelector("[data-selection-label]").textContent;
    const chosen = action.options[action.selectedIndex];
    if (chosen.hasAttribute("data-asks-on-its-page")) return; // its own page confirms
    const verb = chosen.text;
    if (!window.confirm(verb + ": " + label + ". Continue?")) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
})();

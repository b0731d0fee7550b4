// Pipeline → Import's mapping form: a column set to "New custom field…" shows the new field's
// inputs, and seed 003's consent warning (with its required confirmation) shows while anyone
// would be imported as Opted In. Delegated on document; no inline scripts (strict CSP).
(function () {
  "use strict";

  // "Frist name" → "frist_name": a usable key (jobs.KEY_RE) to start from.
  function keyFor(header) {
    const key = header.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 50);
    return /^[a-z]/.test(key) ? key : "field_" + key;
  }

  function showNewField(form, select, justChosen) {
    const box = form.querySelector('[data-new-field="' + select.dataset.columnTarget + '"]');
    if (!box) return;
    const isNew = select.value === "new";
    box.hidden = !isNew;
    const key = box.querySelector("[data-new-key]");
    const label = box.querySelector("[data-new-label]");
    if (key) key.required = isNew;
    if (isNew && justChosen && key && !key.value) key.value = keyFor(select.dataset.header || "");
    if (isNew && justChosen && label && !label.value) label.value = select.dataset.header || "";
    const type = box.querySelector("[data-new-type]");
    const choices = box.querySelector("[data-new-choices]");
    if (type && choices) choices.hidden = type.value !== "choice";
  }

  function showOptInWarning(form) {
    const warning = document.getElementById("opt-in-warning");
    if (!warning) return;
    const mapped = Array.from(form.querySelectorAll("[data-column-target]")).some((s) => s.value === "consent_status");
    const consent = form.querySelector('select[name="consent_status"]');
    const needed = mapped || (consent !== null && consent.value === "opted_in");
    warning.hidden = !needed;
    const box = warning.querySelector('input[type="checkbox"]');
    if (box) box.required = needed;
  }

  function refresh(changed) {
    const form = document.getElementById("import-mapping");
    if (!form) return;
    form.querySelectorAll("[data-column-target]").forEach((select) => showNewField(form, select, select === changed));
    showOptInWarning(form);
  }

  document.addEventListener("change", (event) => {
    if (event.target.closest("#import-mapping")) refresh(event.target);
  });
  document.addEventListener("DOMContentLoaded", () => refresh(null));
})();

// LeadCRM's page glue: toasts for Django messages, htmx events and htmx errors.
// No inline scripts anywhere, so a strict Content-Security-Policy works.
(function () {
  "use strict";

  const LEVELS = { debug: "secondary", info: "info", success: "success", warning: "warning", error: "danger", danger: "danger" };

  function showToast(text, level) {
    const container = document.getElementById("toasts");
    const template = document.getElementById("toast-template");
    if (!container || !template) return;
    const toast = template.content.firstElementChild.cloneNode(true);
    toast.classList.add("text-bg-" + (LEVELS[level] || "secondary"));
    toast.querySelector(".toast-body").textContent = text;
    container.appendChild(toast);
    toast.addEventListener("hidden.bs.toast", () => toast.remove());
    bootstrap.Toast.getOrCreateInstance(toast, { delay: level === "danger" || level === "error" ? 8000 : 5000 }).show();
  }
  window.leadcrm = { showToast };

  const STATUS_TEXT = {
    400: "That request could not be processed.",
    403: "Your role does not allow this.",
    404: "That no longer exists in this workspace.",
    405: "That action is not available here.",
    409: "Someone changed this meanwhile. Reload and try again.",
    413: "That upload is too large.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
  };

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".toast[data-autoshow]").forEach((el) => bootstrap.Toast.getOrCreateInstance(el).show());
  });

  // Server messages handed to htmx requests (leadcrm.middleware.HtmxMessagesMiddleware).
  document.body.addEventListener("messages", (event) => {
    const list = Array.isArray(event.detail) ? event.detail : event.detail.value || [];
    list.forEach((m) => showToast(m.text, m.level));
  });

  document.body.addEventListener("htmx:responseError", (event) => {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (source && source.closest("[data-swap-errors]") && [400, 409].includes(event.detail.xhr.status)) return;
    const xhr = event.detail.xhr;
    const type = xhr.getResponseHeader("Content-Type") || "";
    const text = type.startsWith("text/plain") && xhr.responseText ? xhr.responseText : STATUS_TEXT[xhr.status] || "Request failed (" + xhr.status + ").";
    showToast(text, "danger");
  });

  // A form marked data-swap-errors answers 400 (invalid) or 409 (changed meanwhile) with itself
  // and its errors: swap that in instead of the generic toast (htmx does not swap 4xx itself).
  document.addEventListener("htmx:beforeSwap", (event) => {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    const status = event.detail.xhr.status;
    if ((status === 400 || status === 409) && source && source.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.body.addEventListener("htmx:sendError", () => {
    showToast("The server could not be reached. Check your connection and try again.", "danger");
  });

  // Forms marked data-confirm ask before submitting (used by destructive buttons).
  document.addEventListener("submit", (event) => {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Selects marked data-autosubmit submit their form when changed (htmx forms handle themselves).
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.matches("select[data-autosubmit]") && el.form && !el.form.hasAttribute("hx-post")) el.form.requestSubmit();
  });
})();

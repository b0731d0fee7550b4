// Kanban: drag a card to another column (SortableJS); the server decides, the board follows.
// A refused move snaps back with the reason; the two column counts adjust without a recount.
(function () {
  "use strict";

  function csrfToken() {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["x-csrftoken"] || "";
  }

  function column(status) {
    return document.querySelector('#board .kanban-cards[data-status="' + status + '"]');
  }

  function bumpCount(status, delta) {
    const badge = column(status).closest(".kanban-column").querySelector(".kanban-count");
    if (badge.dataset.count === "") return; // "10,000+": no exact figure to adjust
    const count = Number(badge.dataset.count) + delta;
    badge.dataset.count = String(count);
    badge.textContent = count.toLocaleString("en-US");
    badge.setAttribute("aria-label", badge.textContent + " leads");
  }

  // Show the server's card in place of the dragged one, in the column of its status.
  function place(card, data, from) {
    const fresh = document.createRange().createContextualFragment(data.card).firstElementChild;
    const landed = column(data.status);
    if (card.parentElement === landed) card.after(fresh);
    else landed.prepend(fresh); // e.g. a Converted lead stays Converted
    card.remove();
    if (data.status !== from) {
      bumpCount(from, -1);
      bumpCount(data.status, +1);
    }
  }

  function putBack(event) {
    const cards = Array.from(event.from.querySelectorAll(".kanban-card"));
    event.from.insertBefore(event.item, cards[event.oldDraggableIndex] || event.from.querySelector(".kanban-more"));
  }

  async function onEnd(event) {
    const card = event.item;
    const from = event.from.dataset.status;
    const to = event.to.dataset.status;
    if (from === to) return;
    if (to === "unsubscribed" && !window.confirm("Unsubscribe " + card.dataset.name + "? They will get no more email until they consent again.")) {
      putBack(event);
      return;
    }
    const board = document.getElementById("board");
    const body = new FormData();
    body.append("status", to);
    body.append("version", card.dataset.version);
    body.append("query", board.dataset.query || "");
    let response;
    try {
      response = await fetch(board.dataset.moveUrl.replace("/0/", "/" + card.dataset.lead + "/"), {
        method: "POST",
        body: body,
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (error) {
      putBack(event);
      window.leadcrm.showToast("The server could not be reached; the card was not moved.", "danger");
      return;
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : { message: await response.text() };
    if (!response.ok) {
      putBack(event);
      if (data.card) place(card, data, from); // changed meanwhile: show it as it is now
      const fallback = response.status === 403 ? "Your role cannot move leads." : response.status === 404 ? "That lead no longer exists." : "The move was refused.";
      window.leadcrm.showToast(type.includes("json") ? data.message : fallback, "danger");
      return;
    }
    place(card, data, from);
    window.leadcrm.showToast(data.message, data.status === to ? "success" : "info");
  }

  function init() {
    const board = document.getElementById("board");
    if (!board || !window.Sortable || !board.hasAttribute("data-may-move")) return;
    board.querySelectorAll(".kanban-cards:not([data-sortable])").forEach((list) => {
      list.setAttribute("data-sortable", "");
      window.Sortable.create(list, {
        group: "board",
        draggable: ".kanban-card",
        filter: ".dropdown, a, button",
        preventOnFilter: false,
        animation: 120,
        onEnd: onEnd,
      });
    });
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();

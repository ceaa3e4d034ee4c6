// The kanban board: drag a card to another column (SortableJS, vendored) to move the deal. The
// move is saved at once; both columns' totals come back from the server. A refused move (someone
// else changed the deal: 409; no permission; a missing lost reason) puts the card back and says why.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || typeof Sortable === "undefined") return;
  var alertBox = document.getElementById("board-alert");
  var texts = JSON.parse(document.getElementById("board-messages").textContent);
  var csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
  var lostModalEl = document.getElementById("lost-modal");
  var lostModal = lostModalEl && window.bootstrap ? new window.bootstrap.Modal(lostModalEl) : null;

  function showMessage(text) {
    alertBox.textContent = text;
    alertBox.classList.remove("d-none");
  }

  function hideMessage() {
    alertBox.classList.add("d-none");
  }

  function restore(evt) {
    var anchor = evt.from.children[evt.oldIndex] || evt.from.querySelector(".kanban-more");
    evt.from.insertBefore(evt.item, anchor || null);
  }

  function updateTotals(columns) {
    Object.keys(columns).forEach(function (stageId) {
      var section = board.querySelector('.kanban-column[data-stage="' + stageId + '"]');
      if (!section) return;
      ["count", "amount", "weighted"].forEach(function (name) {
        section.querySelector('[data-total="' + name + '"]').textContent = columns[stageId][name];
      });
    });
  }

  function askLostReason() {
    return new Promise(function (resolve) {
      if (!lostModal) return resolve(null);
      var form = document.getElementById("lost-form");
      var settled = false;
      form.reset();
      function onSubmit(event) {
        event.preventDefault();
        if (!form.reportValidity()) return;
        settled = true;
        resolve({ lost_reason: form.lost_reason.value, lost_note: form.lost_note.value });
        lostModal.hide();
      }
      function onHidden() {
        form.removeEventListener("submit", onSubmit);
        lostModalEl.removeEventListener("hidden.bs.modal", onHidden);
        if (!settled) resolve(null);
      }
      form.addEventListener("submit", onSubmit);
      lostModalEl.addEventListener("hidden.bs.modal", onHidden);
      lostModal.show();
    });
  }

  function send(evt, extra) {
    var card = evt.item;
    var body = new FormData();
    body.append("stage", evt.to.dataset.stage);
    body.append("version", card.dataset.version);
    body.append("filters", board.dataset.filters || "");
    Object.keys(extra || {}).forEach(function (key) {
      body.append(key, extra[key]);
    });
    card.classList.add("is-saving");
    return fetch(card.dataset.moveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { status: response.status, data: data };
        });
      })
      .then(function (result) {
        if (result.data.ok) {
          card.dataset.version = result.data.version;
          var probability = card.querySelector('[data-field="probability"]');
          if (probability) probability.textContent = result.data.probability + "%";
          updateTotals(result.data.columns);
          hideMessage();
        } else {
          restore(evt);
          showMessage(result.data.message);
        }
      })
      .catch(function () {
        restore(evt);
        showMessage(texts.network);
      })
      .finally(function () {
        card.classList.remove("is-saving");
      });
  }

  function onEnd(evt) {
    if (evt.from === evt.to) return; // reordering inside a column saves nothing
    if (evt.to.dataset.kind === "lost") {
      askLostReason().then(function (extra) {
        if (extra) send(evt, extra);
        else restore(evt);
      });
    } else {
      send(evt);
    }
  }

  if (board.dataset.canMove !== "1") return;
  board.querySelectorAll(".kanban-cards").forEach(function (list) {
    Sortable.create(list, {
      group: "board",
      draggable: ".kanban-card",
      filter: ".kanban-more",
      animation: 150,
      forceFallback: true, // mouse and touch alike; the page scrolls sideways while dragging
      fallbackTolerance: 3,
      delayOnTouchOnly: true,
      delay: 150, // a short press before a drag on touch screens, so a swipe still scrolls the board
      onEnd: onEnd,
    });
  });
})();

// Contract pages: the form's line items (add / remove rows, subtotals and the total computed live)
// and confirmations before status changes. The server computes the same figures again on save;
// this is only a preview. Money is computed in integers (fen) with BigInt, never in floats:
// subtotal = quantity × unit price × (1 − discount rate), rounded half up to the fen.
(function () {
  "use strict";

  // <form data-confirm="…">: ask before submitting (void, terminate, delete…).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  var form = document.getElementById("contract-form");
  if (!form || typeof BigInt === "undefined") return;
  var container = document.getElementById("lines");
  var template = document.getElementById("line-template");
  var totalOut = document.getElementById("contract-total");

  // "12.5" → 1250n at scale 2 (decimals = 2); null when not a plain non-negative decimal.
  function scaled(text, decimals) {
    var value = String(text || "").trim();
    if (value === "") return null;
    var match = /^(\d+)(?:\.(\d*))?$/.exec(value);
    if (!match) return null;
    var fraction = (match[2] || "");
    if (fraction.length > decimals) return null;
    while (fraction.length < decimals) fraction += "0";
    return BigInt(match[1] + fraction);
  }

  function format(fen) {
    var text = fen.toString();
    while (text.length < 3) text = "0" + text;
    var whole = text.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return whole + "." + text.slice(-2);
  }

  function field(row, name) {
    return row.querySelector('[data-field="' + name + '"]');
  }

  function listPrice(row) {
    var select = field(row, "product");
    var option = select && select.options[select.selectedIndex];
    return option ? option.getAttribute("data-price") : null;
  }

  // Subtotal of one row in fen, or null when a figure is missing or invalid.
  function subtotal(row) {
    var quantity = scaled(field(row, "quantity").value, 2);
    var priceText = field(row, "unit_price").value.trim() === "" ? listPrice(row) : field(row, "unit_price").value;
    var price = scaled(priceText, 2);
    var rateText = field(row, "discount_rate").value.trim() === "" ? "0" : field(row, "discount_rate").value;
    var rate = scaled(rateText, 4);
    if (quantity === null || price === null || rate === null || rate > 10000n) return null;
    var exact = quantity * price * (10000n - rate); // scale 2 + 2 + 4 = 8; fen is scale 2
    return (exact + 500000n) / 1000000n;
  }

  function recompute() {
    var total = 0n;
    var complete = true;
    container.querySelectorAll("[data-line]").forEach(function (row) {
      var value = subtotal(row);
      row.querySelector("[data-subtotal]").textContent = value === null ? "—" : format(value);
      if (value === null) {
        if (field(row, "product").value !== "") complete = false;
      } else if (field(row, "product").value !== "") {
        total += value;
      }
    });
    totalOut.textContent = complete ? format(total) : "—";
  }

  document.getElementById("add-line").addEventListener("click", function () {
    container.appendChild(template.content.cloneNode(true));
    recompute();
  });
  container.addEventListener("click", function (event) {
    var button = event.target.closest("[data-remove-line]");
    if (!button) return;
    button.closest("[data-line]").remove();
    recompute();
  });
  container.addEventListener("input", recompute);
  container.addEventListener("change", recompute);
  recompute();
})();

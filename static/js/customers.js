// Customer pages: bulk selection on the list, and confirmations before destructive posts.
// No build step; loaded after Bootstrap and htmx. Everything still works without it (the
// server checks every selection), it only makes the page friendlier.
(function () {
  "use strict";

  // <form data-confirm="…"> or <button data-confirm="…">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // GET forms marked data-drop-empty (the list's filters) leave blank fields out of the URL.
  document.querySelectorAll("form[data-drop-empty]").forEach(function (form) {
    form.addEventListener("formdata", function (event) {
      var names = {};
      event.formData.forEach(function (value, name) {
        names[name] = names[name] || String(value).trim() !== "";
      });
      Object.keys(names).forEach(function (name) {
        if (!names[name]) {
          event.formData.delete(name);
        }
      });
    });
  });

  var bulkForm = document.querySelector("[data-bulk-form]");
  if (!bulkForm) {
    return;
  }
  var selectAll = bulkForm.querySelector("[data-select-all]");
  var counter = bulkForm.querySelector("[data-bulk-count]");
  var idleText = counter ? counter.textContent : "";

  function rowChecks() {
    return Array.prototype.slice.call(bulkForm.querySelectorAll("[data-row-check]"));
  }

  function refresh() {
    var checks = rowChecks();
    var selected = checks.filter(function (box) { return box.checked; }).length;
    bulkForm.querySelectorAll("[data-bulk-action]").forEach(function (button) {
      button.disabled = selected === 0;
    });
    if (counter) {
      counter.textContent = selected ? counter.getAttribute("data-template").replace("%s", selected) : idleText;
    }
    if (selectAll) {
      selectAll.checked = selected > 0 && selected === checks.length;
      selectAll.indeterminate = selected > 0 && selected < checks.length;
    }
  }

  bulkForm.addEventListener("change", function (event) {
    if (event.target === selectAll) {
      rowChecks().forEach(function (box) { box.checked = selectAll.checked; });
    }
    refresh();
  });
  refresh();
})();

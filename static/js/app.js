// Small progressive enhancements shared by every page. No build step; loaded after htmx and Bootstrap.
(function () {
  "use strict";
  // A <select data-autosubmit> (the language switch) submits its form as soon as it changes.
  document.addEventListener("change", function (event) {
    var select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select && select.form) {
      select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
    }
  });
})();

// 外勤签到 on the quick follow-up form: fill latitude/longitude from the phone and pick 拜访.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-checkin]");
  if (!button) return;
  const form = button.closest("form");
  const status = form.querySelector("[data-checkin-status]");
  if (!navigator.geolocation) {
    status.textContent = "×";
    return;
  }
  status.textContent = "…";
  navigator.geolocation.getCurrentPosition(
    (position) => {
      form.querySelector("[name=latitude]").value = position.coords.latitude.toFixed(6);
      form.querySelector("[name=longitude]").value = position.coords.longitude.toFixed(6);
      const visit = form.querySelector("input[name=type][value=visit]");
      if (visit) visit.checked = true;
      status.textContent = "✓";
    },
    () => {
      status.textContent = "×";
    },
    { enableHighAccuracy: true, timeout: 10000 },
  );
});

// The office's month page: choosing another month in the picker opens that month's page.
(function () {
  const input = document.getElementById("month-input");
  if (!input) return;
  input.addEventListener("change", function () {
    if (/^\d{4}-\d{2}$/.test(input.value)) window.location.assign("../month/" + input.value);
  });
})();

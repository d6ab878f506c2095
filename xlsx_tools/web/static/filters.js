// Choosing in a filter list shows the table at once (the 筛选 button does the same without script).
document.querySelectorAll("#filters select").forEach(function (s) {
  s.addEventListener("change", function () { s.form.submit(); });
});

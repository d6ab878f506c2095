// Choosing in a filter list shows the table at once (the 筛选 button does the same without script).
// Listened for on the document: the upload script replaces the table and its filters after each drop.
document.addEventListener("change", function (e) {
  var s = e.target;
  if (s.matches && s.matches("#filters select")) { s.form.submit(); }
});

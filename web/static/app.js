// A little progressive enhancement; every page works without it.
// Times are shown in the viewer's time zone.
document.querySelectorAll("time[datetime]").forEach(function (t) {
  var d = new Date(t.getAttribute("datetime"));
  if (!isNaN(d)) {
    t.title = d.toLocaleString();
    if (/T/.test(t.textContent)) { t.textContent = d.toLocaleString(); }
  }
});
// Copy buttons copy a full digest.
document.querySelectorAll("button.copy").forEach(function (b) {
  b.addEventListener("click", function () {
    if (navigator.clipboard) {
      navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () { b.textContent = "copied"; });
    }
  });
});

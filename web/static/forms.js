// The explore pages' forms (Browse, Labels, Clusters, Outliers: data-results-form) show the
// query of the results on the page. Back and Forward from Chromium's back/forward cache show
// the page as it was left, fields the user changed before leaving included ("overexposed"
// chosen, then Filter, then Back: "overexposed" over the results of all images): the fields
// are reset to the values the page was served with, those of its results.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form[data-results-form]")) form.reset();
});

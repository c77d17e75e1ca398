/* The search page's mode in its address: "Find copies" is ?mode=lookup (the server opens the
   page in that mode: views.search_page), "Similar images" no parameter, other parameters
   (?from=ID) kept. A reload, a bookmark or a shared link shows the mode it was left in; it
   went back to "Similar images". The results page of a form sent without scripts (/search,
   /lookup) keeps its address (null): a reload sends the form again, results and all. */

export function addressForMode(href, mode) {
  const url = new URL(href);
  if (/\/(search|lookup)$/.test(url.pathname)) return null;
  if (mode === "lookup") url.searchParams.set("mode", "lookup");
  else url.searchParams.delete("mode");
  return url.pathname + url.search + url.hash;
}

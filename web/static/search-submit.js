/* The search page's submit: the form's fields are checked, the search (or lookup) is posted
   with fetch while a moving bar shows the time it has taken, and the server's results fragment
   replaces the results in place. */
import { humanSize } from "./format.js";
import { parseRoi } from "./search-region.js";

// While a request runs: a moving bar and the time it has taken so far.
function showProgress(what) {
  const progress = document.getElementById("search-progress");
  const progressText = document.getElementById("search-progress-text");
  const started = performance.now();
  const tick = () => {
    progressText.textContent = `${what} ${((performance.now() - started) / 1000).toFixed(1)} s`;
  };
  tick();
  progress.hidden = false;
  const timer = setInterval(tick, 100);
  return () => {
    clearInterval(timer);
    progress.hidden = true;
  };
}

// The results to show of a response: the fragment the view sent, or the message of an error
// page the server answered with before the view (a missing access token, a refused request:
// never the whole page inside the results); null when there is nothing of ours to show (a
// proxy's or the HTTP server's own error).
function resultsOf(response, text) {
  if (/^\s*<!doctype/i.test(text)) {
    const alert = new DOMParser().parseFromString(text, "text/html").querySelector(".alert");
    return alert ? alert.outerHTML : null;
  }
  return response.ok || text.includes('class="alert') ? text : null;
}

// A count field's value as the server reads it: ASCII digits only, else NaN. A number field
// takes "1e2" and "2.0" (Number() says 100 and 2), which the server refuses with a 400.
function wholeNumber(field) {
  return /^[0-9]+$/.test(field.value) ? Number(field.value) : NaN;
}

// An error the results show (the server refused the last query) is about a query that is
// gone once another photo is chosen or another search starts: it is taken away then.
export function clearResultsError() {
  const results = document.getElementById("results");
  if (results && results.querySelector(":scope > .alert")) results.innerHTML = "";
}

// The search running now, to be stopped when another photo is chosen; null when none runs.
let running = null;

// Another photo chosen: the results shown are the previous photo's. They stay (to compare),
// dimmed under a line that says so, until the next search replaces them; they were shown
// as they were, under the new photo's preview, as if they were its matches. A search of the
// previous photo still running is stopped: its answer came later and was shown as this one's.
export function markResultsStale(
  why = "These results are for the previous photo: search again to see this one's.",
) {
  if (running) running.abort();
  clearResultsError();
  const results = document.getElementById("results");
  if (!results || !results.children.length) return;
  const shown = results.querySelector(":scope > .stale-note");
  if (shown) {
    shown.textContent = why;
    return;
  }
  const note = document.createElement("p");
  note.className = "stale-note";
  note.setAttribute("role", "status");
  note.textContent = why;
  results.classList.add("is-stale");
  results.prepend(note);
}

// `say` shows a message under the form, `currentMode()` is "similar" or "lookup", `photo` is
// createPhoto's (search-photo.js).
export function installSubmit(form, say, currentMode, photo) {
  const $ = (id) => document.getElementById(id);
  const input = $("image");
  const imageId = $("image-id");
  const roiInput = $("roi");
  const kInput = $("k");
  const othersInput = $("others");
  const results = $("results");
  const submit = $("submit");
  const maxBytes = Number(form.dataset.maxBytes) || Infinity;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    if (!input.files.length && !imageId.value) {
      // the file chosen last was refused: say why again (not "choose a photo first")
      say(photo.refusal() || "Choose a photo first: pick a file, drop one here, or paste one.");
      input.focus();
      return;
    }
    if (currentMode() === "lookup") {
      const others = wholeNumber(othersInput);
      if (!Number.isInteger(others) || others < 0 || others > Number(othersInput.max)) {
        say(`Other similar images must be a whole number from 0 to ${othersInput.max}.`);
        othersInput.focus();
        return;
      }
    } else {
      const text = roiInput.value.trim();
      roiInput.removeAttribute("aria-invalid"); // a region refused before: checked again below
      if (text && photo.isVideo()) {
        roiInput.setAttribute("aria-invalid", "true");
        say("A region is for a photo: a video is searched by its whole frames. Clear the region.");
        roiInput.focus();
        return;
      }
      if (text) {
        const parsed = parseRoi(text);
        if (parsed.error) {
          roiInput.setAttribute("aria-invalid", "true");
          say(parsed.error);
          // the results shown were found with another region (or none): not this one's
          markResultsStale("These results are for the previous search: fix the region and search again.");
          roiInput.focus();
          return;
        }
      }
      const k = wholeNumber(kInput);
      if (!Number.isInteger(k) || k < 1 || k > Number(kInput.max)) {
        say(`Results must be a whole number from 1 to ${kInput.max}.`);
        // results shown under "fix the region" (a refused region before): this one now
        if (results.querySelector(":scope > .stale-note")) markResultsStale("These results are for the previous search: fix the number of results and search again.");
        kInput.focus();
        return;
      }
    }
    clearResultsError();
    results.setAttribute("aria-busy", "true");
    submit.disabled = true;
    const stopProgress = showProgress(currentMode() === "lookup" ? "Finding copies…" : "Searching…");
    const request = new AbortController();
    running = request;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch" },
        signal: request.signal,
      });
      const text = await response.text();
      request.signal.throwIfAborted(); // another photo chosen meanwhile: not its results
      const html = resultsOf(response, text);
      stopProgress(); // before the scroll below: hiding the bar then moved the heading 32 px up
      if (html === null && response.status === 413) {
        say(`That file is too large; the limit is ${humanSize(maxBytes)}.`);
      } else if (html === null) {
        say(`The server could not answer (HTTP ${response.status}). Try again; if it keeps failing, see the server's log.`);
      } else {
        results.innerHTML = html; // server-rendered, auto-escaped fragment of this origin
        results.classList.remove("is-stale");
        const heading = results.querySelector("#results-title, .alert");
        if (heading) {
          heading.setAttribute("tabindex", "-1");
          heading.focus({ preventScroll: true });
          heading.scrollIntoView({ behavior: "smooth", block: "start" });
        }
      }
    } catch (error) {
      if (request.signal.aborted) say("The search of the previous photo was stopped: press Search to search this one.");
      else say("Could not reach the imgsearch server. Is it still running?");
    } finally {
      if (running === request) running = null;
      stopProgress();
      results.setAttribute("aria-busy", "false");
      submit.disabled = false;
    }
  });
}

/* imgsearch search page: choose / drop / paste a photo, preview it (search-photo.js), draw a
   region of interest on it (search-region.js) for similar images, or find its copies
   (lookup), and show the results in place (search-submit.js). This module wires them to the
   form's options and modes. Without scripts the form still posts normally. An ES module: the
   template loads it with type="module". */
import { percent } from "./format.js";
import { createPhoto } from "./search-photo.js";
import { addressForMode } from "./search-mode.js";
import { createRegion } from "./search-region.js";
import { installSubmit, markResultsStale } from "./search-submit.js";

function main() {
  const form = document.getElementById("search-form");
  if (!form) return;

  const $ = (id) => document.getElementById(id);
  const minScore = $("min-score");
  const minScoreOut = $("min-score-out");
  const threshold = $("threshold");
  const thresholdOut = $("threshold-out");
  const calibratedRadio = $("threshold-calibrated");
  const fixedRadio = $("threshold-fixed");
  const calibratedValue = $("calibrated-value");
  const message = $("form-message");

  function say(text) {
    message.textContent = text || "";
  }

  const region = createRegion(say);
  const photo = createPhoto(form, say, region, markResultsStale);

  // -- options ---------------------------------------------------------------------------------

  const showMinScore = () => {
    minScoreOut.textContent = percent(minScore.value);
  };
  minScore.addEventListener("input", showMinScore);
  showMinScore();

  // The lookup's decision: calibrated (the library's own copy decision), or a copy-score
  // threshold. The slider starts at the copy score the default decision stands for; moving it
  // chooses "Copy score at least", choosing the default again puts the slider back.
  const showThreshold = () => {
    if (!threshold) return;
    if (calibratedRadio && calibratedRadio.checked && calibratedValue) {
      // the slider stands on its 0.005 steps: it showed 0.765 beside "calibrated 0.764"
      thresholdOut.textContent = calibratedValue.textContent;
      return;
    }
    const value = Number(threshold.value);
    thresholdOut.textContent = value.toFixed(Math.round(value * 100) === value * 100 ? 2 : 3);
  };
  if (threshold) {
    threshold.addEventListener("input", () => {
      if (fixedRadio) fixedRadio.checked = true;
      showThreshold();
    });
  }
  if (fixedRadio) fixedRadio.addEventListener("change", showThreshold); // what it sends now
  if (calibratedRadio && calibratedValue) {
    calibratedRadio.addEventListener("change", () => {
      if (!calibratedRadio.checked) return;
      threshold.value = calibratedValue.dataset.value;
      showThreshold();
    });
  }
  showThreshold();

  // -- modes: similar images (region, k) or find copies (threshold, others) --------------------
  // CSS shows the fields of the checked mode (also without this script); here the hidden
  // fields are disabled so that they are not sent, and the form posts to the mode's action.

  const modeRadios = Array.from(form.querySelectorAll('input[name="mode"]'));

  function currentMode() {
    const checked = modeRadios.find((radio) => radio.checked);
    return checked ? checked.value : "similar";
  }

  function applyMode() {
    const mode = currentMode();
    const checked = modeRadios.find((radio) => radio.checked);
    if (checked && checked.dataset.action) form.action = checked.dataset.action;
    form.dataset.mode = mode;
    const address = addressForMode(window.location.href, mode); // a reload keeps the mode
    if (address && address !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", address);
    }
    form.querySelectorAll(".mode-fields").forEach((group) => {
      const active = group.classList.contains(`${mode}-only`);
      group.querySelectorAll("input, button").forEach((el) => {
        el.disabled = !active;
      });
    });
    if (mode === "similar") {
      region.updateClear();
      if (photo.isShown()) region.sizeCanvas(); // it had no size while hidden
    }
    say("");
  }

  modeRadios.forEach((radio) => radio.addEventListener("change", applyMode));

  installSubmit(form, say, currentMode, photo);

  // Start-up: a region typed before a reload, a library image loaded with ?from=ID.
  region.restoreTyped();
  if (modeRadios.length) applyMode(); // the page's mode, or the one a reload kept checked
  photo.start();
}

main();

// imgsearch search page: choose / drop / paste a photo, preview it, draw a region of interest
// on it (similar images) or find its copies (lookup), and show the results in place. Without
// this script the form still posts normally.
(() => {
  "use strict";

  const form = document.getElementById("search-form");
  if (!form) return;

  const $ = (id) => document.getElementById(id);
  const input = $("image");
  const dropzone = $("dropzone");
  const preview = $("preview");
  const img = $("preview-img");
  const video = $("preview-video");
  const canvas = $("roi-canvas");
  const previewName = $("preview-name");
  const roiInput = $("roi");
  const clearButton = $("clear-roi");
  const imageId = $("image-id");
  const kInput = $("k");
  const minScore = $("min-score");
  const minScoreOut = $("min-score-out");
  const threshold = $("threshold");
  const thresholdOut = $("threshold-out");
  const calibratedRadio = $("threshold-calibrated");
  const fixedRadio = $("threshold-fixed");
  const calibratedValue = $("calibrated-value");
  const othersInput = $("others");
  const message = $("form-message");
  const results = $("results");
  const submit = $("submit");
  const progress = $("search-progress");
  const progressText = $("search-progress-text");
  const maxBytes = Number(form.dataset.maxBytes) || Infinity;
  const MIN_FRACTION = 0.01; // a drag smaller than this (of width or height) is a click

  let roi = null; // [left, top, right, bottom] as fractions of the shown image
  let drag = null; // {x, y} start of a drag, as fractions
  let objectUrl = null;
  let queryIsVideo = false; // a clip is searched by its whole frames: no region

  // -- helpers ---------------------------------------------------------------------------------

  const clamp = (v) => Math.min(1, Math.max(0, v));
  const round4 = (v) => Math.round(v * 10000) / 10000;

  function say(text) {
    message.textContent = text || "";
  }

  function humanSize(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // -- the photo -------------------------------------------------------------------------------

  function showPreview(url, caption, isVideo = false) {
    if (objectUrl && objectUrl !== url) URL.revokeObjectURL(objectUrl);
    queryIsVideo = isVideo;
    img.hidden = isVideo;
    canvas.hidden = isVideo;
    video.hidden = !isVideo;
    if (isVideo) {
      img.removeAttribute("src");
      video.src = url;
    } else {
      video.removeAttribute("src");
      img.src = url;
    }
    previewName.textContent = caption;
    preview.hidden = false;
    dropzone.classList.add("has-image");
    setRoi(null);
  }

  function useFile(file) {
    say("");
    if (!file) return false;
    const isVideo = Boolean(file.type) && file.type.startsWith("video/");
    if (file.type && !file.type.startsWith("image/") && !isVideo) {
      say(`“${file.name}” is not an image or a video (${file.type}). Choose a photo (JPEG, PNG, WebP…) or a short video clip.`);
      input.value = "";
      return false;
    }
    if (file.size > maxBytes) {
      say(`“${file.name}” is too large (${humanSize(file.size)}); the limit is ${humanSize(maxBytes)}.`);
      input.value = "";
      return false;
    }
    if (file.size === 0) {
      say(`“${file.name}” is empty.`);
      input.value = "";
      return false;
    }
    if (input.files[0] !== file) {
      const transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files; // so that the form (and FormData) sends this file
    }
    imageId.value = ""; // an uploaded photo replaces a library image
    objectUrl = URL.createObjectURL(file);
    const what = isVideo ? " · a video: searched by its frames, whole" : "";
    showPreview(objectUrl, `${file.name} · ${humanSize(file.size)}${what}`, isVideo);
    return true;
  }

  input.addEventListener("change", () => useFile(input.files[0]));

  img.addEventListener("load", () => {
    img.alt = `Query image: ${previewName.textContent.split(" · ")[0] || "preview"}`;
    sizeCanvas();
  });
  img.addEventListener("error", () => {
    if (!img.getAttribute("src")) return;
    // No picture to draw a region on (a TIFF, a HEIC): no broken image, no canvas over it.
    img.hidden = true;
    canvas.hidden = true;
    setRoi(null);
    say("This browser cannot show a preview of that file; you can still search with it (a region can be typed in the Region box).");
  });

  // Drag and drop anywhere on the page; the drop zone lights up.
  ["dragenter", "dragover"].forEach((type) =>
    document.addEventListener(type, (event) => {
      if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropzone.classList.add("is-dragover");
    }),
  );
  document.addEventListener("dragleave", (event) => {
    if (event.relatedTarget === null) dropzone.classList.remove("is-dragover");
  });
  document.addEventListener("drop", (event) => {
    dropzone.classList.remove("is-dragover");
    if (!event.dataTransfer) return;
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) useFile(file);
    else say("Drop an image file (not a link or text).");
  });

  // Paste an image (a screenshot, a copied photo).
  document.addEventListener("paste", (event) => {
    const items = Array.from((event.clipboardData && event.clipboardData.items) || []);
    const item = items.find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (!item) return; // ordinary text pastes into fields are left alone
    event.preventDefault();
    const blob = item.getAsFile();
    const ext = (item.type.split("/")[1] || "png").replace("jpeg", "jpg");
    useFile(new File([blob], blob.name && blob.name !== "image.png" ? blob.name : `pasted.${ext}`, { type: item.type }));
  });

  // -- the region of interest -----------------------------------------------------------------

  function sizeCanvas() {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    draw();
  }

  function draw() {
    const ctx = canvas.getContext("2d");
    const w = canvas.width;
    const h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    if (!roi) return;
    const [l, t, r, b] = [roi[0] * w, roi[1] * h, roi[2] * w, roi[3] * h];
    ctx.fillStyle = "rgba(8, 10, 20, 0.55)";
    ctx.fillRect(0, 0, w, h);
    ctx.clearRect(l, t, r - l, b - t);
    const ratio = window.devicePixelRatio || 1;
    ctx.lineWidth = 2 * ratio;
    ctx.strokeStyle = "#ffffff";
    ctx.strokeRect(l, t, r - l, b - t);
    ctx.setLineDash([6 * ratio, 5 * ratio]);
    ctx.strokeStyle = cssVar("--accent") || "#3d5afe";
    ctx.strokeRect(l, t, r - l, b - t);
    ctx.setLineDash([]);
    ctx.fillStyle = "#ffffff";
    const s = 4 * ratio;
    for (const [x, y] of [[l, t], [r, t], [l, b], [r, b]]) ctx.fillRect(x - s, y - s, 2 * s, 2 * s);
  }

  function setRoi(box, { fromText = false } = {}) {
    roi = box;
    if (!fromText) roiInput.value = box ? box.map(round4).join(",") : "";
    roiInput.removeAttribute("aria-invalid");
    clearButton.disabled = !box;
    draw();
  }

  // The server's units: "l,t,r,b" fractions of the image (0..1), or "px:l,t,r,b" pixels
  // (checked against the image's size by the server). Only fractions are drawn.
  function parseRoi(text) {
    const pixels = /^px:/i.test(text);
    const parts = text.replace(/^px:/i, "").split(/[\s,]+/).filter(Boolean).map(Number);
    if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v))) return { error: "Region must be four numbers: left, top, right, bottom (fractions 0–1, or px:… for pixels)." };
    if (pixels && parts.some((v) => v < 0)) return { error: "Pixel coordinates of a region cannot be negative." };
    if (!pixels && parts.some((v) => v < 0 || v > 1)) return { error: "Region values are fractions of the image, from 0 to 1 (write px:left,top,right,bottom for pixels)." };
    const [l, t, r, b] = parts;
    if (r <= l || b <= t) return { error: "The region is empty: right must exceed left and bottom must exceed top." };
    return pixels ? { pixels: parts } : { box: parts };
  }

  function pointerFraction(event) {
    const rect = canvas.getBoundingClientRect();
    return { x: clamp((event.clientX - rect.left) / rect.width), y: clamp((event.clientY - rect.top) / rect.height) };
  }

  function boxFrom(a, b) {
    return [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y)];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    canvas.focus({ preventScroll: true });
    drag = pointerFraction(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    roi = boxFrom(drag, pointerFraction(event));
    draw();
  });
  const endDrag = (event) => {
    if (!drag) return;
    const box = boxFrom(drag, pointerFraction(event));
    drag = null;
    if (box[2] - box[0] < MIN_FRACTION || box[3] - box[1] < MIN_FRACTION) {
      setRoi(null); // a click (or a sliver) clears the region
    } else {
      setRoi(box);
      say("");
    }
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", () => {
    drag = null;
    setRoi(roi);
  });

  // Keyboard: arrows move the region, Shift+arrows resize it, Escape/Delete clears it,
  // Enter selects the middle half when there is none yet.
  canvas.addEventListener("keydown", (event) => {
    const step = 0.02;
    if (event.key === "Escape" || event.key === "Delete" || event.key === "Backspace") {
      setRoi(null);
      event.preventDefault();
      return;
    }
    if (event.key === "Enter" && !roi) {
      setRoi([0.25, 0.25, 0.75, 0.75]);
      event.preventDefault();
      return;
    }
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (!roi || !(event.key in moves)) return;
    event.preventDefault();
    const [dx, dy] = moves[event.key];
    let [l, t, r, b] = roi;
    if (event.shiftKey) {
      r = clamp(Math.max(l + MIN_FRACTION, r + dx));
      b = clamp(Math.max(t + MIN_FRACTION, b + dy));
    } else {
      const mx = Math.min(Math.max(dx, -l), 1 - r);
      const my = Math.min(Math.max(dy, -t), 1 - b);
      [l, t, r, b] = [l + mx, t + my, r + mx, b + my];
    }
    setRoi([l, t, r, b]);
  });

  roiInput.addEventListener("input", () => {
    const text = roiInput.value.trim();
    if (!text) return setRoi(null, { fromText: true });
    const parsed = parseRoi(text);
    if (parsed.box) setRoi(parsed.box, { fromText: true });
    else if (parsed.pixels) setRoi(null, { fromText: true }); // valid, not drawn
  });
  clearButton.addEventListener("click", () => {
    setRoi(null);
    say("");
  });
  window.addEventListener("resize", sizeCanvas);

  // -- options ---------------------------------------------------------------------------------

  const showMinScore = () => {
    minScoreOut.textContent = `${Math.round(Number(minScore.value) * 100)}%`;
  };
  minScore.addEventListener("input", showMinScore);
  showMinScore();

  // The lookup's decision: calibrated (the library's own copy decision), or a copy-score
  // threshold. The slider starts at the copy score the default decision stands for; moving it
  // chooses "Copy score at least", choosing the default again puts the slider back.
  const showThreshold = () => {
    if (!threshold) return;
    const value = Number(threshold.value);
    thresholdOut.textContent = value.toFixed(Math.round(value * 100) === value * 100 ? 2 : 3);
  };
  if (threshold) {
    threshold.addEventListener("input", () => {
      if (fixedRadio) fixedRadio.checked = true;
      showThreshold();
    });
  }
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
    form.querySelectorAll(".mode-fields").forEach((group) => {
      const active = group.classList.contains(`${mode}-only`);
      group.querySelectorAll("input, button").forEach((el) => {
        el.disabled = !active;
      });
    });
    if (mode === "similar") {
      clearButton.disabled = !roi;
      if (!preview.hidden) sizeCanvas(); // it had no size while hidden
    }
    say("");
  }

  modeRadios.forEach((radio) => radio.addEventListener("change", applyMode));

  // -- submit ----------------------------------------------------------------------------------

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    if (!input.files.length && !imageId.value) {
      say("Choose a photo first: pick a file, drop one here, or paste one.");
      input.focus();
      return;
    }
    if (currentMode() === "lookup") {
      const others = Number(othersInput.value);
      if (!Number.isInteger(others) || others < 0 || others > Number(othersInput.max)) {
        say(`Other similar images must be a whole number from 0 to ${othersInput.max}.`);
        othersInput.focus();
        return;
      }
    } else {
      const text = roiInput.value.trim();
      if (text && queryIsVideo) {
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
          roiInput.focus();
          return;
        }
      }
      const k = Number(kInput.value);
      if (!Number.isInteger(k) || k < 1 || k > Number(kInput.max)) {
        say(`Results must be a whole number from 1 to ${kInput.max}.`);
        kInput.focus();
        return;
      }
    }
    results.setAttribute("aria-busy", "true");
    submit.disabled = true;
    const stopProgress = showProgress(currentMode() === "lookup" ? "Finding copies…" : "Searching…");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch" },
      });
      const html = await response.text();
      if (response.status === 413 && !html.includes("alert")) {
        say(`That file is too large; the limit is ${humanSize(maxBytes)}.`);
      } else {
        results.innerHTML = html; // server-rendered, auto-escaped fragment of this origin
        const heading = results.querySelector("#results-title, .alert");
        if (heading) {
          heading.setAttribute("tabindex", "-1");
          heading.focus({ preventScroll: true });
          heading.scrollIntoView({ behavior: "smooth", block: "start" });
        }
      }
    } catch (error) {
      say("Could not reach the imgsearch server. Is it still running?");
    } finally {
      stopProgress();
      results.setAttribute("aria-busy", "false");
      submit.disabled = false;
    }
  });

  // While a request runs: a moving bar and the time it has taken so far.
  function showProgress(what) {
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

  // Start-up: a region typed before a reload, a library image loaded with ?from=ID.
  if (roiInput.value.trim()) {
    const parsed = parseRoi(roiInput.value.trim());
    if (parsed.box) roi = parsed.box;
  }
  clearButton.disabled = !roi;
  if (modeRadios.length) applyMode(); // the page's mode, or the one a reload kept checked
  if (img.dataset.video) {
    queryIsVideo = true; // a library video (?from=ID): its frame is shown, the clip is searched
    canvas.hidden = true;
  }
  if (img.complete && img.naturalWidth) sizeCanvas();
})();

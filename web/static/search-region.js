/* The search page's region of interest: drawn on a canvas over the query photo with the mouse
   (a drag; a click clears it) or the keyboard (arrows move it, Shift+arrows resize it,
   Escape/Delete clear it, Enter selects the middle half), or typed in the Region box. */
const MIN_FRACTION = 0.01; // a drag smaller than this (of width or height) is a click

const clamp = (v) => Math.min(1, Math.max(0, v));
const round4 = (v) => Math.round(v * 10000) / 10000;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// The server's units: "l,t,r,b" fractions of the image (0..1), or "px:l,t,r,b" pixels
// (checked against the image's size by the server). Only fractions are drawn.
export function parseRoi(text) {
  const pixels = /^px:/i.test(text);
  const parts = text.replace(/^px:/i, "").split(/[\s,]+/).filter(Boolean).map(Number);
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v))) return { error: "Region must be four numbers: left, top, right, bottom (fractions 0–1, or px:… for pixels)." };
  if (pixels && parts.some((v) => v < 0)) return { error: "Pixel coordinates of a region cannot be negative." };
  if (!pixels && parts.some((v) => v < 0 || v > 1)) return { error: "Region values are fractions of the image, from 0 to 1 (write px:left,top,right,bottom for pixels)." };
  const [l, t, r, b] = parts;
  if (r <= l || b <= t) return { error: "The region is empty: right must exceed left and bottom must exceed top." };
  return pixels ? { pixels: parts } : { box: parts };
}

function boxFrom(a, b) {
  return [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y)];
}

// The region's canvas, Region box and Clear button; `say` shows a message under the form.
export function createRegion(say) {
  const canvas = document.getElementById("roi-canvas");
  const roiInput = document.getElementById("roi");
  const clearButton = document.getElementById("clear-roi");
  let roi = null; // [left, top, right, bottom] as fractions of the shown image
  let drag = null; // {x, y} start of a drag, as fractions

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

  function pointerFraction(event) {
    const rect = canvas.getBoundingClientRect();
    return { x: clamp((event.clientX - rect.left) / rect.width), y: clamp((event.clientY - rect.top) / rect.height) };
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

  return {
    set: setRoi,
    sizeCanvas,
    // the Clear button is enabled while there is a region (after the mode enabled its fields)
    updateClear() {
      clearButton.disabled = !roi;
    },
    // a region typed before a reload is drawn again
    restoreTyped() {
      if (roiInput.value.trim()) {
        const parsed = parseRoi(roiInput.value.trim());
        if (parsed.box) roi = parsed.box;
      }
      clearButton.disabled = !roi;
    },
  };
}

/* The library map from the keyboard: the canvas takes focus, the arrow keys go to the nearest
   point that way (straight ahead preferred), Enter opens it, Escape lets go, +/- zoom. */
import { dpr } from "./map-view.js";

// the point nearest the middle of the canvas
function nearestToCentre(view, canvas) {
  const { data } = view;
  const cx = (canvas.width / 2 - view.ox) / view.scale;
  const cy = (canvas.height / 2 - view.oy) / view.scale;
  let best = -1;
  let bestD = Infinity;
  for (let i = 0; i < data.n; i++) {
    const d = (data.x[i] - cx) ** 2 + (data.y[i] - cy) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

// the nearest point in direction (dx, dy) from point i, straight ahead preferred; points
// on the very same spot (copies) are stepped through in order
function step(data, i, dx, dy) {
  const x0 = data.x[i];
  const y0 = data.y[i];
  const forward = dx + dy > 0;
  let best = -1;
  let bestScore = Infinity;
  for (let j = 0; j < data.n; j++) {
    if (j === i) continue;
    const ex = data.x[j] - x0;
    const ey = data.y[j] - y0;
    const along = ex * dx + ey * dy;
    const across = Math.abs(dx ? ey : ex);
    let score;
    if (ex === 0 && ey === 0) {
      if (forward !== j > i) continue;
      score = Math.abs(j - i) * 1e-12;
    } else {
      if (along <= 0) continue;
      score = along + 3 * across;
    }
    if (score < bestScore) {
      bestScore = score;
      best = j;
    }
  }
  return best < 0 ? i : best;
}

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

// tip: {show(i, clientX, clientY), text()} - the hover tip, shown for the chosen point too
export function installKeys(view, canvas, root, tip) {
  const focusText = document.getElementById("map-focus");
  let current = -1; // the point chosen from the keyboard

  function choose(i) {
    current = i;
    if (i < 0) {
      tip.show(-1, 0, 0);
      focusText.textContent = "";
      return;
    }
    const p = view.canvasPoint(i);
    const margin = 40 * dpr();
    if (p.x < margin || p.y < margin || p.x > canvas.width - margin || p.y > canvas.height - margin) {
      view.ox += canvas.width / 2 - p.x; // bring it into view
      view.oy += canvas.height / 2 - p.y;
    }
    const rect = canvas.getBoundingClientRect();
    const seen = view.canvasPoint(i);
    view.hovered = -1;
    tip.show(i, rect.left + seen.x / dpr(), rect.top + seen.y / dpr());
    root.dataset.current = String(view.data.ids[i]);
    focusText.textContent = "Image " + tip.text() + ". Enter opens it.";
  }

  canvas.addEventListener("keydown", (e) => {
    const data = view.data;
    if (!data || !data.n || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key in ARROWS) {
      e.preventDefault();
      choose(current < 0 ? nearestToCentre(view, canvas) : step(data, current, ...ARROWS[e.key]));
    } else if (e.key === "Enter" && current >= 0) {
      e.preventDefault();
      window.location.href = root.dataset.imageUrl + data.ids[current];
    } else if (e.key === "Escape" && current >= 0) {
      choose(-1);
    } else if (e.key === "+" || e.key === "=") {
      view.zoomAt(1.6, canvas.width / 2, canvas.height / 2);
    } else if (e.key === "-") {
      view.zoomAt(1 / 1.6, canvas.width / 2, canvas.height / 2);
    }
  });
  canvas.addEventListener("focus", () => {
    const data = view.data;
    if (data && data.n && current < 0 && canvas.matches(":focus-visible")) choose(nearestToCentre(view, canvas));
  });
  canvas.addEventListener("blur", () => {
    if (current >= 0) choose(-1);
  });
}

/* The library map's view: the points (columns of numbers) drawn in one pass into an ImageData
   buffer (typed arrays, no per-point canvas calls), so 100 k points draw in milliseconds; the
   pan and zoom (scale, ox, oy: canvas pixels of the unit square); a uniform grid that finds
   the point nearest the pointer. */
const GRID = 128; // hover lookup cells per side
const HOVER_PX = 8;

export function dpr() {
  return window.devicePixelRatio || 1;
}

export function createView(root, canvas) {
  const ctx = canvas.getContext("2d");
  const view = {
    data: null, // {n, ids, x, y, cluster, label, labelNames, generation}
    colours: null, // Uint32Array, one RGBA word per point
    order: null, // drawing order: grey points first, coloured ones on top
    scale: 1,
    ox: 0,
    oy: 0,
    hovered: -1, // the point ringed (under the pointer, or chosen from the keyboard)
  };
  let cellStart = null;
  let cellItems = null;
  let pending = false;
  let image = null;
  let firstDrawn = false;

  view.setData = (data) => {
    view.data = data;
    const n = data.n;
    const cellOf = new Uint32Array(n);
    cellStart = new Uint32Array(GRID * GRID + 1);
    for (let i = 0; i < n; i++) {
      const cx = Math.min(GRID - 1, Math.max(0, (data.x[i] * GRID) | 0));
      const cy = Math.min(GRID - 1, Math.max(0, (data.y[i] * GRID) | 0));
      cellOf[i] = cy * GRID + cx;
      cellStart[cellOf[i] + 1]++;
    }
    for (let c = 0; c < GRID * GRID; c++) cellStart[c + 1] += cellStart[c];
    const fill = cellStart.slice(0, GRID * GRID);
    cellItems = new Uint32Array(n);
    for (let i = 0; i < n; i++) cellItems[fill[cellOf[i]]++] = i;
  };

  view.fitScale = () => Math.min(canvas.width, canvas.height) * 0.92;

  function pointRadius() {
    const n = view.data.n;
    const base = n > 20000 ? 1 : n > 2000 ? 1.5 : 3.5;
    return Math.max(1, Math.round(base * dpr() * Math.min(3, Math.sqrt(view.scale / view.fitScale()))));
  }

  view.resetView = () => {
    view.scale = view.fitScale();
    view.ox = (canvas.width - view.scale) / 2;
    view.oy = (canvas.height - view.scale) / 2;
    view.schedule();
  };

  view.resize = () => {
    const rect = canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width * dpr()));
    const h = Math.max(1, Math.round(rect.height * dpr()));
    if (w === canvas.width && h === canvas.height && image) return;
    const fresh = !image;
    const cx = (canvas.width / 2 - view.ox) / view.scale;
    const cy = (canvas.height / 2 - view.oy) / view.scale;
    const zoom = view.scale / view.fitScale();
    canvas.width = w;
    canvas.height = h;
    image = ctx.createImageData(w, h);
    if (fresh || !view.data) return view.resetView();
    view.scale = view.fitScale() * zoom;
    view.ox = w / 2 - cx * view.scale;
    view.oy = h / 2 - cy * view.scale;
    view.schedule();
  };

  view.schedule = () => {
    if (!pending && view.data && image) {
      pending = true;
      requestAnimationFrame(draw);
    }
  };

  function draw() {
    pending = false;
    const started = performance.now();
    const { data, order, colours, scale, ox, oy, hovered } = view;
    const w = canvas.width;
    const h = canvas.height;
    const pixels = new Uint32Array(image.data.buffer);
    pixels.fill(0);
    const r = pointRadius();
    const half = new Int32Array(2 * r); // a round dot: each row's half width
    for (let row = 0; row < 2 * r; row++) {
      const dy = row - r + 0.5;
      half[row] = r < 3 ? r : Math.max(1, Math.round(Math.sqrt(r * r - dy * dy)));
    }
    const x = data.x;
    const y = data.y;
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      const px = (ox + x[i] * scale) | 0;
      const py = (oy + y[i] * scale) | 0;
      if (px < -r || py < -r || px >= w + r || py >= h + r) continue;
      const c = colours[i];
      const y0 = py - r + 1 > 0 ? py - r + 1 : 0;
      const y1 = py + r + 1 < h ? py + r + 1 : h;
      for (let yy = y0; yy < y1; yy++) {
        const s = half[yy - py + r - 1];
        const x0 = px - s + 1 > 0 ? px - s + 1 : 0;
        const x1 = px + s + 1 < w ? px + s + 1 : w;
        if (x0 < x1) pixels.fill(c, yy * w + x0, yy * w + x1);
      }
    }
    ctx.putImageData(image, 0, 0);
    if (hovered >= 0) {
      ctx.beginPath();
      ctx.arc(ox + x[hovered] * scale, oy + y[hovered] * scale, r + 4 * dpr(), 0, 2 * Math.PI);
      ctx.lineWidth = 2 * dpr();
      ctx.strokeStyle = getComputedStyle(root).getPropertyValue("--text").trim() || "#161a23";
      ctx.stroke();
    }
    const took = performance.now() - started;
    canvas.dataset.drawMs = took.toFixed(1);
    if (!firstDrawn) {
      firstDrawn = true;
      root.dataset.firstDrawMs = performance.now().toFixed(0);
      root.dataset.ready = "true";
    }
  }

  // the point nearest the pointer at (clientX, clientY) within reach, else -1
  view.nearest = (clientX, clientY) => {
    const { data, scale } = view;
    const rect = canvas.getBoundingClientRect();
    const mx = (clientX - rect.left) * dpr();
    const my = (clientY - rect.top) * dpr();
    const dx = (mx - view.ox) / scale;
    const dy = (my - view.oy) / scale;
    const reach = ((HOVER_PX + pointRadius() / dpr()) * dpr()) / scale;
    let best = -1;
    let bestD = reach * reach;
    const c0 = Math.max(0, Math.floor((dx - reach) * GRID));
    const c1 = Math.min(GRID - 1, Math.floor((dx + reach) * GRID));
    const r0 = Math.max(0, Math.floor((dy - reach) * GRID));
    const r1 = Math.min(GRID - 1, Math.floor((dy + reach) * GRID));
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const cell = row * GRID + col;
        for (let k = cellStart[cell]; k < cellStart[cell + 1]; k++) {
          const i = cellItems[k];
          const ex = data.x[i] - dx;
          const ey = data.y[i] - dy;
          const d = ex * ex + ey * ey;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  };

  view.zoomAt = (factor, mx, my) => {
    const fit = view.fitScale();
    const next = Math.min(fit * 400, Math.max(fit * 0.3, view.scale * factor));
    view.ox = mx - ((mx - view.ox) * next) / view.scale;
    view.oy = my - ((my - view.oy) * next) / view.scale;
    view.scale = next;
    view.schedule();
  };

  // where point i is drawn, in canvas (device) pixels
  view.canvasPoint = (i) => ({ x: view.ox + view.data.x[i] * view.scale, y: view.oy + view.data.y[i] * view.scale });

  return view;
}

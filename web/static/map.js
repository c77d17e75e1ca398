/* The library map: every image a point of GET /api/v1/map (columns of numbers), drawn in one
   pass into an ImageData buffer (typed arrays, no per-point canvas calls), so 100 k points draw
   in milliseconds. Drag pans, the wheel and +/- zoom, hovering shows the thumbnail (a uniform
   grid finds the nearest point), a click opens the image page; from the keyboard the canvas
   takes focus, the arrow keys go to the nearest point that way and Enter opens it. Colour by cluster or label:
   the 19 largest groups get a colour, the rest one muted tone, noise / no label a light grey. */
(function () {
  "use strict";
  const root = document.getElementById("map");
  if (!root) return;
  const canvas = document.getElementById("map-canvas");
  const ctx = canvas.getContext("2d");
  const tip = document.getElementById("map-tip");
  const tipImg = tip.querySelector("img");
  const tipText = tip.querySelector("span");
  const status = document.getElementById("map-status");
  const legend = document.getElementById("map-legend");
  const colourBy = document.getElementById("map-colour");
  const PALETTE = [
    "#3d5afe", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#c0ca33", "#d81b60",
    "#6d4c41", "#1e88e5", "#fdd835", "#00897b", "#5e35b1", "#f4511e", "#7cb342", "#3949ab",
    "#ec407a", "#26a69a", "#ab47bc",
  ];
  const OTHER = "#8a93a8";
  const NONE = "#c9ced9";
  const GRID = 128; // hover lookup cells per side
  const HOVER_PX = 8;

  let data = null; // {n, ids, x, y, cluster, label, labelNames}
  let colours = null; // Uint32Array, one RGBA word per point
  let order = null; // drawing order: grey points first, coloured ones on top
  let cellStart = null;
  let cellItems = null;
  let scale = 1;
  let ox = 0;
  let oy = 0;
  let hovered = -1;
  let pending = false;
  let image = null;
  let firstDrawn = false;
  let current = -1; // the point chosen from the keyboard
  const focusText = document.getElementById("map-focus");

  function rgbaWord(hex) {
    const v = parseInt(hex.slice(1), 16);
    // ImageData is RGBA in memory; a Uint32Array view is little-endian on every browser host
    return (0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff);
  }

  function groups(values, names) {
    const counts = new Map();
    for (let i = 0; i < values.length; i++) {
      const g = values[i];
      if (g >= 0) counts.set(g, (counts.get(g) || 0) + 1);
    }
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    const colourOf = new Map();
    ranked.slice(0, PALETTE.length).forEach(([g], i) => colourOf.set(g, PALETTE[i]));
    return { ranked, colourOf, names };
  }

  function recolour() {
    const byLabel = colourBy.value === "label";
    const values = byLabel ? data.label : data.cluster;
    const g = groups(values, byLabel ? data.labelNames : null);
    const words = new Map([...g.colourOf].map(([k, c]) => [k, rgbaWord(c)]));
    const other = rgbaWord(OTHER);
    const none = rgbaWord(NONE);
    colours = new Uint32Array(data.n);
    const rankOf = new Uint8Array(data.n);
    for (let i = 0; i < data.n; i++) {
      const v = values[i];
      const w = v < 0 ? none : words.get(v);
      colours[i] = w === undefined ? other : w;
      rankOf[i] = v < 0 ? 0 : w === undefined ? 1 : 2;
    }
    order = new Uint32Array(data.n);
    let at = 0;
    for (let r = 0; r < 3; r++) for (let i = 0; i < data.n; i++) if (rankOf[i] === r) order[at++] = i;
    legend.replaceChildren();
    g.ranked.slice(0, PALETTE.length).forEach(([key, count]) => {
      const name = byLabel ? labelText(g.names[key]) : "cluster " + (key + 1);
      legend.append(legendItem(g.colourOf.get(key), name + " (" + count + ")"));
    });
    if (g.ranked.length > PALETTE.length) legend.append(legendItem(OTHER, "other " + (byLabel ? "labels" : "clusters")));
    legend.append(legendItem(NONE, byLabel ? "no label" : "unclustered"));
    schedule();
  }

  function labelText(name) {
    return String(name).replace(/_/g, " ");
  }

  function legendItem(colour, text) {
    const li = document.createElement("li");
    const dot = document.createElement("i");
    dot.style.background = colour;
    li.append(dot, document.createTextNode(text));
    return li;
  }

  function buildGrid() {
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
  }

  function dpr() {
    return window.devicePixelRatio || 1;
  }

  function pointRadius() {
    const base = data.n > 20000 ? 1 : data.n > 2000 ? 1.5 : 3.5;
    return Math.max(1, Math.round(base * dpr() * Math.min(3, Math.sqrt(scale / fitScale()))));
  }

  function fitScale() {
    return Math.min(canvas.width, canvas.height) * 0.92;
  }

  function resetView() {
    scale = fitScale();
    ox = (canvas.width - scale) / 2;
    oy = (canvas.height - scale) / 2;
    schedule();
  }

  function resize() {
    const rect = canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width * dpr()));
    const h = Math.max(1, Math.round(rect.height * dpr()));
    if (w === canvas.width && h === canvas.height && image) return;
    const fresh = !image;
    const cx = (canvas.width / 2 - ox) / scale;
    const cy = (canvas.height / 2 - oy) / scale;
    const zoom = scale / fitScale();
    canvas.width = w;
    canvas.height = h;
    image = ctx.createImageData(w, h);
    if (fresh || !data) return resetView();
    scale = fitScale() * zoom;
    ox = w / 2 - cx * scale;
    oy = h / 2 - cy * scale;
    schedule();
  }

  function schedule() {
    if (!pending && data && image) {
      pending = true;
      requestAnimationFrame(draw);
    }
  }

  function draw() {
    pending = false;
    const started = performance.now();
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

  function nearest(clientX, clientY) {
    const rect = canvas.getBoundingClientRect();
    const mx = (clientX - rect.left) * dpr();
    const my = (clientY - rect.top) * dpr();
    const dx = (mx - ox) / scale;
    const dy = (my - oy) / scale;
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
  }

  function showTip(i, clientX, clientY) {
    if (i === hovered) return placeTip(clientX, clientY);
    hovered = i;
    canvas.classList.toggle("is-over-point", i >= 0);
    if (i < 0) {
      tip.hidden = true;
      schedule();
      return;
    }
    const id = data.ids[i];
    tipImg.hidden = false;
    tipImg.src = root.dataset.thumbUrl.replace("/0/", "/" + id + "/");
    const label = data.label[i] >= 0 ? labelText(data.labelNames[data.label[i]]) : "no label";
    const group = data.cluster[i] >= 0 ? "cluster " + (data.cluster[i] + 1) : "unclustered";
    tipText.textContent = "#" + id + " · " + label + " · " + group;
    tip.dataset.id = String(id);
    tip.hidden = false;
    placeTip(clientX, clientY);
    schedule();
  }

  // a file deleted since indexing has no thumbnail (404): say so, never a broken image
  tipImg.addEventListener("error", () => {
    tipImg.hidden = true;
    if (!tipText.textContent.startsWith("File missing")) {
      tipText.textContent = "File missing · " + tipText.textContent;
    }
  });

  function placeTip(clientX, clientY) {
    if (tip.hidden) return;
    const stage = canvas.parentElement.getBoundingClientRect();
    let left = clientX - stage.left + 16;
    let top = clientY - stage.top + 16;
    if (left + 176 > stage.width) left = clientX - stage.left - 184;
    if (top + 170 > stage.height) top = Math.max(4, clientY - stage.top - 176);
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }

  function zoomAt(factor, mx, my) {
    const next = Math.min(fitScale() * 400, Math.max(fitScale() * 0.3, scale * factor));
    ox = mx - ((mx - ox) * next) / scale;
    oy = my - ((my - oy) * next) / scale;
    scale = next;
    schedule();
  }

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, ox, oy, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!data) return;
    if (drag) {
      const ddx = e.clientX - drag.x;
      const ddy = e.clientY - drag.y;
      if (Math.abs(ddx) + Math.abs(ddy) > 4) drag.moved = true;
      if (drag.moved) {
        canvas.classList.add("is-dragging");
        ox = drag.ox + ddx * dpr();
        oy = drag.oy + ddy * dpr();
        tip.hidden = true;
        hovered = -1;
        schedule();
        return;
      }
    }
    showTip(nearest(e.clientX, e.clientY), e.clientX, e.clientY);
  });
  canvas.addEventListener("pointerup", (e) => {
    const wasDrag = drag && drag.moved;
    drag = null;
    canvas.classList.remove("is-dragging");
    if (wasDrag || !data) return;
    const i = nearest(e.clientX, e.clientY);
    if (i >= 0) window.location.href = root.dataset.imageUrl + data.ids[i];
  });
  canvas.addEventListener("pointerleave", () => {
    if (!drag) showTip(-1, 0, 0);
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      if (!data) return;
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), (e.clientX - rect.left) * dpr(), (e.clientY - rect.top) * dpr());
    },
    { passive: false },
  );
  // the keyboard: the arrow keys go from point to point, Enter opens the image
  function pointClient(i) {
    const rect = canvas.getBoundingClientRect();
    return { x: rect.left + (ox + data.x[i] * scale) / dpr(), y: rect.top + (oy + data.y[i] * scale) / dpr() };
  }

  function nearestToCentre() {
    const cx = (canvas.width / 2 - ox) / scale;
    const cy = (canvas.height / 2 - oy) / scale;
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
  function step(i, dx, dy) {
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

  function choose(i) {
    current = i;
    if (i < 0) {
      showTip(-1, 0, 0);
      focusText.textContent = "";
      return;
    }
    const px = ox + data.x[i] * scale;
    const py = oy + data.y[i] * scale;
    const margin = 40 * dpr();
    if (px < margin || py < margin || px > canvas.width - margin || py > canvas.height - margin) {
      ox += canvas.width / 2 - px; // bring it into view
      oy += canvas.height / 2 - py;
    }
    const p = pointClient(i);
    hovered = -1;
    showTip(i, p.x, p.y);
    root.dataset.current = String(data.ids[i]);
    focusText.textContent = "Image " + tipText.textContent + ". Enter opens it.";
  }

  const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  canvas.addEventListener("keydown", (e) => {
    if (!data || !data.n || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key in ARROWS) {
      e.preventDefault();
      choose(current < 0 ? nearestToCentre() : step(current, ...ARROWS[e.key]));
    } else if (e.key === "Enter" && current >= 0) {
      e.preventDefault();
      window.location.href = root.dataset.imageUrl + data.ids[current];
    } else if (e.key === "Escape" && current >= 0) {
      choose(-1);
    } else if (e.key === "+" || e.key === "=") {
      zoomAt(1.6, canvas.width / 2, canvas.height / 2);
    } else if (e.key === "-") {
      zoomAt(1 / 1.6, canvas.width / 2, canvas.height / 2);
    }
  });
  canvas.addEventListener("focus", () => {
    if (data && data.n && current < 0 && canvas.matches(":focus-visible")) choose(nearestToCentre());
  });
  canvas.addEventListener("blur", () => {
    if (current >= 0) choose(-1);
  });

  document.getElementById("map-zoom-in").addEventListener("click", () => zoomAt(1.6, canvas.width / 2, canvas.height / 2));
  document.getElementById("map-zoom-out").addEventListener("click", () => zoomAt(1 / 1.6, canvas.width / 2, canvas.height / 2));
  document.getElementById("map-reset").addEventListener("click", resetView);
  colourBy.addEventListener("change", () => data && recolour());
  new ResizeObserver(resize).observe(canvas);

  async function load() {
    const started = performance.now();
    let body;
    try {
      const response = await fetch(root.dataset.api, { headers: { Accept: "application/json" } });
      body = await response.json();
      if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
    } catch (error) {
      status.textContent = "The map could not be loaded: " + error.message;
      root.dataset.error = "true";
      return;
    }
    const fetched = performance.now();
    data = {
      n: body.count,
      ids: body.ids,
      x: Float32Array.from(body.x),
      y: Float32Array.from(body.y),
      cluster: Int32Array.from(body.cluster),
      label: Int32Array.from(body.label),
      labelNames: body.label_names,
      generation: body.generation,
    };
    for (let i = 0; i < data.n; i++) data.y[i] = 1 - data.y[i]; // up is up
    buildGrid();
    root.dataset.fetchMs = (fetched - started).toFixed(0);
    status.textContent =
      data.n.toLocaleString() + " image" + (data.n === 1 ? "" : "s") + " · " + body.projection.toUpperCase() + " of their embeddings";
    resize();
    recolour();
    root.dataset.clustersReady = body.clusters_ready === false ? "false" : "true";
    if (body.clusters_ready === false) colourLater();
  }
  // a large library's first map comes before its clusters: ask for them until they are done
  async function colourLater() {
    const note = status.textContent;
    status.textContent = note + " · clusters are being computed…";
    for (;;) {
      await new Promise((done) => setTimeout(done, 2000));
      let body;
      try {
        const response = await fetch(root.dataset.api + "/clusters", { headers: { Accept: "application/json" } });
        body = await response.json();
        if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
      } catch (error) {
        status.textContent = note + " · clusters could not be loaded: " + error.message;
        return;
      }
      // the library changed since the map was drawn (its clusters are another generation's)
      if (body.generation !== data.generation || body.count !== data.n) return load();
      if (body.ready) {
        data.cluster = Int32Array.from(body.cluster);
        status.textContent = note;
        root.dataset.clustersReady = "true";
        recolour();
        return;
      }
    }
  }
  // for tests and benches: where point i is drawn, in CSS pixels of the canvas
  window.imgsearchMap = {
    count: () => (data ? data.n : 0),
    screenPoint: (i) => ({ id: data.ids[i], x: (ox + data.x[i] * scale) / dpr(), y: (oy + data.y[i] * scale) / dpr() }),
  };
  load();
})();

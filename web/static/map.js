/* The library map: every image a point of GET /api/v1/map (columns of numbers), drawn by
   map-view.js. Drag pans, the wheel and +/- zoom, hovering shows the thumbnail, a click opens
   the image page; from the keyboard (map-keys.js) the arrow keys go from point to point and
   Enter opens one. Colour by cluster or label (map-colour.js). An ES module: the template
   loads it with type="module". */
import { labelText, recolour } from "./map-colour.js";
import { installKeys } from "./map-keys.js";
import { createView, dpr } from "./map-view.js";

function main() {
  const root = document.getElementById("map");
  if (!root) return;
  const canvas = document.getElementById("map-canvas");
  const tip = document.getElementById("map-tip");
  const tipImg = tip.querySelector("img");
  const tipText = tip.querySelector("span");
  const status = document.getElementById("map-status");
  status.textContent = "Loading the map…"; // here, not in the page: without scripts it never would
  const legend = document.getElementById("map-legend");
  const colourBy = document.getElementById("map-colour");
  const view = createView(root, canvas);

  function colour() {
    recolour(view, colourBy.value, legend);
    view.schedule();
  }

  function showTip(i, clientX, clientY) {
    const data = view.data;
    if (i === view.hovered) return placeTip(clientX, clientY);
    view.hovered = i;
    canvas.classList.toggle("is-over-point", i >= 0);
    if (i < 0) {
      tip.hidden = true;
      view.schedule();
      return;
    }
    const id = data.ids[i];
    tipImg.hidden = false;
    // unversioned (revalidated): a version per point would make the answer 75 % larger
    tipImg.src = root.dataset.thumbUrl.replace("/0/", "/" + id + "/");
    const label = data.label[i] >= 0 ? labelText(data.labelNames[data.label[i]]) : "no label";
    const group = data.cluster[i] >= 0 ? "cluster " + (data.cluster[i] + 1) : "unclustered";
    tipText.textContent = "#" + id + " · " + label + " · " + group;
    tip.dataset.id = String(id);
    tip.hidden = false;
    placeTip(clientX, clientY);
    view.schedule();
  }

  // a file deleted (404) or changed (409) since indexing has no thumbnail: say so, never a
  // broken image (the image page says which, and what to run)
  const NO_PICTURE = "No picture (file missing or changed)";
  tipImg.addEventListener("error", () => {
    tipImg.hidden = true;
    if (!tipText.textContent.startsWith(NO_PICTURE)) {
      tipText.textContent = NO_PICTURE + " · " + tipText.textContent;
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

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, ox: view.ox, oy: view.oy, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!view.data) return;
    if (drag) {
      const ddx = e.clientX - drag.x;
      const ddy = e.clientY - drag.y;
      if (Math.abs(ddx) + Math.abs(ddy) > 4) drag.moved = true;
      if (drag.moved) {
        canvas.classList.add("is-dragging");
        view.ox = drag.ox + ddx * dpr();
        view.oy = drag.oy + ddy * dpr();
        tip.hidden = true;
        view.hovered = -1;
        view.schedule();
        return;
      }
    }
    showTip(view.nearest(e.clientX, e.clientY), e.clientX, e.clientY);
  });
  canvas.addEventListener("pointerup", (e) => {
    const wasDrag = drag && drag.moved;
    drag = null;
    canvas.classList.remove("is-dragging");
    if (wasDrag || !view.data) return;
    const i = view.nearest(e.clientX, e.clientY);
    if (i >= 0) window.location.href = root.dataset.imageUrl + view.data.ids[i];
  });
  canvas.addEventListener("pointerleave", () => {
    if (!drag) showTip(-1, 0, 0);
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      if (!view.data) return;
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      view.zoomAt(Math.exp(-e.deltaY * 0.0015), (e.clientX - rect.left) * dpr(), (e.clientY - rect.top) * dpr());
    },
    { passive: false },
  );
  installKeys(view, canvas, root, { show: showTip, text: () => tipText.textContent });

  const middle = (factor) => () => view.zoomAt(factor, canvas.width / 2, canvas.height / 2);
  document.getElementById("map-zoom-in").addEventListener("click", middle(1.6));
  document.getElementById("map-zoom-out").addEventListener("click", middle(1 / 1.6));
  document.getElementById("map-reset").addEventListener("click", view.resetView);
  colourBy.addEventListener("change", () => view.data && colour());
  new ResizeObserver(view.resize).observe(canvas);

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
    return body;
  }

  async function load() {
    const started = performance.now();
    let body;
    try {
      body = await getJson(root.dataset.api + "?projection=" + encodeURIComponent(root.dataset.projection));
    } catch (error) {
      status.textContent = "The map could not be loaded: " + error.message;
      root.dataset.error = "true";
      return;
    }
    const fetched = performance.now();
    const data = {
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
    view.setData(data);
    root.dataset.fetchMs = (fetched - started).toFixed(0);
    status.textContent =
      data.n.toLocaleString() + " image" + (data.n === 1 ? "" : "s") + " · " + body.projection.toUpperCase() + " of their embeddings";
    view.resize();
    colour();
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
        body = await getJson(root.dataset.api + "/clusters");
      } catch (error) {
        status.textContent = note + " · clusters could not be loaded: " + error.message;
        return;
      }
      // the library changed since the map was drawn (its clusters are another generation's)
      if (body.generation !== view.data.generation || body.count !== view.data.n) return load();
      if (body.ready) {
        view.data.cluster = Int32Array.from(body.cluster);
        status.textContent = note;
        root.dataset.clustersReady = "true";
        colour();
        return;
      }
    }
  }

  // for tests and benches: where point i is drawn, in CSS pixels of the canvas
  window.imgsearchMap = {
    count: () => (view.data ? view.data.n : 0),
    screenPoint: (i) => {
      const p = view.canvasPoint(i);
      return { id: view.data.ids[i], x: p.x / dpr(), y: p.y / dpr() };
    },
  };
  load();
}

main();

/* The library map's colours: by cluster or by label, the 19 largest groups get a colour, the
   rest one muted tone, noise / no label a light grey; grey points are drawn first, coloured
   ones on top. */
const PALETTE = [
  "#3d5afe", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#c0ca33", "#d81b60",
  "#6d4c41", "#1e88e5", "#fdd835", "#00897b", "#5e35b1", "#f4511e", "#7cb342", "#3949ab",
  "#ec407a", "#26a69a", "#ab47bc",
];
const OTHER = "#8a93a8";
const NONE = "#c9ced9";

function rgbaWord(hex) {
  const v = parseInt(hex.slice(1), 16);
  // ImageData is RGBA in memory; a Uint32Array view is little-endian on every browser host
  return (0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff);
}

export function rankGroups(values, names) {
  const counts = new Map();
  for (let i = 0; i < values.length; i++) {
    const g = values[i];
    if (g >= 0) counts.set(g, (counts.get(g) || 0) + 1);
  }
  // largest first; equal sizes by id (cluster 10 before 22: the API numbers them so)
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const colourOf = new Map();
  ranked.slice(0, PALETTE.length).forEach(([g], i) => colourOf.set(g, PALETTE[i]));
  return { ranked, colourOf, names };
}

export function labelText(name) {
  return String(name).replace(/_/g, " ");
}

function legendItem(colour, text) {
  const li = document.createElement("li");
  const dot = document.createElement("i");
  dot.style.background = colour;
  li.append(dot, document.createTextNode(text));
  return li;
}

// colour the view's points by "label" or "cluster" (view.colours, view.order) and fill the
// legend; the caller redraws
export function recolour(view, by, legend) {
  const data = view.data;
  const byLabel = by === "label";
  const values = byLabel ? data.label : data.cluster;
  const g = rankGroups(values, byLabel ? data.labelNames : null);
  const words = new Map([...g.colourOf].map(([k, c]) => [k, rgbaWord(c)]));
  const other = rgbaWord(OTHER);
  const none = rgbaWord(NONE);
  const colours = new Uint32Array(data.n);
  const rankOf = new Uint8Array(data.n);
  for (let i = 0; i < data.n; i++) {
    const v = values[i];
    const w = v < 0 ? none : words.get(v);
    colours[i] = w === undefined ? other : w;
    rankOf[i] = v < 0 ? 0 : w === undefined ? 1 : 2;
  }
  const order = new Uint32Array(data.n);
  let at = 0;
  for (let r = 0; r < 3; r++) for (let i = 0; i < data.n; i++) if (rankOf[i] === r) order[at++] = i;
  view.colours = colours;
  view.order = order;
  legend.replaceChildren();
  g.ranked.slice(0, PALETTE.length).forEach(([key, count]) => {
    const name = byLabel ? labelText(g.names[key]) : "cluster " + (key + 1);
    legend.append(legendItem(g.colourOf.get(key), name + " (" + count + ")"));
  });
  if (g.ranked.length > PALETTE.length) legend.append(legendItem(OTHER, "other " + (byLabel ? "labels" : "clusters")));
  legend.append(legendItem(NONE, byLabel ? "no label" : "unclustered"));
}

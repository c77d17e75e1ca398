/* Numbers as the pages write them, the same way as the server's templates (web/text.py):
   a score as a percentage with one decimal ("94.3%", "100%" from 99.95 up; halves round up,
   as there), a file size in binary units with one decimal, none when it is 0 ("32 MiB",
   "1.5 MiB", "10 B"). */

export function percent(score) {
  const value = Number(score);
  if (score == null || !Number.isFinite(value)) return "–";
  const tenths = Math.round(Math.max(Math.min(value, 1), -1) * 100 * 10);
  return tenths < 1000 ? `${(tenths / 10).toFixed(1)}%` : "100%";
}

// a copy score or a z as the CLI and the API's evidence write it (search.query.cut): cut to
// `digits` decimals, never rounded, so a value under a limit never reads as the limit (the
// product read at 12 significant digits first: 0.29 * 100 is 28.999999999999996)
export function cut(value, digits) {
  const scale = 10 ** digits;
  return (Math.floor(Number((Number(value) * scale).toPrecision(12))) / scale).toFixed(digits);
}

export function humanSize(n) {
  let value = Math.max(0, Number(n));
  let unit = "B";
  for (const next of ["KiB", "MiB", "GiB"]) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  if (unit === "B") return `${value.toFixed(0)} B`;
  const text = value.toFixed(1);
  return `${text.endsWith(".0") ? text.slice(0, -2) : text} ${unit}`;
}

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

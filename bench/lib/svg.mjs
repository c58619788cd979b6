// Charts as standalone SVG, drawn from measured numbers: grouped horizontal bar charts (one
// group per row, such as a path; one bar per series, such as a body size or a measure, each
// labelled with its value) and line charts (a measure over the course of a run).

const COLORS = ['#3b6fb6', '#e08a2e', '#4a9d5b', '#b0443c', '#7a5bb0', '#2a9d9d', '#8c6d31', '#777777'];
const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * `rows`: [{ label, values: [number|null per series] }]; `series`: [{ name, unit, digits }].
 * Each series is scaled to its own maximum, so series of different units can share a chart.
 */
export function barChart({ title, rows, series }) {
  const labelWidth = 350;
  const barWidth = 360;
  const barHeight = 14;
  const gap = 4;
  const groupGap = 14;
  const perLegendRow = 3;
  const legendRows = Math.ceil(series.length / perLegendRow);
  const top = 34 + legendRows * 16;
  const groupHeight = series.length * (barHeight + gap) + groupGap;
  const height = top + rows.length * groupHeight + 10;
  const width = labelWidth + barWidth + 120;
  const max = series.map((_, i) => Math.max(...rows.map((r) => r.values[i] ?? 0), 1e-9));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    ...series.map((s, i) => {
      const [x, y] = [10 + (i % perLegendRow) * 200, 28 + Math.floor(i / perLegendRow) * 16];
      return `<rect x="${x}" y="${y}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 14}" y="${y + 9}">${escape(s.name)}</text>`;
    }),
  ];
  rows.forEach((row, r) => {
    const y0 = top + r * groupHeight;
    out.push(`<text x="10" y="${y0 + (series.length * (barHeight + gap)) / 2 + 4}">${escape(row.label)}</text>`);
    series.forEach((s, i) => {
      const v = row.values[i];
      const y = y0 + i * (barHeight + gap);
      const w = v == null ? 0 : Math.max(1, (v / max[i]) * barWidth);
      out.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[i % COLORS.length]}"/>`);
      const text = v == null ? '—' : `${v.toFixed(s.digits ?? 0)} ${s.unit}`;
      out.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + barHeight - 3}">${escape(text)}</text>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * `series`: [{ name, points: [[x, y], ...] }], drawn as lines on shared axes from 0 to the
 * largest x and y; `xLabel` / `yLabel` name the axes.
 */
export function lineChart({ title, series, xLabel, yLabel }) {
  const [left, top, plotWidth, plotHeight] = [60, 50, 600, 260];
  const width = left + plotWidth + 30;
  const height = top + plotHeight + 50;
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(...all.map(([x]) => x), 1e-9);
  const maxY = niceCeil(Math.max(...all.map(([, y]) => y), 1e-9));
  const px = (x) => (left + (x / maxX) * plotWidth).toFixed(1);
  const py = (y) => (top + plotHeight - (y / maxY) * plotHeight).toFixed(1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    ...series.map((s, i) => `<rect x="${10 + i * 200}" y="28" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${24 + i * 200}" y="37">${escape(s.name)}</text>`),
  ];
  for (let i = 0; i <= 4; i++) {
    const y = (maxY * i) / 4;
    out.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${Number(py(y)) + 4}" text-anchor="end">${escape(y.toFixed(0))}</text>`);
  }
  out.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`);
  out.push(`<text x="${left + plotWidth / 2}" y="${height - 12}" text-anchor="middle">${escape(xLabel)}</text>`);
  out.push(`<text x="14" y="${top + plotHeight / 2}" transform="rotate(-90 14 ${top + plotHeight / 2})" text-anchor="middle">${escape(yLabel)}</text>`);
  series.forEach((s, i) => {
    const d = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${px(x)},${py(y)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** A round number at or above `v` for an axis's top (1, 2 or 5 times a power of ten). */
function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v);
}

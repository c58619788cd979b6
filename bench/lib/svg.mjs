// Grouped horizontal bar charts as standalone SVG, drawn from measured numbers: one group per
// row (a path), one bar per series (a body size, a measure), each bar labelled with its value.

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

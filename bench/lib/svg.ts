/**
 * A tiny horizontal bar chart in SVG (no dependency): rows of one or more bars (series), value labels,
 * a linear axis with round ticks, and optional vertical markers (targets, limits).
 */

export interface BarChart {
  title: string;
  /** Axis label, e.g. "records/s". */
  unit: string;
  /** Legend: one name per bar of a row. */
  series: string[];
  rows: { label: string; values: (number | null | undefined)[] }[];
  markers?: { value: number; label: string }[];
  format?: (v: number) => string;
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
}

function defaultFormat(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 10) return `${+v.toFixed(0)}`;
  return `${+v.toFixed(2)}`;
}

export function barChartSvg(c: BarChart): string {
  const fmt = c.format ?? defaultFormat;
  const width = 820;
  const labelW = 270;
  const right = 70;
  const plotW = width - labelW - right;
  const barH = 14;
  const rowGap = 10;
  const top = 52 + (c.series.length > 1 ? 18 : 0);
  const rowH = c.series.length * barH + rowGap;
  const height = top + c.rows.length * rowH + 40;
  const values = c.rows.flatMap((r) => r.values.filter((v): v is number => typeof v === 'number' && v > 0));
  const markers = c.markers ?? [];
  const max = Math.max(1e-9, ...values, ...markers.map((m) => m.value)) * 1.08;
  const step = niceStep(max, 5);
  const x = (v: number) => labelW + (Math.max(0, v) / max) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img">`,
    `<title>${esc(c.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`,
  );
  if (c.series.length > 1) {
    let lx = labelW;
    c.series.forEach((s, i) => {
      out.push(
        `<rect x="${lx}" y="32" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${lx + 14}" y="41">${esc(s)}</text>`,
      );
      lx += 24 + s.length * 7;
    });
  }
  const plotBottom = top + c.rows.length * rowH;
  for (let v = 0; v <= max; v += step) {
    const gx = x(v);
    out.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${plotBottom}" stroke="#e5e5e5"/>`,
      `<text x="${gx}" y="${plotBottom + 16}" text-anchor="middle" fill="#555">${esc(fmt(v))}</text>`,
    );
  }
  out.push(
    `<text x="${labelW + plotW / 2}" y="${plotBottom + 32}" text-anchor="middle" fill="#333">${esc(c.unit)}</text>`,
  );
  c.rows.forEach((r, ri) => {
    const y0 = top + ri * rowH;
    out.push(
      `<text x="${labelW - 8}" y="${y0 + (c.series.length * barH) / 2 + 4}" text-anchor="end">${esc(r.label)}</text>`,
    );
    r.values.forEach((v, si) => {
      const y = y0 + si * barH;
      if (typeof v !== 'number' || !Number.isFinite(v)) return;
      const w = Math.max(1, x(v) - labelW);
      out.push(
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[si % COLORS.length]}"/>`,
        `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 4}" fill="#222">${esc(fmt(v))}</text>`,
      );
    });
  });
  for (const m of markers) {
    const mx = x(m.value);
    out.push(
      `<line x1="${mx}" y1="${top - 6}" x2="${mx}" y2="${plotBottom}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${mx}" y="${top - 8}" text-anchor="middle" fill="#c00" font-size="11">${esc(m.label)}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

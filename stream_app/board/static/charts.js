"use strict";
// The board's charts as SVG the page draws itself: no library, nothing from the internet.
// Each chart is an <svg data-chart="..."> sized by its viewBox, so it scales with its card.
const SVG = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(host, name, width, height) {
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "data-chart": name });
  host.replaceChildren(svg);
  return svg;
}

function empty(host, name, message) {
  const svg = frame(host, name, 400, 40);
  svg.append(svgEl("text", { x: 8, y: 24, class: "muted" }, message));
}

function niceMax(values) {
  const top = Math.max(1, ...values.filter((v) => v !== null && v !== undefined));
  const step = 10 ** Math.floor(Math.log10(top));
  return Math.ceil(top / step) * step;
}

// Bars (one per label) and a line over them on the same scale: dials per hour and the pace.
function barsWithLine(host, name, labels, bars, line, legend, format, emptyText, partial, partialText) {
  const none = (vs) => vs.every((v) => v === null || v === undefined);
  if (!labels.length || (none(bars) && none(line))) return empty(host, name, emptyText);
  const max = niceMax([...bars, ...line]);
  const W = 520, H = 200, L = Math.max(30, textWidth(format(max)) + 8), B = 24, T = 18;
  const svg = frame(host, name, W, H);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const slot = (W - L - 8) / labels.length;
  svg.append(svgEl("line", { x1: L, y1: y(0), x2: W - 8, y2: y(0), class: "axis" }));
  svg.append(svgEl("text", { x: L - 4, y: y(max) + 4, class: "tick end" }, format(max)));
  svg.append(svgEl("text", { x: L - 4, y: y(0), class: "tick end" }, "0"));
  labels.forEach((label, i) => {
    const x = L + i * slot;
    const v = bars[i];
    if (v !== null && v !== undefined) {
      const part = partial && partial[i];
      const rect = svgEl("rect", { x: x + slot * 0.15, y: y(v), width: slot * 0.7, height: Math.max(y(0) - y(v), 0), class: part ? "bar partial" : "bar" });
      rect.append(svgEl("title", {}, `${label}: ${format(v)}${part ? ` (${partialText})` : ""}`));
      svg.append(rect);
    }
    // At most about 12 hour labels, so they never overlap.
    if (i % Math.ceil(labels.length / 12) === 0) svg.append(svgEl("text", { x: x + slot / 2, y: H - 6, class: "tick mid" }, label));
  });
  const points = line.map((v, i) => (v === null || v === undefined ? null : [L + i * slot + slot / 2, y(v)]));
  const path = points.filter((p) => p !== null).map((p, i) => `${i ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`).join("");
  if (path) svg.append(svgEl("path", { d: path, class: "pace" }));
  legendRow(svg, W, legend);
}

// Lines over labelled points (rates, 0 to 100%); a null is a gap.
function lines(host, name, labels, series, format, emptyText) {
  if (!labels.length || series.every((s) => s.values.every((v) => v === null))) return empty(host, name, emptyText);
  const W = 420, H = 170, L = Math.max(30, textWidth(format(1)) + 8), B = 24, T = 18;
  const svg = frame(host, name, W, H);
  const y = (v) => T + (H - T - B) * (1 - v);
  // Inset from both ends, so the first and last labels (centred on their points) fit.
  const x = (i) => L + 36 + (labels.length === 1 ? (W - L - 72) / 2 : (i * (W - L - 72)) / (labels.length - 1));
  for (const v of [0, 0.5, 1]) {
    svg.append(svgEl("line", { x1: L, y1: y(v), x2: W - 8, y2: y(v), class: v ? "grid" : "axis" }));
    svg.append(svgEl("text", { x: L - 4, y: y(v) + 4, class: "tick end" }, format(v)));
  }
  labels.forEach((label, i) => svg.append(svgEl("text", { x: x(i), y: H - 6, class: "tick mid" }, label)));
  series.forEach((s, k) => {
    let d = "", pen = "M";
    s.values.forEach((v, i) => {
      if (v === null) { pen = "M"; return; }
      d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = "L";
      const dot = svgEl("circle", { cx: x(i), cy: y(v), r: 3, class: `s${k}` });
      dot.append(svgEl("title", {}, `${s.name} ${labels[i]}: ${format(v)}`));
      svg.append(dot);
    });
    if (d) svg.append(svgEl("path", { d, class: `line s${k}` }));
  });
  legendRow(svg, W, series.map((s, k) => [s.name, `s${k}`]));
}

// Horizontal bars, one per row: a funnel, leads per band.
function hbars(host, name, rows, format, emptyText) {
  if (!rows.length || rows.every((r) => !r.value)) return empty(host, name, emptyText);
  const W = 420, row = 26, L = 120, R = 110;
  const svg = frame(host, name, W, rows.length * row + 6);
  const max = Math.max(1, ...rows.map((r) => r.value || 0));
  rows.forEach((r, i) => {
    const y0 = 4 + i * row;
    svg.append(svgEl("text", { x: L - 6, y: y0 + 16, class: "tick end" }, r.label));
    const w = ((W - L - R) * (r.value || 0)) / max;
    const rect = svgEl("rect", { x: L, y: y0 + 3, width: Math.max(w, 1), height: row - 8, class: `bar ${r.cls || ""}` });
    rect.append(svgEl("title", {}, `${r.label}: ${format(r.value || 0)}`));
    svg.append(rect);
    svg.append(svgEl("text", { x: L + w + 6, y: y0 + 16, class: "tick" }, format(r.value || 0) + (r.note ? `  ${r.note}` : "")));
  });
}

// One stacked bar per row: the parts of a whole (discovery fields by status).
function stacked(host, name, rows, legend, format, emptyText) {
  const total = (r) => r.parts.reduce((a, b) => a + b, 0);
  if (!rows.length || rows.every((r) => !total(r))) return empty(host, name, emptyText);
  const W = 420, row = 24, L = 110, T = 22;
  const svg = frame(host, name, W, rows.length * row + T + 4);
  legendRow(svg, W, legend.map((label, k) => [label, `p${k}`]));
  rows.forEach((r, i) => {
    const y0 = T + i * row, sum = total(r);
    svg.append(svgEl("text", { x: L - 6, y: y0 + 15, class: "tick end" }, r.label));
    let x = L;
    r.parts.forEach((v, k) => {
      const w = sum ? ((W - L - 8) * v) / sum : 0;
      if (w > 0) {
        const rect = svgEl("rect", { x, y: y0 + 3, width: w, height: row - 8, class: `p${k}` });
        rect.append(svgEl("title", {}, `${r.label} · ${legend[k]}: ${format(v)}`));
        svg.append(rect);
      }
      x += w;
    });
  });
}

function legendRow(svg, W, items) {
  let x = W - 8;
  for (const [label, cls] of [...items].reverse()) {
    const text = svgEl("text", { x, y: 11, class: "tick end legend" }, label);
    svg.append(text);
    x -= textWidth(label) + 12;
    svg.append(svgEl("rect", { x: x - 2, y: 3, width: 8, height: 8, class: `key ${cls}` }));
    x -= 14;
  }
}

// Roughly how wide a label is at the charts' 11 px: CJK characters are about twice as wide.
function textWidth(label) {
  return [...label].reduce((w, c) => w + (c.codePointAt(0) > 0x2e80 ? 11 : 6.5), 0);
}

/**
 * Charts as SVG strings, drawn in Node: a Vega-Lite spec is compiled to Vega and rendered by Vega's
 * headless SVG renderer (no canvas, no browser). {@link svgToPng} rasterises one with resvg.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One point of a line chart: `series` names the line (e.g. `train`, `valid`). */
export interface LinePoint {
  x: number;
  y: number;
  series: string;
}

/** One point of a scatter chart; `label` colours it when present. */
export interface ScatterPoint {
  x: number;
  y: number;
  label?: string;
}

/** One bar of a bar chart; `group` colours bars and places them side by side. */
export interface Bar {
  category: string;
  value: number;
  group?: string;
}

/** Size and titles shared by the charts. */
export interface ChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  width?: number;
  height?: number;
}

const CONFIG = {
  font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif',
  background: 'white',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 0 },
};

/** Colours of the usual splits. */
const SPLIT_COLORS: Record<string, string> = { train: '#4c78a8', valid: '#f58518', test: '#e45756' };

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: vgSpec } = compile(spec);
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function base(options: ChartOptions) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: options.width ?? 360,
    height: options.height ?? 200,
    config: CONFIG,
    ...(options.title ? { title: options.title } : {}),
  };
}

/** A line chart with one line (and a point per value) per series. */
export function lineChartSvg(points: LinePoint[], options: ChartOptions = {}): Promise<string> {
  const xs = new Set(points.map((p) => p.x));
  // A split keeps its colour from chart to chart, whichever splits a chart has.
  const series = [...new Set(points.map((p) => p.series))];
  const extra = ['#54a24b', '#b279a2', '#9d755d', '#eeca3b', '#72b7b2'];
  const range = series.map((s, i) => SPLIT_COLORS[s] ?? extra[i % extra.length]!);
  return renderSvg({
    ...base(options),
    data: { values: points },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: options.xTitle ?? 'epoch',
        // Whole epochs only: no "1.5" ticks on short runs.
        axis: { tickMinStep: 1, format: 'd', ...(xs.size <= 12 ? { values: [...xs].sort((a, b) => a - b) } : {}) },
        scale: { zero: false, nice: false },
      },
      y: { field: 'y', type: 'quantitative', title: options.yTitle ?? '', scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: series, range } },
    },
  } as TopLevelSpec);
}

/** A scatter chart; points are coloured by `label` when any point has one. */
export function scatterChartSvg(points: ScatterPoint[], options: ChartOptions = {}): Promise<string> {
  const labelled = points.some((p) => p.label !== undefined);
  return renderSvg({
    ...base({ width: 360, height: 300, ...options }),
    data: { values: points },
    mark: { type: 'circle', size: 22, opacity: 0.75, tooltip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xTitle ?? 'PC 1', scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: options.yTitle ?? 'PC 2', scale: { zero: false } },
      ...(labelled ? { color: { field: 'label', type: 'nominal', title: 'label', scale: { scheme: 'category10' } } } : {}),
    },
  } as TopLevelSpec);
}

/** A bar chart: one bar per category, or grouped bars side by side when bars have a `group`. */
export function barChartSvg(bars: Bar[], options: ChartOptions = {}): Promise<string> {
  const grouped = bars.some((b) => b.group !== undefined);
  return renderSvg({
    ...base(options),
    data: { values: bars },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'category', type: 'nominal', title: options.xTitle ?? '', sort: null, axis: { labelAngle: 0 } },
      y: { field: 'value', type: 'quantitative', title: options.yTitle ?? '' },
      ...(grouped ? { xOffset: { field: 'group', type: 'nominal', sort: null }, color: { field: 'group', type: 'nominal', title: null, sort: null } } : {}),
    },
  } as TopLevelSpec);
}

/**
 * Rasterises an SVG document to PNG with resvg (a Rust renderer shipped as npm binaries), scaled to
 * `width` pixels, on a white background. Loaded on demand so HTML reports never need the binary.
 */
export async function svgToPng(svg: string, width = 1200): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const png = new Resvg(svg, { fitTo: { mode: 'width', value: width }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } })
    .render()
    .asPng();
  return Buffer.from(png);
}

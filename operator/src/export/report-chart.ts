import type { TopLevelSpec } from 'vega-lite';

/** One bar of the funnel chart: a step of the pipeline and how many PRs or instances reached it. */
export interface FunnelStep {
  step: string;
  count: number;
}

/**
 * The funnel as a standalone SVG (horizontal bars, each labelled with its count), so report.md
 * shows it in any Markdown viewer, pandoc included. Vega-Lite compiles the chart and Vega
 * renders it headless (renderer 'none': no DOM, no canvas; text widths are estimated). The
 * only module that knows Vega, loaded on first use so other commands do not pay for it.
 */
export async function renderFunnelSvg(title: string, steps: readonly FunnelStep[]): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const spec: TopLevelSpec = {
    title: { text: title, anchor: 'start' },
    data: { values: steps.map((s) => ({ ...s })) },
    width: 420,
    height: { step: 26 },
    encoding: {
      y: { field: 'step', type: 'nominal', sort: null, title: null, axis: { labelLimit: 260 } },
      x: { field: 'count', type: 'quantitative', title: 'count', axis: { tickMinStep: 1, format: 'd' } },
    },
    layer: [
      { mark: { type: 'bar', color: '#4c78a8' } },
      {
        mark: { type: 'text', align: 'left', baseline: 'middle', dx: 4 },
        encoding: { text: { field: 'count' } },
      },
    ],
    config: { font: 'sans-serif', view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * A distribution of scores in [0, 1] as a standalone SVG: ten bins of width 0.1 (the last one
 * closed, so 1.0 has a bar of its own at 0.9–1.0), each bar labelled with its count.
 */
export async function renderScoreHistogramSvg(
  title: string,
  axisTitle: string,
  scores: readonly number[],
): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const spec: TopLevelSpec = {
    title: { text: title, anchor: 'start' },
    data: { values: scores.map((score) => ({ score })) },
    width: 420,
    height: 160,
    encoding: {
      x: {
        field: 'score',
        type: 'quantitative',
        bin: { extent: [0, 1], step: 0.1 },
        title: axisTitle,
        axis: { format: '.1f' },
      },
      y: {
        aggregate: 'count',
        type: 'quantitative',
        title: 'instances',
        axis: { tickMinStep: 1, format: 'd' },
      },
    },
    layer: [
      { mark: { type: 'bar', color: '#4c78a8' } },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -2 },
        encoding: { text: { aggregate: 'count', type: 'quantitative' } },
      },
    ],
    config: { font: 'sans-serif', view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

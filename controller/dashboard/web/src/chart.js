// A burn chart: spend over time against the limit, drawn by uPlot.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { html } from './html.js';

// `points`: [[unix seconds, spent]...]; `limit`: a number or null.
export function BurnChart({ points, limit, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = Math.min(box.current.clientWidth || 600, 900);
    plot.current = new uPlot({
      width,
      height: 200,
      title: label,
      scales: { x: { time: true } },
      series: [{}, { label: 'spent', stroke: '#3b6fd4', width: 2, fill: 'rgba(59,111,212,0.12)' },
               { label: 'limit', stroke: '#c0392b', dash: [6, 4] }],
      axes: [{}, { size: 60 }],
    }, [[], [], []], box.current);
    return () => plot.current.destroy();
  }, []);
  useEffect(() => {
    const xs = points.map((p) => p[0]);
    plot.current.setData([xs, points.map((p) => p[1]), xs.map(() => limit)]);
  }, [points, limit]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${label}></div>`;
}

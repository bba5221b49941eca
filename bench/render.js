// Rendering benchmark: the header/body inheritance example, compiled-template cache warm.
// Prints progress, then one JSON line. Run: npm run bench (builds first).
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { renderTemplate, clearTemplateCache } from '../dist/render.js';

const dir = fileURLToPath(new URL('../examples/templates/', import.meta.url));
const values = { day: '2026-11-23', rows: 5, team: 'finance', name: 'daily-report' };

clearTemplateCache();
let t0 = performance.now();
renderTemplate('body.yaml.njk', { templateDirs: [dir], values });
const firstRenderMs = performance.now() - t0;
console.error(`first render (compile + check): ${firstRenderMs.toFixed(2)} ms`);

for (let i = 0; i < 2000; i++) renderTemplate('body.yaml.njk', { templateDirs: [dir], values: { ...values, rows: i } });
const rounds = [];
for (let r = 0; r < 5; r++) {
  const n = 5000;
  t0 = performance.now();
  for (let i = 0; i < n; i++) renderTemplate('body.yaml.njk', { templateDirs: [dir], values: { ...values, rows: i } });
  const perSec = n / ((performance.now() - t0) / 1000);
  rounds.push(perSec);
  console.error(`round ${r + 1}: ${Math.round(perSec)} renders/s`);
}
rounds.sort((a, b) => a - b);
console.log(JSON.stringify({ rendersPerSecond: Math.round(rounds[2]), firstRenderMs: Number(firstRenderMs.toFixed(2)) }));

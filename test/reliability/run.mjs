#!/usr/bin/env node
// `npm run test:reliability [-- --quick] [-- --write-doc] [-- --only crash,cancel]`: the reliability
// suite on the local stack (docs/RELIABILITY.md). Builds the package, bundles the suite's workflows
// once (worker processes start without bundling), runs the jest project `reliability` in band, then
// aggregates the trial records (one JSON line per trial, test/reliability/lib.ts) into a table and, as
// the very last stdout line, the JSON object of "Measured reports":
//   {"trials": {"<kind>": {"runs": N, "failures": N}}, "duplicateJobs": N, "orphans": N,
//    "duplicateLogLines": N, "missingLogLines": N}
// Exits non-zero when any trial failed or any count is non-zero. Progress goes to stderr.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'write-doc': { type: 'boolean', default: false },
    only: { type: 'string' },
    results: { type: 'string' },
    // Only aggregate an existing results file (--results): e.g. the records of a run cut short.
    'aggregate-only': { type: 'boolean', default: false },
  },
});
const log = (s) => process.stderr.write(`[reliability] ${s}\n`);
const KINDS = ['crash', 'frozen', 'network', 'apiserver', 'temporal', 'cancel', 'two-workers', 'bad-input', 'load'];
const only = opt.only ? opt.only.split(',').map((s) => s.trim()) : KINDS;
for (const k of only) if (!KINDS.includes(k)) throw new Error(`unknown trial kind '${k}' (kinds: ${KINDS.join(', ')})`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-reliability-'));
const resultsFile = opt.results ?? path.join(work, 'results.jsonl');
const started = new Date();

if (opt['aggregate-only'] && !opt.results) throw new Error('--aggregate-only needs --results FILE');
const run = !opt['aggregate-only'];
if (run) log('building the package (npm run build)');
const build = run ? spawnSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: ['ignore', 2, 2] }) : { status: 0 };
if (build.status !== 0) process.exit(build.status ?? 1);

const bundleFile = path.join(work, 'workflow-bundle.js');
const { bundleWorkflowCode } = run ? await import('@temporalio/worker') : {};
if (run) log('bundling the suite\'s workflows once');
const { code } = !run ? { code: '' } : await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'test/reliability/workflows.mjs'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m) => log(m) } });
if (run) fs.writeFileSync(bundleFile, code);

if (run) log(`running ${opt.quick ? 'quick' : 'full'} trials: ${only.join(', ')}`);
const jest = !run ? { status: 0 } : spawnSync(
  process.execPath,
  ['--experimental-vm-modules', path.join(repoRoot, 'node_modules/jest/bin/jest.js'), '--selectProjects', 'reliability', '--runInBand', '--forceExit', ...only.map((k) => `test/reliability/${k}.test.ts`)],
  {
    cwd: repoRoot,
    stdio: ['ignore', 2, 2],
    env: {
      ...process.env,
      TKJ_RELIABILITY_RESULTS: resultsFile,
      TKJ_WORKFLOW_BUNDLE: bundleFile,
      ...(opt.quick ? { TKJ_RELIABILITY_QUICK: '1' } : {}),
    },
  },
);

const records = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const summary = { trials: {}, duplicateJobs: 0, orphans: 0, duplicateLogLines: 0, missingLogLines: 0 };
let wrongResults = 0;
for (const k of only) summary.trials[k] = { runs: 0, failures: 0 };
for (const r of records) {
  const t = (summary.trials[r.kind] ??= { runs: 0, failures: 0 });
  t.runs++;
  if (!r.ok) t.failures++;
  for (const c of ['duplicateJobs', 'orphans', 'duplicateLogLines', 'missingLogLines']) summary[c] += r[c] ?? 0;
  wrongResults += r.wrongResults ?? 0;
}

// Figures: cancel-to-gone latencies (ms) and load throughput, as distributions.
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : null;
};
const figures = {};
for (const r of records) for (const [k, v] of Object.entries(r.figures ?? {})) (figures[`${r.kind}.${k}`] ??= []).push(v);
const figureLines = Object.entries(figures).map(([k, xs]) => `| ${k} | ${xs.length} | ${pct(xs, 50)} | ${pct(xs, 95)} | ${Math.max(...xs)} |`);

const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
const table = [
  `Run: ${opt.quick ? 'quick' : 'full'}, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit || 'unknown'}, ${Math.round((Date.now() - started.getTime()) / 60000)} min.`,
  '',
  '| kind | runs | failures |',
  '|---|---|---|',
  ...Object.entries(summary.trials).map(([k, t]) => `| ${k} | ${t.runs} | ${t.failures} |`),
  '',
  `Duplicate Jobs: ${summary.duplicateJobs}. Orphans: ${summary.orphans}. Duplicated log lines: ${summary.duplicateLogLines}. Missing log lines: ${summary.missingLogLines}. Wrong results: ${wrongResults}.`,
  ...(figureLines.length ? ['', '| figure | n | median | p95 | max |', '|---|---|---|---|---|', ...figureLines] : []),
];
const failed = records.filter((r) => !r.ok);
if (failed.length) {
  table.push('', 'Failed trials:', '');
  for (const r of failed) {
    const counts = ['duplicateJobs', 'orphans', 'duplicateLogLines', 'missingLogLines', 'wrongResults'].filter((c) => r[c]).map((c) => `${c}=${r[c]}`);
    table.push(`- ${r.kind}: ${r.name}: ${[...counts, r.error ? r.error.split('\n')[0].slice(0, 300) : ''].filter(Boolean).join(', ')}`);
  }
}
process.stderr.write(`\n${table.join('\n')}\n\n`);

if (opt['write-doc']) {
  const doc = path.join(repoRoot, 'docs/RELIABILITY.md');
  const begin = `<!-- reliability:${opt.quick ? 'quick' : 'full'}:begin (generated by npm run test:reliability -- --write-doc) -->`;
  const end = `<!-- reliability:${opt.quick ? 'quick' : 'full'}:end -->`;
  const section = `${begin}\n${table.join('\n')}\n\n\`\`\`json\n${JSON.stringify(summary)}\n\`\`\`\n${end}`;
  let text = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '# Reliability\n';
  const re = new RegExp(`${begin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\\s\\S]*?${end.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  text = re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(doc, text);
  log(`wrote the table into ${path.relative(repoRoot, doc)}`);
}

fs.rmSync(work, { recursive: true, force: true });
const bad =
  jest.status !== 0 ||
  records.length === 0 ||
  Object.values(summary.trials).some((t) => t.failures > 0 || t.runs === 0) ||
  summary.duplicateJobs + summary.orphans + summary.duplicateLogLines + summary.missingLogLines > 0;
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(bad ? 1 : 0);

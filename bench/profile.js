// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per origin
// (this package, @kubernetes/client-node, @temporalio, other dependencies, Node internals, GC, idle).
import * as fs from 'node:fs';

function origin(url, fn) {
  if (!url) return fn === '(garbage collector)' ? 'GC' : fn === '(idle)' ? 'idle' : fn === '(program)' ? 'program (native, incl. Temporal core)' : 'native';
  if (/node_modules\/@kubernetes\//.test(url)) return '@kubernetes/client-node';
  if (/node_modules\/@temporalio\//.test(url)) return '@temporalio (JS side)';
  if (/node_modules\//.test(url)) return `dependency ${/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)[1]}`;
  if (url.startsWith('node:')) return 'Node internals';
  if (/\/dist\//.test(url)) return 'temporal-k8s-jobs (dist/)';
  return 'other';
}

/** Top `n` functions by self time and the self time per origin, in ms and % of sampled time. */
export function summariseProfile(file, n = 15) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const selfUs = new Map();
  const dts = prof.timeDeltas ?? [];
  prof.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (dts[i] ?? 0)));
  const fns = new Map();
  const origins = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    const cf = node.callFrame;
    const name = cf.functionName || '(anonymous)';
    const where = cf.url ? `${cf.url.replace(/^.*?(node_modules\/|dist\/|node:)/, '$1')}:${cf.lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
    const o = origin(cf.url, cf.functionName);
    origins.set(o, (origins.get(o) ?? 0) + us);
    total += us;
  }
  const busy = total - (origins.get('idle') ?? 0);
  const top = [...fns].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, n);
  return {
    sampledMs: total / 1000,
    busyMs: busy / 1000,
    top: top.map(([fn, us]) => ({ fn, ms: us / 1000, pctOfBusy: (100 * us) / busy })),
    origins: [...origins].sort((a, b) => b[1] - a[1]).map(([o, us]) => ({ origin: o, ms: us / 1000, pctOfBusy: o === 'idle' ? null : (100 * us) / busy })),
  };
}

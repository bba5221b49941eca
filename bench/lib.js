// Helpers of the benchmark: the local stack, processes (/proc), statistics. Node built-ins only.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (...a) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

/**
 * Brings the local stack up (or reuses it: test/stack/up.sh is a no-op on a healthy stack) and
 * returns its env file's settings. STACK_DIR and STACK_PORT_OFFSET are honoured as by the tests.
 */
export function stackUp() {
  execFileSync('bash', [path.join(REPO, 'test/stack/up.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const envFile = path.join(process.env.STACK_DIR || path.join(REPO, '.stack'), 'env');
  const names = ['KUBECONFIG', 'TEMPORAL_ADDRESS', 'STACK_CA_FILE', 'STACK_KWOK_URL', 'STACK_BIN'];
  // The env file is shell (`export K='v'`): let the shell read it.
  const out = execFileSync('bash', ['-c', `. "$1" && printf '%s\\n' ${names.map((n) => `"$${n}"`).join(' ')}`, '_', envFile], { encoding: 'utf8' });
  const values = out.split('\n');
  const env = Object.fromEntries(names.map((n, i) => [n, values[i]]));
  const pki = path.dirname(env.STACK_CA_FILE);
  return {
    kubeconfig: env.KUBECONFIG,
    temporalAddress: env.TEMPORAL_ADDRESS,
    kwokPort: Number(new URL(env.STACK_KWOK_URL).port),
    ca: fs.readFileSync(env.STACK_CA_FILE),
    serving: { cert: fs.readFileSync(path.join(pki, 'apiserver.crt')), key: fs.readFileSync(path.join(pki, 'apiserver.key')) },
    admin: { cert: fs.readFileSync(path.join(pki, 'admin.crt')), key: fs.readFileSync(path.join(pki, 'admin.key')) },
  };
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/** CPU time (user + system, ms, all threads) and memory (MB) of a process, from /proc. */
export function procStats(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime (fields 14, 15)
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { cpuMs, rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, threads: kb('Threads') };
}

/** Starts `node args...`; resolves once a stdout line matches `ready` (rejects if it exits first). */
export function startNode(args, { ready, env, logFile }) {
  const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = fs.createWriteStream(logFile);
  child.stderr.pipe(out);
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (b) => {
      out.write(b);
      buf += b.toString();
      if (ready.test(buf)) {
        child.stdout.off('data', onData);
        child.stdout.on('data', (d) => out.write(d));
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited early (${code}); log: ${logFile}`)));
  });
}

/** Sends SIGINT and waits for the exit (then SIGKILL after `ms`). */
export async function stopChild(child, ms = 30_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  const t = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(t);
}

/** Runs `fn(i)` for i in [0, n) with at most `parallel` at once; resolves with the results in order. */
export async function pool(n, parallel, fn) {
  const out = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, parallel) }, lane));
  return out;
}

// ---------------------------------------------------------------- statistics

/** Nearest-rank percentile of numbers (p in 0..100); null for none. */
export function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Summary of a sample: n, min, p25, p50, p75, p90, p99, max, mean. */
export function summary(xs) {
  if (!xs.length) return { n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { n: xs.length, min: percentile(xs, 0), p25: percentile(xs, 25), p50: percentile(xs, 50), p75: percentile(xs, 75), p90: percentile(xs, 90), p99: percentile(xs, 99), max: percentile(xs, 100), mean };
}

/** Rounds for printing: 0 decimals from 100 up, 1 from 10, else 2 (null stays null). */
export function round(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return null;
  const a = Math.abs(x);
  return Number(x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2));
}

/** "p50 X (p25-p75 A-B, min-max C-D, n N)" */
export function fmtSummary(s, unit = '') {
  if (!s?.n) return 'n/a';
  return `p50 ${round(s.p50)}${unit}, p99 ${round(s.p99)}${unit} (p25-p75 ${round(s.p25)}-${round(s.p75)}, min-max ${round(s.min)}-${round(s.max)}, n=${s.n})`;
}

/** Reads a JSON-lines file (missing: []). */
export function readJsonLines(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** One counter of a Prometheus text exposition, summed over the series whose labels include `labels`. */
export async function scrapeCounter(url, name, labels = {}) {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+([0-9.eE+-]+)/.exec(line);
    if (!m || (m[1] !== name && m[1] !== `${name}_total`)) continue;
    const ls = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

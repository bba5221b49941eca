#!/usr/bin/env node
// The local stack's pod log writer (started by up.sh, stopped by down.sh). Node built-ins only.
//
// kwok serves pod logs from CRI files mapped by ClusterLogs/Logs objects; a pod with no mapping
// answers `no logs found`. This process watches every pod and:
// - a pod with the annotation `kwok.temporal-k8s-jobs/logs` (lines separated by newlines) gets its
//   own file (for its containers; init containers get an empty log) and a `Logs` object (named
//   like the pod, owned by it, so the garbage collector removes it with the pod). The lines are
//   appended with real timestamps while the pod runs, spread over its
//   `kwok.temporal-k8s-jobs/duration`: line i of n at start + i * duration / n. A pod seen
//   already finished gets its remaining lines at once.
//   With `kwok.temporal-k8s-jobs/restarts: N` (see kwok-stages.yaml) this process times N crashes:
//   `duration` after an instance started, its remaining lines are written, its file becomes the
//   previous log (`previousLogsFile`, served for previous=true), the current log starts empty, and
//   only then the pod's `kwok.temporal-k8s-jobs/crashed` annotation is set to the new restart count,
//   which kwok applies (so, as with a kubelet, the status shows the restart once the logs moved).
//   Every instance writes the lines again, `{restart}` in a line replaced by its restart count.
// - any other pod whose namespace has no ClusterLogs (test namespaces register one, see
//   test/helpers/stack.ts) gets a `Logs` object pointing at an empty file, so it answers an empty log.
// A `Logs` object that already exists for a pod (a test's pod-specific log) is left alone: tests win.
//
// Usage: node log-writer.mjs --server URL --ca FILE --cert FILE --key FILE --dir POD_LOGS_DIR
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    server: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    dir: { type: 'string' },
  },
});
for (const k of ['server', 'ca', 'cert', 'key', 'dir']) {
  if (!opt[k]) {
    console.error(`log-writer: --${k} is required`);
    process.exit(2);
  }
}

const LOGS_ANNOTATION = 'kwok.temporal-k8s-jobs/logs';
const DURATION_ANNOTATION = 'kwok.temporal-k8s-jobs/duration';
const RESTARTS_ANNOTATION = 'kwok.temporal-k8s-jobs/restarts';
const CRASHED_ANNOTATION = 'kwok.temporal-k8s-jobs/crashed';
const OWNER_LABEL = 'temporal-k8s-jobs/log-writer';
const server = new URL(opt.server);
const agent = new https.Agent({
  keepAlive: true,
  ca: fs.readFileSync(opt.ca),
  cert: fs.readFileSync(opt.cert),
  key: fs.readFileSync(opt.key),
});
const baseDir = path.join(opt.dir, '_writer');
const emptyFile = path.join(baseDir, '_empty.log');
fs.mkdirSync(baseDir, { recursive: true });
fs.writeFileSync(emptyFile, '');

const log = (...a) => console.log(new Date().toISOString(), ...a);

/** One API request; resolves with {status, body} (body JSON-parsed when possible). */
function request(method, urlPath, body, contentType = 'application/json') {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      { host: server.hostname, port: server.port, path: urlPath, method, agent, timeout: 30_000, headers: { Accept: 'application/json', ...(data ? { 'Content-Type': contentType } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON: keep the text for the error message */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** Go duration ("1m30s", "500ms", "5s") in ms; 0 when absent or unparsable. */
function parseGoDuration(s) {
  if (!s) return 0;
  const unit = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  let total = 0;
  let rest = String(s).trim();
  if (!rest) return 0;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/.exec(rest);
    if (!m) return 0;
    total += Number(m[1]) * unit[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** RFC3339 with 9 fractional digits, from ns since the epoch. */
function rfc3339Nano(ns) {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

// ------------------------------------------------------------------ per-pod state

/** key ns/name -> { uid, file, lines, written, lastNs, timer, startedMs, durationMs, instance } */
const pods = new Map();
/** Namespaces known to have a ClusterLogs (then their unannotated pods are the tests' business). */
const coveredNamespaces = new Set();

function podFile(pod) {
  return path.join(baseDir, pod.metadata.namespace, `${pod.metadata.name}-${pod.metadata.uid.slice(0, 8)}.log`);
}

function linesOf(pod) {
  const text = pod.metadata.annotations?.[LOGS_ANNOTATION];
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop(); // a final newline ends the last line
  return lines;
}

/** Appends the lines due by now (all of them when `all`), with real, strictly increasing timestamps. */
function writeDue(state, all) {
  const n = state.lines.length;
  const elapsed = Date.now() - state.startedMs;
  let due = n;
  if (!all && state.durationMs > 0) due = Math.min(n, Math.floor((elapsed * n) / state.durationMs) + 1);
  let out = '';
  while (state.written < due) {
    let ns = BigInt(Date.now()) * 1_000_000n;
    if (ns <= state.lastNs) ns = state.lastNs + 1n;
    state.lastNs = ns;
    out += `${rfc3339Nano(ns)} stdout F ${state.lines[state.written].replaceAll('{restart}', String(state.instance))}\n`;
    state.written++;
  }
  if (out) fs.appendFileSync(state.file, out);
  clearTimeout(state.timer);
  state.timer = undefined;
  if (state.written < n) {
    const nextAt = state.startedMs + (state.written * state.durationMs) / n;
    state.timer = setTimeout(() => writeDue(state, false), Math.max(0, nextAt - Date.now()));
  }
}

/** Restarts the pod asks for (kwok.temporal-k8s-jobs/restarts). */
const restartsOf = (pod) => Number(pod.metadata.annotations?.[RESTARTS_ANNOTATION] ?? 0) || 0;

/**
 * The instance ends: its remaining lines are written, its log becomes the previous one, the current
 * log starts empty; then the crash is announced to kwok (the pod-restart stage applies it).
 */
async function crash(state, pod) {
  if (pods.get(`${pod.metadata.namespace}/${pod.metadata.name}`) !== state) return; // deleted meanwhile
  writeDue(state, true);
  fs.renameSync(state.file, `${state.file}.previous`);
  fs.writeFileSync(state.file, '');
  const { namespace, name } = pod.metadata;
  const body = { metadata: { annotations: { [CRASHED_ANNOTATION]: String(state.instance + 1) } } };
  const res = await request('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}`, body, 'application/merge-patch+json');
  if (res.status !== 200 && res.status !== 404) throw new Error(`announcing the crash of ${namespace}/${name}: HTTP ${res.status}`);
}

/** Restart count of the pod's first container (kwok restarts them all together). */
const restartCountOf = (pod) => Number(pod.status?.containerStatuses?.[0]?.restartCount ?? 0);

/** Creates the pod's Logs object unless one exists (a test's, or ours from before a restart). */
async function ensureLogsObject(pod, file) {
  const { namespace, name, uid } = pod.metadata;
  // The lines go to the app containers; init containers get an empty log.
  const containers = (pod.spec?.containers ?? []).map((c) => c.name);
  const restarts = pod.metadata.annotations?.[RESTARTS_ANNOTATION] !== undefined;
  const logs = file === emptyFile ? [{ logsFile: emptyFile }] : [{ containers, logsFile: file, ...(restarts ? { previousLogsFile: `${file}.previous` } : {}) }, { logsFile: emptyFile }];
  const body = {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Logs',
    metadata: {
      name,
      namespace,
      labels: { [OWNER_LABEL]: 'true' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid }],
    },
    spec: { logs },
  };
  const base = `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${namespace}/logs`;
  const res = await request('POST', base, body);
  if (res.status === 201 || res.status === 200) return;
  if (res.status === 409) {
    // Ours for an earlier pod of the same name (a bare pod re-created): point it at this pod.
    const cur = await request('GET', `${base}/${name}`);
    const owner = cur.body?.metadata?.ownerReferences?.[0];
    if (cur.status === 200 && cur.body.metadata.labels?.[OWNER_LABEL] === 'true' && owner?.uid !== uid) {
      body.metadata.resourceVersion = cur.body.metadata.resourceVersion;
      await request('PUT', `${base}/${name}`, body);
    }
    return;
  }
  if (res.status === 404 || res.status === 403) return; // namespace going away
  throw new Error(`creating Logs ${namespace}/${name}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
}

async function namespaceCovered(ns) {
  if (coveredNamespaces.has(ns)) return true;
  const res = await request('GET', '/apis/kwok.x-k8s.io/v1alpha1/clusterlogs');
  if (res.status !== 200) throw new Error(`listing ClusterLogs: HTTP ${res.status}`);
  for (const cl of res.body.items ?? []) {
    const sel = cl.spec?.selector;
    const names = sel?.matchNamespaces ?? [];
    // Only a ClusterLogs with a default entry answers every container of every pod.
    const hasDefault = (cl.spec?.logs ?? []).some((l) => !l.containers?.length);
    if (!hasDefault || sel?.matchNames?.length) continue;
    if (names.length === 0) return true;
    for (const n of names) coveredNamespaces.add(n);
  }
  return coveredNamespaces.has(ns);
}

async function onPod(type, pod) {
  const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
  let state = pods.get(key);
  if (state && state.uid !== pod.metadata.uid) {
    clearTimeout(state.timer);
    clearTimeout(state.crashTimer);
    pods.delete(key);
    state = undefined;
  }
  if (type === 'DELETED') {
    if (state) {
      clearTimeout(state.timer);
      clearTimeout(state.crashTimer);
      pods.delete(key);
      if (state.file !== emptyFile) for (const f of [state.file, `${state.file}.previous`]) fs.rmSync(f, { force: true });
    }
    return;
  }
  if (!state) {
    const lines = linesOf(pod);
    const instance = restartCountOf(pod);
    state = { uid: pod.metadata.uid, lines, written: 0, lastNs: 0n, timer: undefined, startedMs: undefined, durationMs: 0, file: emptyFile, instance };
    pods.set(key, state);
    if (lines) {
      state.file = podFile(pod);
      fs.mkdirSync(path.dirname(state.file), { recursive: true });
      // After a restart of this process: continue after the lines already written.
      const existing = fs.existsSync(state.file) ? fs.readFileSync(state.file, 'utf8') : '';
      if (!existing) fs.writeFileSync(state.file, '');
      state.written = existing ? existing.split('\n').length - 1 : 0;
      await ensureLogsObject(pod, state.file);
    } else if (!(await namespaceCovered(pod.metadata.namespace))) {
      await ensureLogsObject(pod, emptyFile);
    }
  }
  if (restartCountOf(pod) > state.instance) {
    // kwok applied the crash (see crash()): a new instance runs.
    state.instance = restartCountOf(pod);
    state.written = 0;
    state.startedMs = undefined;
  }
  if (!state.lines) return;
  const phase = pod.status?.phase;
  if (phase === 'Running' && state.startedMs === undefined && state.instance < restartsOf(pod)) {
    clearTimeout(state.crashTimer);
    state.crashTimer = setTimeout(() => enqueueTask(() => crash(state, pod)), parseGoDuration(pod.metadata.annotations?.[DURATION_ANNOTATION]));
  }
  if (state.written >= state.lines.length) return;
  if (phase === 'Succeeded' || phase === 'Failed') {
    writeDue(state, true);
  } else if (phase === 'Running' && state.startedMs === undefined) {
    // Running since (second resolution in the status): now, unless this process came up late.
    const startedAt = Date.parse(pod.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? '');
    state.startedMs = Number.isFinite(startedAt) && Date.now() - startedAt > 2000 ? startedAt : Date.now();
    state.durationMs = parseGoDuration(pod.metadata.annotations?.[DURATION_ANNOTATION]);
    writeDue(state, false);
  }
}

// ------------------------------------------------------------------ list + watch

/** Events are handled one at a time, in order (per-pod state is updated by awaited API calls). */
let queue = Promise.resolve();
function enqueue(type, pod) {
  enqueueTask(() => onPod(type, pod), `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`);
}
function enqueueTask(task, what = 'task') {
  queue = queue.then(task).catch((e) => log(`${what}: ${e.message}`));
}

async function list() {
  const res = await request('GET', '/api/v1/pods');
  if (res.status !== 200) throw new Error(`listing pods: HTTP ${res.status}`);
  const seen = new Set();
  for (const pod of res.body.items) {
    seen.add(`${pod.metadata.namespace}/${pod.metadata.name}`);
    enqueue('ADDED', pod);
  }
  for (const [key, state] of pods) if (!seen.has(key)) enqueue('DELETED', { metadata: { namespace: key.split('/')[0], name: key.split('/')[1], uid: state.uid } });
  return res.body.metadata.resourceVersion;
}

/** Watches from `rv` until the stream ends; resolves with the last resourceVersion, or undefined to relist. */
function watch(rv) {
  return new Promise((resolve) => {
    let last = rv;
    let buf = '';
    let gone = false;
    const req = https.request(
      {
        host: server.hostname,
        port: server.port,
        path: `/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(rv)}`,
        agent,
        headers: { Accept: 'application/json' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return resolve(undefined);
        }
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          buf += chunk;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            const ev = JSON.parse(line);
            if (ev.type === 'ERROR') {
              gone = true; // 410 Gone (or another error): relist
              continue;
            }
            last = ev.object.metadata.resourceVersion;
            if (ev.type !== 'BOOKMARK') enqueue(ev.type, ev.object);
          }
        });
        res.on('end', () => resolve(gone ? undefined : last));
        res.on('error', () => resolve(gone ? undefined : last));
      },
    );
    req.on('error', () => resolve(last));
    req.end();
  });
}

async function main() {
  let rv;
  let ready = false;
  for (;;) {
    try {
      if (rv === undefined) rv = await list();
      if (!ready) {
        // up.sh waits for this file: from now on every new pod is seen.
        fs.writeFileSync(path.join(baseDir, '.ready'), `${process.pid}\n`);
        ready = true;
        log('watching pods');
      }
      const next = await watch(rv);
      if (next === rv || next === undefined) await new Promise((r) => setTimeout(r, 200));
      rv = next;
    } catch (e) {
      log(`error: ${e.message}; retrying`);
      rv = undefined;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
main();

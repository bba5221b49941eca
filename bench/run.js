// `npm run bench` (`-- --quick` for a CI-sized run of a few minutes): the package's performance on the
// local stack (test/stack/up.sh; reused when it is up), measured in one run, side by side. Prints
// progress and figures, writes docs/PERFORMANCE.md, and its last line is the JSON object of
// DESIGN.md "Measured reports". How each figure is taken: see the header of docs/PERFORMANCE.md,
// written from bench/report.js.
//
// Options: --quick; --smoke (a check of the harness itself, a minute or two; writes no doc); --only PHASES (comma list of render,requests,detection,concurrency,dag,breakpoint);
// --concurrency N (Jobs of the concurrency run); --no-doc (do not write docs/PERFORMANCE.md);
// --no-breakpoint (full mode without the 2,000/5,000/10,000 search).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { CountingProxy, proxyKubeconfig } from './counting-proxy.js';
import { runPolledJob } from './poller.js';
import { summariseProfile } from './profile.js';
import { writeReport } from './report.js';
import { REPO, fmtSummary, freePort, log, pool, procStats, readJsonLines, round, scrapeCounter, sleep, stackUp, startNode, stopChild, summary } from './lib.js';

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    smoke: { type: 'boolean' },
    only: { type: 'string' },
    concurrency: { type: 'string' },
    'no-doc': { type: 'boolean' },
    'no-breakpoint': { type: 'boolean' },
  },
});
const MODE = opt.smoke ? 'smoke' : opt.quick ? 'quick' : 'full';
const CONFIG = {
  smoke: { cells: [5, 12], perCell: 2, detectionJobs: 6, detectionParallel: 3, concurrency: 5, concurrencySeconds: 15, dagItems: 3, breakPoint: [], profile: true },
  quick: { cells: [10, 60], perCell: 10, detectionJobs: 60, detectionParallel: 20, concurrency: 100, concurrencySeconds: 30, dagItems: 20, breakPoint: [], profile: false },
  full: { cells: [10, 300], perCell: 10, detectionJobs: 200, detectionParallel: 20, concurrency: 1000, concurrencySeconds: 180, dagItems: 1000, breakPoint: [2000, 5000, 10000], profile: true },
}[MODE];
if (opt.concurrency) CONFIG.concurrency = Number(opt.concurrency);
if (opt['no-breakpoint']) CONFIG.breakPoint = [];
const PHASES = new Set((opt.only ?? 'render,requests,detection,concurrency,dag,breakpoint').split(','));

const RUN_ID = randomBytes(3).toString('hex');
const RUN_LABEL = 'bench.temporal-k8s-jobs/run';
const LOG_LINES = 20;
const POD_LINES = Array.from({ length: LOG_LINES }, (_, i) => `bench log line ${i + 1} of ${LOG_LINES}`).join('\n');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), `tkj-bench-${RUN_ID}-`));
const results = { mode: MODE, date: new Date().toISOString(), commit: gitCommit(), machine: machine(), config: CONFIG, phases: [...PHASES] };

function gitCommit() {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bench'], { cwd: REPO, encoding: 'utf8' }).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

function machine() {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', memGb: round(os.totalmem() / 2 ** 30), node: process.version, loadavg: os.loadavg().map(round) };
}

// ---------------------------------------------------------------- stack, namespace, clients
log(`mode ${MODE}; run ${RUN_ID}; scratch dir ${TMP}`);
const stack = PHASES.size === 1 && PHASES.has('render') ? undefined : stackUp();
let kc, core, temporal, ns, observer;
const observed = new Map(); // name -> {active, complete, failed, relist}
const workers = [];
const proxies = [];

async function setup() {
  kc = new KubeConfig();
  kc.loadFromFile(stack.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
  ns = `bench-${RUN_ID}`;
  await core.createNamespace({ body: { metadata: { name: ns, labels: { [RUN_LABEL]: RUN_ID } } } });
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: ns });
      break;
    } catch {
      await sleep(100); // the controller creates it within a second
    }
  }
  temporal = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
  observer = await startNode(['bench/observer.js', '--kubeconfig', stack.kubeconfig, '--selector', `${RUN_LABEL}=${RUN_ID}`], { ready: /"type":"ready"/, logFile: path.join(TMP, 'observer.log') });
  let buf = '';
  const onLine = (l) => {
    if (!l) return;
    const e = JSON.parse(l);
    if (!e.name) return;
    const o = observed.get(e.name) ?? {};
    o[e.type] = e.t;
    if (e.relist) o.relist = true;
    observed.set(e.name, o);
  };
  observer.stdout.on('data', (b) => {
    buf += b.toString();
    const lines = buf.split('\n');
    buf = lines.pop();
    lines.forEach(onLine);
  });
}

/** Prints what each proxy has open (diagnosing a stuck Job; also on SIGUSR2). */
function dumpOpen() {
  for (const p of proxies) for (const r of p.open) log(`  open on proxy ${p.name}: ${r.method} ${r.path} (${Math.round((Date.now() - r.at) / 1000)} s, ${r.status ?? 'no answer yet'})`);
}
process.on('SIGUSR2', dumpOpen);

async function newProxy(name) {
  const p = await CountingProxy.start({ upstream: kc.getCurrentCluster().server, ca: stack.ca, cert: stack.serving.cert, key: stack.serving.key, upstreamClientCert: stack.admin });
  p.name = name;
  proxies.push(p);
  return p;
}

/**
 * A worker process (bench/worker.js: the package's CLI worker) reaching the API server through its
 * own counting proxy, on its own task queue.
 */
async function startWorker(name, { maxConcurrent, cpuProf = false }) {
  const proxy = await newProxy(name);
  const kubeconfig = path.join(TMP, `${name}.kubeconfig`);
  fs.writeFileSync(kubeconfig, proxyKubeconfig(proxy.url, stack.ca, `bench-${name}`, ns), { mode: 0o600 });
  const events = path.join(TMP, `${name}.events.jsonl`);
  const metricsPort = await freePort();
  const taskQueue = `bench-${RUN_ID}-${name}`;
  const profDir = path.join(TMP, `${name}-prof`);
  const args = [
    ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    'bench/worker.js', '--events', events, '--metrics', `127.0.0.1:${metricsPort}`, '--',
    '--task-queue', taskQueue, '--kubeconfig', kubeconfig, '--namespace', ns, '--address', stack.temporalAddress, '--max-concurrent', String(maxConcurrent),
  ];
  const child = await startNode(args, { ready: /worker ready/, logFile: path.join(TMP, `${name}.log`) });
  const w = {
    name, proxy, taskQueue, events, child, pid: child.pid, profDir,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    heartbeats: () => scrapeCounter(w.metricsUrl, 'temporal_request', { operation: 'RecordActivityTaskHeartbeat' }),
    returns: () => new Map(readJsonLines(events).filter((e) => e.activityType === 'kubernetesJobsRunJob' && e.message === 'Activity completed').map((e) => [e.workflowId, e.t])),
    stop: async () => {
      await stopChild(child);
      workers.splice(workers.indexOf(w), 1);
    },
  };
  workers.push(w);
  return w;
}

/** The activity input of one benchmark Job. */
function jobInput(name, { seconds, mode = 'end', lines = true }) {
  const podAnnotations = {};
  if (seconds > 0) podAnnotations['kwok.temporal-k8s-jobs/duration'] = `${seconds}s`;
  if (lines) podAnnotations['kwok.temporal-k8s-jobs/logs'] = POD_LINES;
  return {
    template: 'job.yaml.njk',
    namespace: ns,
    name,
    values: { image: 'busybox:1.36', command: 'bench', labels: { [RUN_LABEL]: RUN_ID }, ...(Object.keys(podAnnotations).length ? { podAnnotations } : {}) },
    logs: { mode, everySeconds: 10 },
    timeoutSeconds: seconds + 1800,
  };
}

/** Seconds after a Job's duration when a Job whose activity has not returned counts as stuck. */
const STUCK_AFTER_S = 120;
const stuckJobs = [];
let seq = 0;
const jobName = (prefix) => `${prefix}-${RUN_ID}-${(seq++).toString(36)}`;

/** Runs one Job through a worker (the package's kubernetesJobWorkflow); resolves with its name. */
async function runWorkflowJob(worker, prefix, spec) {
  const name = jobName(prefix);
  const handle = await temporal.workflow.start('kubernetesJobWorkflow', { taskQueue: worker.taskQueue, workflowId: name, args: [jobInput(name, spec)] });
  let timer;
  const late = new Promise((res) => (timer = setTimeout(() => res('stuck'), (spec.seconds + STUCK_AFTER_S) * 1000)));
  const result = await Promise.race([handle.result(), late]);
  clearTimeout(timer);
  if (result === 'stuck') {
    // Not a benchmark failure: a finding. Recorded, reported, and the workflow is ended.
    const o = observed.get(name) ?? {};
    stuckJobs.push({ name, worker: worker.name, jobComplete: !!o.complete });
    log(`STUCK: ${name} (worker ${worker.name}) has not returned ${STUCK_AFTER_S} s after its Job's duration; its Job is ${o.complete ? 'Complete' : 'not complete'}; terminating its workflow`);
    dumpOpen();
    await handle.terminate('benchmark: the activity did not return').catch(() => undefined);
    return name;
  }
  if (result.status !== 'Succeeded') throw new Error(`${name}: ${result.status}`);
  return name;
}

/** The same Job as jobInput() gives the worker, rendered by the package, for the poller. */
let renderTemplate;
async function pollerManifest(name, spec) {
  renderTemplate ??= (await import('../dist/render.js')).renderTemplate;
  const input = jobInput(name, spec);
  const { job } = renderTemplate(input.template, { values: { ...input.values, name, namespace: ns } });
  return job;
}

/** Waits until the observer has reported what `pick` needs for every name (its events trail the results). */
async function observedFor(names, pick = (o) => o.complete ?? o.failed) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && names.some((n) => pick(observed.get(n) ?? {}) === undefined)) await sleep(50);
}

/**
 * Where detection time goes, per Job: Complete (observer) -> the worker's cleanup DELETE of the Job
 * (the watch event, final log read, cursor write) and DELETE -> activity return (waiting until the
 * Job and its pods are gone, as today's cleanup does before returning).
 */
function detectionBreakdown(worker, names) {
  const returns = worker.returns();
  const deletes = new Map();
  for (const r of worker.proxy.requests) {
    if (r.method !== 'DELETE') continue;
    const name = r.path.split('?')[0].split('/').pop();
    if (!deletes.has(name)) deletes.set(name, r.at);
  }
  const toDelete = [];
  const deleteToReturn = [];
  for (const x of names) {
    const c = observed.get(x)?.complete;
    const d = deletes.get(x);
    const r = returns.get(x);
    if (c === undefined || d === undefined || r === undefined) continue;
    toDelete.push(d - c);
    deleteToReturn.push(r - d);
  }
  return { completeToDeleteMs: summary(toDelete), deleteToReturnMs: summary(deleteToReturn) };
}

/** Waits until the worker's events file has every name's return (its log line can trail the workflow's result). */
async function returnsFor(worker, names) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const r = worker.returns();
    if (names.every((x) => r.has(x) || stuckJobs.some((j) => j.name === x))) return;
    await sleep(100);
  }
}

/** Detection latencies (ms): the worker's activity return minus the observer's sighting of Complete. */
function detection(worker, names) {
  const returns = worker.returns();
  const out = [];
  for (const n of names) {
    const o = observed.get(n);
    const r = returns.get(n);
    if (o?.complete && !o.relist && r !== undefined) out.push(r - o.complete);
  }
  return out;
}

/**
 * A client's requests since `mark`, per Job of `names`: the mean (every request, divided by the
 * Jobs), by kind, and the spread over the Jobs of the requests that name one Job in their path or
 * selectors; `sharedPerJob` is the rest (discovery, access reviews, watches shared by many Jobs).
 */
function perJob(proxy, mark, names) {
  const counts = proxy.since(mark);
  const n = names.length;
  const own = new Map(names.map((x) => [x, 0]));
  const re = new RegExp(`(?:^|[/=])([a-z0-9-]+?-${RUN_ID}-[a-z0-9]+)`);
  let shared = 0;
  for (const r of proxy.requests.slice(mark.index)) {
    const m = re.exec(decodeURIComponent(r.path));
    if (m && own.has(m[1])) own.set(m[1], own.get(m[1]) + 1);
    else shared++;
  }
  return {
    requests: round(counts.requests / n),
    perJobSpread: summary([...own.values()]),
    sharedPerJob: round(shared / n),
    byKind: Object.fromEntries(Object.entries(counts.byKind).map(([k, v]) => [k, round(v / n)])),
    kbytes: round(counts.bytes / n / 1024),
    connections: round(counts.connections / n),
    // The API server's answer time as the proxy saw it (non-stream requests): a slow API server, as
    // opposed to time the client spends between requests.
    apiAnswerMs: summary(counts.answerMs),
  };
}

// ---------------------------------------------------------------- phases

async function phaseRender() {
  log('render: bench/render.js (warm cache, 5 rounds of 5,000)');
  const out = execFileSync(process.execPath, [path.join(REPO, 'bench/render.js')], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  results.render = JSON.parse(out.trim().split('\n').pop());
  log(`render: ${results.render.rendersPerSecond} renders/s warm, first render ${results.render.firstRenderMs} ms`);
}

async function phaseRequests(wEnd, wPeriodic) {
  const pollerProxy = await newProxy('poller');
  const pollerKc = new KubeConfig();
  pollerKc.loadFromString(proxyKubeconfig(pollerProxy.url, stack.ca, 'bench-poller', ns));
  results.requests = [];
  for (const seconds of CONFIG.cells) {
    const k = CONFIG.perCell;
    log(`requests: ${k} Jobs of ${seconds} s for each client at once (worker logs:end, worker logs:periodic 10 s, poller)`);
    const marks = [wEnd.proxy.mark(), wPeriodic.proxy.mark(), pollerProxy.mark()];
    const t0 = Date.now();
    const [endNames, periodicNames, polled] = await Promise.all([
      Promise.all(Array.from({ length: k }, () => runWorkflowJob(wEnd, 'req-end', { seconds, mode: 'end' }))),
      Promise.all(Array.from({ length: k }, () => runWorkflowJob(wPeriodic, 'req-per', { seconds, mode: 'periodic' }))),
      Promise.all(
        Array.from({ length: k }, async () => {
          const name = jobName('req-poll');
          return runPolledJob(pollerKc, await pollerManifest(name, { seconds }), { readEverySeconds: 5, logEverySeconds: 10, tailLines: 100 });
        }),
      ),
    ]);
    const wallS = (Date.now() - t0) / 1000;
    await observedFor([...endNames, ...periodicNames, ...polled.map((p) => p.name)]);
    await returnsFor(wEnd, endNames);
    await returnsFor(wPeriodic, periodicNames);
    const cell = {
      seconds, jobs: k, wallS: round(wallS),
      end: perJob(wEnd.proxy, marks[0], endNames), periodic: perJob(wPeriodic.proxy, marks[1], periodicNames), poller: perJob(pollerProxy, marks[2], polled.map((p) => p.name)),
      detectionEnd: summary(detection(wEnd, endNames)),
      detectionEndBreakdown: detectionBreakdown(wEnd, endNames),
      detectionPeriodic: summary(detection(wPeriodic, periodicNames)),
      detectionPoller: summary(polled.filter((p) => observed.get(p.name)?.complete).map((p) => p.detectedAt - observed.get(p.name).complete)),
    };
    cell.ratioEnd = round(cell.poller.requests / cell.end.requests);
    cell.ratioPeriodic = round(cell.poller.requests / cell.periodic.requests);
    results.requests.push(cell);
    log(`requests per Job, ${seconds} s Jobs: end ${cell.end.requests} ${JSON.stringify(cell.end.byKind)}; periodic ${cell.periodic.requests} ${JSON.stringify(cell.periodic.byKind)}; poller ${cell.poller.requests} ${JSON.stringify(cell.poller.byKind)}; poller/end ${cell.ratioEnd}x, poller/periodic ${cell.ratioPeriodic}x`);
    log(`  response kB per Job: end ${cell.end.kbytes}, periodic ${cell.periodic.kbytes}, poller ${cell.poller.kbytes}; new TCP connections per Job: end ${cell.end.connections}, periodic ${cell.periodic.connections}, poller ${cell.poller.connections}`);
    log(`  API server answer time at the proxy (ms): end ${fmtSummary(cell.end.apiAnswerMs)}; periodic ${fmtSummary(cell.periodic.apiAnswerMs)}; poller ${fmtSummary(cell.poller.apiAnswerMs)}`);
    log(`  detection (ms): end ${fmtSummary(cell.detectionEnd)}; periodic ${fmtSummary(cell.detectionPeriodic)}; poller ${fmtSummary(cell.detectionPoller)}`);
  }
}

async function phaseDetection(wEnd) {
  const n = CONFIG.detectionJobs;
  log(`detection: ${n} Jobs of 1 s (logs: end), ${CONFIG.detectionParallel} at a time`);
  const names = await pool(n, CONFIG.detectionParallel, () => runWorkflowJob(wEnd, 'det', { seconds: 1, mode: 'end' }));
  await observedFor(names);
  await returnsFor(wEnd, names);
  const lat = detection(wEnd, names);
  const returns = wEnd.returns();
  const unmeasured = names.filter((x) => !observed.get(x)?.complete || observed.get(x)?.relist || !returns.has(x)).map((x) => ({ name: x, observed: observed.get(x) ?? null, returned: returns.get(x) ?? null }));
  results.detection = { jobs: n, parallel: CONFIG.detectionParallel, measured: lat.length, ms: summary(lat), unmeasured, breakdown: detectionBreakdown(wEnd, names) };
  log(`detection (ms, ${lat.length} of ${n} Jobs): ${fmtSummary(results.detection.ms)}`);
  log(`  of which Complete -> cleanup DELETE: ${fmtSummary(results.detection.breakdown.completeToDeleteMs)}; DELETE -> return: ${fmtSummary(results.detection.breakdown.deleteToReturnMs)}`);
}

/** Adds kwok nodes (500 pods each) until the cluster has room for `pods` more pods. */
async function ensureCapacity(pods) {
  const nodes = (await core.listNode()).items;
  const capacity = nodes.reduce((a, n) => a + Number(n.status?.allocatable?.pods ?? 0), 0);
  const need = Math.ceil(Math.max(0, pods + 100 - capacity) / 500);
  for (let i = 0; i < need; i++) {
    const name = `bench-node-${RUN_ID}-${i}`;
    await core.createNode({
      body: {
        metadata: { name, labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, type: 'kwok', [RUN_LABEL]: RUN_ID }, annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' } },
        status: {
          addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: name }],
          daemonEndpoints: { kubeletEndpoint: { Port: stack.kwokPort } },
          allocatable: { cpu: '32', memory: '256Gi', pods: '500', 'ephemeral-storage': '1Ti' },
          capacity: { cpu: '32', memory: '256Gi', pods: '500', 'ephemeral-storage': '1Ti' },
        },
      },
    });
  }
  if (need) {
    log(`  added ${need} kwok nodes of 500 pods (had room for ${capacity})`);
    for (;;) {
      const ready = (await core.listNode({ labelSelector: `${RUN_LABEL}=${RUN_ID}` })).items.filter((n) => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
      if (ready.length >= need) break;
      await sleep(200); // kwok marks them Ready within a second or two
    }
  }
  return { capacityBefore: capacity, nodesAdded: need };
}

/**
 * One worker process supervising `n` concurrent Jobs of `seconds` s (logs: end). Returns the figures;
 * `deadlineS` bounds the wait (the break-point search), and a failure is reported, not thrown.
 */
async function concurrencyRun(n, seconds, { cpuProf = false, deadlineS = seconds + 300 + Math.ceil(n / 5) } = {}) {
  const cap = await ensureCapacity(n);
  const w = await startWorker(`conc${n}`, { maxConcurrent: n + 50, cpuProf });
  const r = { jobs: n, seconds, ...cap };
  const sample = () => ({ t: Date.now(), ...procStats(w.pid), streams: w.proxy.openStreams(), sockets: w.proxy.sockets.size });
  // Idle rate first: the worker polling Temporal with nothing to do.
  const idle0 = sample();
  await sleep(10_000); // a measuring interval, not a wait for an event
  const idle1 = sample();
  r.idleCpuMsPerS = round((idle1.cpuMs - idle0.cpuMs) / ((idle1.t - idle0.t) / 1000));
  r.idleRssMb = round(idle1.rssMb);
  const samples = [];
  const hb = [];
  const timer = setInterval(() => {
    try {
      samples.push(sample());
    } catch {
      /* worker gone */
    }
  }, 1000);
  const hbTimer = setInterval(() => w.heartbeats().then((c) => hb.push({ t: Date.now(), c }), () => undefined), 5000);
  const mark = w.proxy.mark();
  const start = sample();
  const harnessCpu0 = process.cpuUsage();
  const names = Array.from({ length: n }, () => jobName(`conc${n}`));
  let failure;
  const deadline = new Promise((res) => setTimeout(() => res('deadline'), deadlineS * 1000));
  const exited = new Promise((res) => w.child.once('exit', (code, sig) => res(`worker exited (${code ?? sig})`)));
  const work = (async () => {
    await pool(n, 50, (i) => temporal.workflow.start('kubernetesJobWorkflow', { taskQueue: w.taskQueue, workflowId: names[i], args: [jobInput(names[i], { seconds, mode: 'end' })] }));
    r.startAllS = round((Date.now() - start.t) / 1000);
    log(`  ${n} workflows started in ${r.startAllS} s`);
    const out = await pool(n, 200, (i) => temporal.workflow.getHandle(names[i]).result().then((x) => x.status, (e) => `error: ${e.message}`));
    const bad = out.filter((s) => s !== 'Succeeded');
    return bad.length ? `${bad.length} of ${n} did not succeed (first: ${bad[0]})` : 'ok';
  })();
  const outcome = await Promise.race([work, deadline, exited]);
  if (outcome !== 'ok') {
    failure = outcome;
    if (outcome === 'deadline') {
      const ret = w.returns();
      const left = names.filter((x) => !ret.has(x));
      const complete = left.filter((x) => observed.get(x)?.complete).length;
      failure = `${left.length} of ${n} activities had not returned ${deadlineS} s after the start (${complete} of them with their Job Complete)`;
      for (const x of left) stuckJobs.push({ name: x, worker: w.name, jobComplete: !!observed.get(x)?.complete });
      dumpOpen();
    }
    // Leave nothing running on the stack: the Jobs go with the namespace at the end.
    await pool(n, 50, (i) => temporal.workflow.getHandle(names[i]).terminate('benchmark step failed').catch(() => undefined));
  }
  let end;
  try {
    end = sample();
  } catch {
    end = samples.at(-1) ?? start; // the worker died
  }
  clearInterval(timer);
  clearInterval(hbTimer);
  const harnessCpu = process.cpuUsage(harnessCpu0);
  r.harnessCpuCorePct = round((100 * (harnessCpu.user + harnessCpu.system)) / 1000 / (end.t - start.t)); // proxies, observer bookkeeping, Temporal client
  await observedFor(names);
  if (!failure) await returnsFor(w, names);
  const obs = names.map((x) => observed.get(x) ?? {});
  const returns = w.returns();
  // Peak concurrency: Jobs with an active pod and no Complete yet, over the observer's events.
  const ev = [];
  for (const o of obs) {
    if (o.active) ev.push([o.active, 1]);
    if (o.active && (o.complete ?? o.failed)) ev.push([o.complete ?? o.failed, -1]);
  }
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of ev) peak = Math.max(peak, (cur += d));
  const completes = obs.map((o) => o.complete).filter(Boolean);
  const lastComplete = Math.max(...completes);
  const lastReturn = Math.max(...names.map((x) => returns.get(x)).filter((x) => x !== undefined));
  const firstComplete = Math.min(...completes);
  const allActive = Math.max(...obs.map((o) => o.active).filter(Boolean));
  // Steady window: every Job running, none finished yet (when the start-up was quicker than the Jobs).
  const steady = samples.filter((s) => s.t >= allActive && s.t <= firstComplete);
  const hbSteady = hb.filter((h) => h.t >= allActive && h.t <= firstComplete);
  const hbAll = hb.length >= 2 ? (hb.at(-1).c - hb[0].c) / ((hb.at(-1).t - hb[0].t) / 1000) : null;
  Object.assign(r, {
    failure: failure ?? null,
    completed: completes.length,
    returned: names.filter((x) => returns.has(x)).length,
    peakConcurrent: peak,
    wallS: round((end.t - start.t) / 1000),
    rssPeakMb: round(Math.max(...samples.map((s) => s.rssMb), end.rssMb)),
    rssSteadyMb: steady.length ? round(summary(steady.map((s) => s.rssMb)).p50) : null,
    cpuMsPerJob: round((end.cpuMs - start.cpuMs - r.idleCpuMsPerS * ((end.t - start.t) / 1000)) / n),
    cpuMsPerJobGross: round((end.cpuMs - start.cpuMs) / n),
    cpuCoreAvgPct: round((100 * (end.cpuMs - start.cpuMs)) / (end.t - start.t)),
    streamsPeak: Math.max(...samples.map((s) => s.streams)),
    streamsSteady: steady.length ? summary(steady.map((s) => s.streams)).p50 : null,
    socketsPeak: Math.max(...samples.map((s) => s.sockets)),
    heartbeatsPerS: hbSteady.length >= 2 ? round((hbSteady.at(-1).c - hbSteady[0].c) / ((hbSteady.at(-1).t - hbSteady[0].t) / 1000)) : null,
    heartbeatsPerSWholeRun: round(hbAll),
    steadyWindowS: steady.length ? round((steady.at(-1).t - steady[0].t) / 1000) : 0,
    lastCompletionToLastReturnMs: Number.isFinite(lastComplete) && Number.isFinite(lastReturn) ? round(lastReturn - lastComplete) : null,
    detectionMs: summary(detection(w, names)),
    detectionBreakdown: detectionBreakdown(w, names),
    requestsPerJob: perJob(w.proxy, mark, names),
  });
  // Per Job-minute: heartbeats over the run / the activities' running time (first active pod to return, or to the end).
  const jobMinutes = names.reduce((a, x) => {
    const o = observed.get(x);
    return o?.active ? a + ((returns.get(x) ?? end.t) - o.active) / 60_000 : a;
  }, 0);
  r.heartbeatsPerJobMinute = hb.length >= 2 && jobMinutes > 0 ? round((hb.at(-1).c - hb[0].c) / jobMinutes) : null;
  if (failure) r.lastCompletionToLastReturnMs = null; // not every activity returned
  await w.stop();
  if (cpuProf) {
    const f = fs.existsSync(w.profDir) ? fs.readdirSync(w.profDir).find((x) => x.endsWith('.cpuprofile')) : undefined;
    r.profile = f ? summariseProfile(path.join(w.profDir, f)) : null;
  }
  await w.proxy.close();
  return r;
}

async function phaseConcurrency() {
  const n = CONFIG.concurrency;
  log(`concurrency: one worker, ${n} concurrent Jobs of ${CONFIG.concurrencySeconds} s (logs: end)${CONFIG.profile ? ', --cpu-prof' : ''}`);
  const r = await concurrencyRun(n, CONFIG.concurrencySeconds, { cpuProf: CONFIG.profile });
  results.concurrency = r;
  log(
    `concurrency ${n}: ${r.failure ? `FAILED: ${r.failure}; ` : ''}peak ${r.peakConcurrent} running at once; RSS peak ${r.rssPeakMb} MB (idle ${r.idleRssMb}); CPU ${r.cpuMsPerJob} ms/Job above idle (${r.cpuMsPerJobGross} gross, ${r.cpuCoreAvgPct}% of a core on average); ` +
      `watch/follow streams peak ${r.streamsPeak} (steady ${r.streamsSteady}), client sockets peak ${r.socketsPeak}; heartbeats ${r.heartbeatsPerS}/s steady, ${r.heartbeatsPerSWholeRun}/s whole run (${r.heartbeatsPerJobMinute} per Job-minute); last completion -> last return ${r.lastCompletionToLastReturnMs} ms; requests/Job ${r.requestsPerJob.requests}; harness ${r.harnessCpuCorePct}% of a core`,
  );
  log(`  detection under load (ms): ${fmtSummary(r.detectionMs)}; API server answer time at the proxy (ms): ${fmtSummary(r.requestsPerJob.apiAnswerMs)}`);
  if (r.profile) for (const t of r.profile.top.slice(0, 10)) log(`  profile: ${round(t.pctOfBusy)}% ${t.fn}`);
}

async function phaseBreakpoint() {
  results.breakPoint = { steps: [], brokeAt: null };
  for (const n of CONFIG.breakPoint) {
    log(`break point: ${n} concurrent Jobs`);
    const r = await concurrencyRun(n, CONFIG.concurrencySeconds, { deadlineS: CONFIG.concurrencySeconds + 1200 });
    results.breakPoint.steps.push(r);
    log(`  ${n}: ${r.failure ?? 'ok'}; RSS peak ${r.rssPeakMb} MB, CPU ${r.cpuMsPerJob} ms/Job, ${r.cpuCoreAvgPct}% of a core, start-up ${r.startAllS} s, last completion -> last return ${r.lastCompletionToLastReturnMs} ms`);
    if (r.failure) {
      results.breakPoint.brokeAt = n;
      break;
    }
  }
}

/** Events in a workflow's history and in those of its children (recursively). */
async function historyEvents(workflowId, runId) {
  const h = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  let n = h.events.length;
  for (const e of h.events) {
    const c = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (c) n += await historyEvents(c.workflowId, c.runId);
  }
  return n;
}

async function phaseDag(wEnd) {
  const n = CONFIG.dagItems;
  log(`dag: a forEach of ${n} 0 s Jobs vs ${n} independent workflows (logs: end; the same worker, 200 activity slots)`);
  const dag = {
    name: `bench-dag-${RUN_ID}`,
    defaults: { namespace: ns, logs: { mode: 'end' } },
    values: { image: 'busybox:1.36', command: 'bench', labels: { [RUN_LABEL]: RUN_ID } },
    steps: { items: { template: 'job.yaml.njk', forEach: Array.from({ length: n }, (_, i) => i) } },
  };
  let t0 = Date.now();
  const handle = await temporal.workflow.start('dagWorkflow', { taskQueue: wEnd.taskQueue, workflowId: `bench-dag-${RUN_ID}`, args: [dag, {}] });
  const res = await handle.result();
  const dagWallS = (Date.now() - t0) / 1000;
  if (res.status !== 'Succeeded') throw new Error(`dag: ${res.status}`);
  const dagEvents = await historyEvents(handle.workflowId, handle.firstExecutionRunId);
  t0 = Date.now();
  const names = await Promise.all(Array.from({ length: n }, () => runWorkflowJob(wEnd, 'dag-ind', { seconds: 0, mode: 'end', lines: false })));
  const indWallS = (Date.now() - t0) / 1000;
  const indEvents = (await pool(names.length, 20, (i) => historyEvents(names[i]))).reduce((a, b) => a + b, 0);
  results.dag = { items: n, dagWallS: round(dagWallS), independentWallS: round(indWallS), dagHistoryEvents: dagEvents, independentHistoryEvents: indEvents, dagEventsPerItem: round(dagEvents / n), independentEventsPerItem: round(indEvents / n) };
  log(`dag: forEach ${round(dagWallS)} s, ${dagEvents} history events (${results.dag.dagEventsPerItem}/item); independent ${round(indWallS)} s, ${indEvents} events (${results.dag.independentEventsPerItem}/item)`);
}

// ---------------------------------------------------------------- main

async function cleanup() {
  for (const w of [...workers]) await w.stop().catch(() => undefined);
  for (const p of proxies) {
    // Every request each client made, for a closer look (not in the doc).
    fs.writeFileSync(path.join(TMP, `${p.name}.requests.jsonl`), p.requests.map((r) => JSON.stringify(r)).join('\n'));
    await p.close().catch(() => undefined);
  }
  if (observer) observer.kill('SIGTERM');
  if (core) {
    await core.deleteNamespace({ name: ns, propagationPolicy: 'Background' }).catch(() => undefined);
    const nodes = (await core.listNode({ labelSelector: `${RUN_LABEL}=${RUN_ID}` }).catch(() => ({ items: [] }))).items;
    for (const x of nodes) await core.deleteNode({ name: x.metadata.name }).catch(() => undefined);
  }
  await temporal?.connection.close().catch(() => undefined);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  if (PHASES.has('render')) await phaseRender();
  if (stack) {
    await setup();
    const needShared = ['requests', 'detection', 'dag'].some((p) => PHASES.has(p));
    const wEnd = needShared ? await startWorker('end', { maxConcurrent: 200 }) : undefined;
    const wPeriodic = PHASES.has('requests') ? await startWorker('periodic', { maxConcurrent: 200 }) : undefined;
    if (PHASES.has('requests')) await phaseRequests(wEnd, wPeriodic);
    if (PHASES.has('detection')) await phaseDetection(wEnd);
    if (PHASES.has('dag')) await phaseDag(wEnd);
    for (const w of [wEnd, wPeriodic]) if (w) await w.stop();
    if (PHASES.has('concurrency')) await phaseConcurrency();
    if (PHASES.has('breakpoint') && CONFIG.breakPoint.length) await phaseBreakpoint();
  }
} catch (err) {
  exitCode = 1;
  results.error = err instanceof Error ? err.stack : String(err);
  log(`FAILED: ${results.error}`);
} finally {
  await cleanup();
}

const longCell = results.requests?.at(-1);
const summaryJson = {
  detectionLatencyP50Ms: round(results.detection?.ms.p50 ?? null),
  detectionLatencyP99Ms: round(results.detection?.ms.p99 ?? null),
  apiRequestsPerJobEnd: results.requests ? Math.max(...results.requests.map((c) => c.end.requests)) : null,
  apiRequestsPerJobPeriodic: longCell?.periodic.requests ?? null,
  pollerApiRequestsPerJob: longCell?.poller.requests ?? null,
  concurrentJobs: results.concurrency?.peakConcurrent ?? null,
  workerRssMb: results.concurrency?.rssPeakMb ?? null,
  workerCpuMsPerJob: results.concurrency?.cpuMsPerJob ?? null,
  rendersPerSecond: results.render?.rendersPerSecond ?? null,
};
results.stuckJobs = stuckJobs;
results.summary = summaryJson;
fs.writeFileSync(path.join(TMP, 'results.json'), JSON.stringify(results, null, 2));
if (!opt['no-doc'] && MODE !== 'smoke' && exitCode === 0) {
  writeReport(results);
  log('wrote docs/PERFORMANCE.md');
}
log(`raw results: ${path.join(TMP, 'results.json')}`);
console.log(JSON.stringify(summaryJson));
process.exit(exitCode);

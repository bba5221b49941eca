// `worker --metrics-address` and `--health-address` on the stack, scraped during real runs: the
// package's counters move by exactly what the runs did, its histograms get observations, the SDK's
// own worker metrics are on the same endpoint; /readyz fails while the API server is unreachable.
import { jest } from '@jest/globals';
import * as net from 'node:net';
import * as path from 'node:path';
import { cli, cliTestSuite, runCli, type Proc } from '../helpers/cli.js';
import { KWOK_ANNOTATIONS, stackEnv, waitFor, writePodLog } from '../helpers/stack.js';
import { tempDir } from '../helpers/tmp.js';

// Several CLI processes per test on a shared 2-core machine.
jest.setTimeout(420_000);

const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;
const { namespace } = cliTestSuite();
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exit));
});

/** A loopback port nothing listens on (just probed). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts `worker` with the flags; resolves once it serves, with its health port. */
async function startWorker(args: string[], extraEnv: Record<string, string> = {}): Promise<{ proc: Proc; healthPort: number }> {
  const proc = cli(['worker', '--health-address', '127.0.0.1:0', ...args], extraEnv);
  procs.push(proc);
  await proc.waitOut(/^serving .*health on http:\/\/127\.0\.0\.1:\d+\/livez/m);
  return { proc, healthPort: Number(/health on http:\/\/127\.0\.0\.1:(\d+)\//.exec(proc.stdout())![1]) };
}

const get = async (port: number, p: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: r.status, body: await r.text() };
};

/** Prometheus text -> the sum of the samples of `name` whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('worker --metrics-address / --health-address', () => {
  kwokIt('counters move by the runs, histograms observe, SDK metrics alongside; /livez and /readyz answer', async () => {
    const ns = await namespace('metrics');
    const queue = `metrics-${ns}`;
    const metricsPort = await freePort();
    const { healthPort } = await startWorker(['--namespace', ns, '--task-queue', queue, '--metrics-address', `127.0.0.1:${metricsPort}`]);
    expect(await get(healthPort, '/livez')).toEqual({ status: 200, body: 'ok\n' });
    await waitFor(async () => (await get(healthPort, '/readyz')).status === 200, { timeoutMs: 20_000, what: '/readyz 200' });
    const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const before = await scrape();
    // The package's metrics carry the activity meter's tags (taskQueue, activityType); the SDK's own use task_queue.
    const job = { template: 'job.yaml.njk', taskQueue: queue };
    const delta = (after: string, name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);

    // One Job that succeeds with three log lines, scraped while it runs.
    await writePodLog({ namespace: ns, container: 'main' }, ['one', 'two', 'three']);
    const common = ['--task-queue', queue, '--namespace', ns, '--set', 'image=busybox:1.36'];
    const ok = cli(['run', 'job.yaml.njk', ...common, '--logs', 'end', '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"4s"}`]);
    procs.push(ok);
    await ok.waitOut(/Running: active 1/);
    const during = await scrape();
    expect(sample(during, 'temporal_k8s_jobs_supervised', { taskQueue: queue })).toBe(1);
    expect(delta(during, 'temporal_k8s_jobs_started', job)).toBe(1);
    expect(await ok.exit).toBe(0);

    // One that fails (exit code 3) and one the API server rejects (422: negative backoffLimit).
    const failed = await runCli(['run', 'job.yaml.njk', ...common, '--logs', 'none', '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.exitCode}":"3"}`]);
    expect(failed.code).toBe(1);
    const rejected = await runCli(['run', 'job.yaml.njk', ...common, '--logs', 'none', '--set-json', 'backoffLimit=-1']);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/HTTP 422/);

    const after = await scrape();
    expect({
      started: delta(after, 'temporal_k8s_jobs_started', job),
      succeeded: delta(after, 'temporal_k8s_jobs_succeeded', job),
      jobFailed: delta(after, 'temporal_k8s_jobs_failed', { ...job, failure_type: 'JobFailed' }),
      apiFailed: delta(after, 'temporal_k8s_jobs_failed', { ...job, failure_type: 'KubernetesApiError' }),
      api422: delta(after, 'temporal_k8s_jobs_kubernetes_api_errors', { status: '422', taskQueue: queue }),
      logLines: delta(after, 'temporal_k8s_jobs_log_lines_delivered', { taskQueue: queue }),
      durations: delta(after, 'temporal_k8s_jobs_duration_seconds_count', job),
      succeededDurations: delta(after, 'temporal_k8s_jobs_duration_seconds_count', { ...job, result: 'succeeded' }),
      detections: delta(after, 'temporal_k8s_jobs_detection_latency_milliseconds_count', job),
      supervised: sample(after, 'temporal_k8s_jobs_supervised', { taskQueue: queue }),
    }).toEqual({ started: 2, succeeded: 1, jobFailed: 1, apiFailed: 1, api422: 1, logLines: 3, durations: 2, succeededDurations: 1, detections: 2, supervised: 0 });
    const mean = (n: string) => delta(after, `${n}_sum`, job) / delta(after, `${n}_count`, job);
    console.log(`worker metrics: detection latency mean ${Math.round(mean('temporal_k8s_jobs_detection_latency_milliseconds'))} ms, Job duration mean ${mean('temporal_k8s_jobs_duration_seconds').toFixed(1)} s (2 Jobs)`);
    // The succeeded Job ran ~4 s: its duration sits in the (1, 5] or (5, 10] bucket.
    expect(delta(after, 'temporal_k8s_jobs_duration_seconds_bucket', { ...job, result: 'succeeded', le: '1' })).toBe(0);
    expect(delta(after, 'temporal_k8s_jobs_duration_seconds_bucket', { ...job, result: 'succeeded', le: '10' })).toBe(1);
    // The SDK's own worker metrics on the same endpoint.
    expect(sample(after, 'temporal_activity_execution_latency_count', { task_queue: queue, activity_type: 'kubernetesJobsRunJob' })).toBeGreaterThanOrEqual(3);
    expect(after).toMatch(new RegExp(`^temporal_worker_task_slots_available\\{[^}]*task_queue="${queue}"`, 'm'));
  });

  kwokIt('/readyz is 503 naming the API server while it is unreachable; /livez stays 200', async () => {
    const closed = await freePort();
    const dir = tempDir({
      kubeconfig: `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${closed}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`,
    });
    try {
      const { healthPort } = await startWorker(['--skip-preflight', '--kubeconfig', path.join(dir.dir, 'kubeconfig'), '--task-queue', `unready-${closed}`]);
      expect(await get(healthPort, '/livez')).toEqual({ status: 200, body: 'ok\n' });
      const r = await get(healthPort, '/readyz');
      expect(r.status).toBe(503);
      expect(r.body).toMatch(new RegExp(`^not ready\\n(.*\\n)*kubernetes: Kubernetes API server https://127\\.0\\.0\\.1:${closed} unreachable: .*ECONNREFUSED`));
      expect(r.body).not.toMatch(/^temporal:/m); // Temporal itself is reachable
    } finally {
      dir.cleanup();
    }
  });

  kwokIt('a metrics address already in use: one line, exit 1', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['worker', '--task-queue', `busy-${port}`, '--metrics-address', `127.0.0.1:${port}`]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({
        code: 1,
        stderr: `error: cannot start the Temporal runtime with metrics on 127.0.0.1:${port}: Failed to start prometheus metrics exporter: Address already in use (os error 98)\n`,
      });
    } finally {
      busy.close();
    }
  });

  it.each([
    [['--metrics-address', '9464'], "--metrics-address must be host:port (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464), got '9464'"],
    [['--health-address', 'http://127.0.0.1:8080'], "--health-address must be host:port (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464), got 'http://127.0.0.1:8080'"],
  ])('%j: usage error, exit 2', async (args, want) => {
    const r = await runCli(['worker', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(want);
  });
});


// Network faults between the worker and the API server (a real HTTPS proxy, test/helpers/fault-proxy.ts:
// latency, resets, 5xx, 429, a blackhole longer than the heartbeat timeout) and between the worker and
// Temporal (a TCP proxy on its gRPC connection, test/helpers/tcp-proxy.ts: latency, resets, a blackhole
// longer than the heartbeat timeout). Every Job completes, or fails with the right type; nothing is
// duplicated; every line arrives once; errors are classified right (retried vs final).
import { proxiedWorkerKubeconfig, type FaultProxy } from '../helpers/fault-proxy.js';
import { stackEnv, waitFor } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { jobInput, linesFor, logCounts, orphansAfter, trial, trials, withRig, wrongResultsOf, type Rig, type TrialOutcome } from './lib.js';

const N = trials(3, 1);
/** Each trial's bound: an 8 s Job under faults ends well within it; a hung one is recorded as failed. */
const NETWORK_TRIAL_MS = 100_000;
const strip = (l: string) => l.replace(/^\S+\/\S+ /, '');

/** Runs one 8 s Job with 8 lines while `fault` acts, and counts. */
async function runJob(rig: Rig, tag: string, fault: () => Promise<void>): Promise<TrialOutcome> {
  const lines = linesFor(tag, 8);
  const handle = await rig.start(jobInput({ ns: rig.ns, tag, seconds: 8, lines, companion: true }));
  await fault();
  const wrongResults = await wrongResultsOf(`network ${tag}`, [handle]);
  return { wrongResults, duplicateJobs: rig.observer.duplicateJobs(1), orphans: await orphansAfter(rig.ns), ...logCounts(rig.lines().map(strip), lines) };
}

/** A rig whose worker reaches the apiserver through a fault proxy (as a ServiceAccount with admin in the namespace). */
async function withApiProxy(prefix: string, fn: (rig: Rig, proxy: FaultProxy) => Promise<TrialOutcome>): Promise<TrialOutcome> {
  return withRig(prefix, async (rig) => {
    const { proxy, kubeconfig } = await proxiedWorkerKubeconfig(rig.ns);
    try {
      await rig.worker({ kubeconfig });
      return await fn(rig, proxy);
    } finally {
      await proxy.close();
    }
  });
}

const firstLine = (rig: Rig) => waitFor(() => rig.lines().length >= 1, { timeoutMs: 60_000, what: 'a first line' });

for (let i = 1; i <= N; i++) {
  trial('network', `API: 300 ms latency on every request, 503 and 429 answers #${i}`, () =>
    withApiProxy('net-5xx', (rig, proxy) =>
      runJob(rig, `l${i}`, async () => {
        const ns = rig.ns;
        // The first matching rule answers: the error rules come before the latency on everything.
        proxy.addRule({ method: 'GET', path: new RegExp(`/namespaces/${ns}/pods/[^/]+/log`), status: 503, times: 3 });
        proxy.addRule({ method: 'PATCH', path: new RegExp(`/namespaces/${ns}/jobs/`), status: 429, times: 2, after: 1 });
        proxy.addRule({ method: 'GET', path: new RegExp(`/namespaces/${ns}/pods\\?`), status: 500, times: 2 });
        proxy.addRule({ path: new RegExp(`/namespaces/${ns}/`), delayMs: 300, times: 1_000_000 });
      }),
    ),
    NETWORK_TRIAL_MS,
  );

  trial('network', `API: connection resets (create, watch, log, cursor write) #${i}`, () =>
    withApiProxy('net-reset', (rig, proxy) =>
      runJob(rig, `r${i}`, async () => {
        const ns = rig.ns;
        proxy.addRule({ method: 'POST', path: new RegExp(`/namespaces/${ns}/configmaps`), reset: true });
        proxy.addRule({ method: 'GET', path: new RegExp(`/namespaces/${ns}/jobs\\?.*watch=true`), reset: true, times: 2 });
        proxy.addRule({ method: 'GET', path: new RegExp(`/namespaces/${ns}/pods/[^/]+/log`), reset: true, times: 2 });
        proxy.addRule({ method: 'PATCH', path: new RegExp(`/namespaces/${ns}/jobs/`), reset: true, after: 2 });
      }),
    ),
    NETWORK_TRIAL_MS,
  );

  trial('network', `API: a blackhole for 10 s (longer than the heartbeat timeout) mid-Job #${i}`, () =>
    withApiProxy('net-blackhole', (rig, proxy) =>
      runJob(rig, `b${i}`, async () => {
        await firstLine(rig);
        await proxy.blackhole(10_000);
      }),
    ),
    NETWORK_TRIAL_MS,
  );

  trial('network', `API: answers that hang for 8 s (then reset) #${i}`, () =>
    withApiProxy('net-hang', (rig, proxy) =>
      runJob(rig, `h${i}`, async () => {
        proxy.addRule({ method: 'GET', path: new RegExp(`/namespaces/${rig.ns}/pods/[^/]+/log`), hangMs: 8_000, times: 2 });
      }),
    ),
    NETWORK_TRIAL_MS,
  );

  trial('network', `API: final errors are final (403 and 422 on create: not retried, nothing created) #${i}`, () =>
    withApiProxy('net-final', async (rig, proxy) => {
      let wrongResults = 0;
      for (const status of [403, 422]) {
        // Once: a retry (the error taken as transient) would create the Job, which counts against it.
        const rule = proxy.addRule({ method: 'POST', path: new RegExp(`/namespaces/${rig.ns}/jobs`), status });
        try {
          await (await rig.start(jobInput({ ns: rig.ns, tag: `f${status}`, seconds: 2 }))).result();
          wrongResults++;
        } catch (e) {
          const cause = (e as { cause?: { retryState?: unknown; cause?: { type?: string; nonRetryable?: boolean } } }).cause;
          if (cause?.cause?.type !== 'KubernetesApiError' || !String(cause.retryState).includes('NON_RETRYABLE') || rule.hits !== 1) {
            wrongResults++;
            process.stderr.write(`[rel] network final ${status}: type ${cause?.cause?.type}, retry state ${String(cause?.retryState)}, ${rule.hits} create(s)\n`);
          }
        }
      }
      return { wrongResults, orphans: await orphansAfter(rig.ns, { timeoutMs: 2_000 }) + rig.observer.jobs().length };
    }),
    NETWORK_TRIAL_MS,
  );

  trial('network', `Temporal: 150 ms latency and every connection reset mid-Job #${i}`, () =>
    withRig('net-temporal', async (rig) => {
      const tcp = await TcpProxy.start(stackEnv().temporalAddress);
      try {
        tcp.setLatency(150);
        await rig.worker({ temporalAddress: tcp.address });
        return await runJob(rig, `t${i}`, async () => {
          await firstLine(rig);
          tcp.resetAll();
        });
      } finally {
        await tcp.close();
      }
    }),
    NETWORK_TRIAL_MS,
  );

  trial('network', `Temporal: a blackhole for 10 s (longer than the heartbeat timeout) mid-Job #${i}`, () =>
    withRig('net-temporal-bh', async (rig) => {
      const tcp = await TcpProxy.start(stackEnv().temporalAddress);
      try {
        await rig.worker({ temporalAddress: tcp.address });
        return await runJob(rig, `tb${i}`, async () => {
          await firstLine(rig);
          await tcp.blackhole(10_000);
        });
      } finally {
        await tcp.close();
      }
    }),
    NETWORK_TRIAL_MS,
  );
}

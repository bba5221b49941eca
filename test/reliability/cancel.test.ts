// Cancellation of running Jobs and DAGs, at the awkward moments: while the Job is being created, during
// the activity's retry backoff, after a worker crash before the heartbeat timeout, while the Job is
// being cleaned up. In every case the Job, its pods and its owned companions must be gone within 5 s
// of the cancel request, measured by an independent watch (the last DELETED event); the distribution
// of those times is reported (figure `cancel.goneMs`).
import type { WorkflowHandle } from '@temporalio/client';
import type { KubernetesObject } from '@kubernetes/client-node';
import { proxiedWorkerKubeconfig } from '../helpers/fault-proxy.js';
import { waitFor } from '../helpers/stack.js';
import { isCancellation, jobInput, linesFor, orphansAfter, trial, trials, withRig, type Rig, type TrialOutcome } from './lib.js';

const GONE_WITHIN_MS = 5_000;
const N = trials(4, 1);

const finished = (obj: KubernetesObject) =>
  ((obj as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? []).some((c) => ['Complete', 'SuccessCriteriaMet', 'Failed'].includes(c.type) && c.status === 'True');

/** Cancels at `cancelAt()`, then measures until everything is gone; `mayFinish`: a result is fine too. */
async function cancelAndMeasure(rig: Rig, handle: WorkflowHandle, opts: { mayFinish?: boolean } = {}): Promise<TrialOutcome> {
  const t0 = Date.now();
  await handle.cancel();
  let wrongResults = 0;
  try {
    await handle.result();
    if (!opts.mayFinish) wrongResults++;
  } catch (e) {
    if (!isCancellation(e)) {
      wrongResults++;
      process.stderr.write(`[rel] cancel: the workflow failed otherwise: ${(e as Error).message} / ${(e as { cause?: Error }).cause?.message}\n`);
    }
  }
  const goneMs = await rig.observer.goneSince(t0);
  const orphans = await orphansAfter(rig.ns, { timeoutMs: 1000 });
  if (goneMs > GONE_WITHIN_MS) throw new Error(`the Job, its pods and companions were gone ${goneMs} ms after the cancel request (bound: ${GONE_WITHIN_MS} ms)`);
  return { wrongResults, orphans, duplicateJobs: rig.observer.duplicateJobs(1), figures: { goneMs } };
}

for (let i = 1; i <= N; i++) {
  trial('cancel', `a running Job #${i}`, () =>
    withRig('cancel', async (rig) => {
      await rig.worker();
      const handle = await rig.start(jobInput({ ns: rig.ns, tag: `r${i}`, seconds: 120, lines: linesFor('r', 3), companion: true }));
      await waitFor(() => rig.lines().length >= 1, { timeoutMs: 60_000, what: 'a first line' });
      return cancelAndMeasure(rig, handle);
    }),
  );

  trial('cancel', `while the Job is being created #${i}`, () =>
    withRig('cancel-create', async (rig) => {
      await rig.worker();
      const created = rig.observer.next((type, kind) => type === 'ADDED' && kind === 'Job', 60_000, 'the Job');
      const handle = await rig.start(jobInput({ ns: rig.ns, tag: `c${i}`, seconds: 120, companion: true }));
      await created; // created suspended: its companion and the resume are still to come
      return cancelAndMeasure(rig, handle);
    }),
  );

  trial('cancel', `during the activity's retry backoff #${i}`, () =>
    withRig('cancel-backoff', async (rig) => {
      // Creating the Job answers 503 (through a real proxy): the attempt fails, Temporal backs off.
      const { proxy, kubeconfig } = await proxiedWorkerKubeconfig(rig.ns);
      try {
        const rule = proxy.addRule({ method: 'POST', path: new RegExp(`^/apis/batch/v1/namespaces/${rig.ns}/jobs`), status: 503, times: 1000 });
        await rig.worker({ kubeconfig });
        const handle = await rig.start(jobInput({ ns: rig.ns, tag: `b${i}`, seconds: 120 }));
        // The backoff: the activity failed (its last failure is recorded) and waits, scheduled, for its next attempt.
        await waitFor(
          async () => {
            const pending = (await handle.describe()).raw.pendingActivities?.[0];
            return rule.hits >= 1 && pending?.lastFailure && Number(pending.state) === 1; // PENDING_ACTIVITY_STATE_SCHEDULED
          },
          { timeoutMs: 60_000, what: 'the activity in its retry backoff' },
        );
        return await cancelAndMeasure(rig, handle);
      } finally {
        await proxy.close();
      }
    }),
  );

  trial('cancel', `after a worker crash, before the heartbeat timeout #${i}`, () =>
    withRig('cancel-crash', async (rig) => {
      const first = await rig.worker();
      // A 3 s heartbeat timeout: the cancellation waits for it (the dead worker cannot answer).
      const handle = await rig.start(jobInput({ ns: rig.ns, tag: `k${i}`, seconds: 120, lines: linesFor('k', 3), companion: true }), '3s');
      await waitFor(() => rig.lines().length >= 1, { timeoutMs: 60_000, what: 'a first line' });
      first.kill('SIGKILL');
      await rig.worker();
      return cancelAndMeasure(rig, handle);
    }),
  );

  trial('cancel', `while the Job is being cleaned up #${i}`, () =>
    withRig('cancel-cleanup', async (rig) => {
      await rig.worker();
      const done = rig.observer.next((type, kind, obj) => kind === 'Job' && type === 'MODIFIED' && finished(obj), 60_000, 'the Job finished');
      const handle = await rig.start(jobInput({ ns: rig.ns, tag: `u${i}`, seconds: 2, companion: true, cleanup: 'always' }));
      await done;
      // The Job has finished: the activity is reading the final logs and deleting it (cleanup 'always').
      return cancelAndMeasure(rig, handle, { mayFinish: true });
    }),
  );

  trial('cancel', `a running DAG #${i}`, () =>
    withRig('cancel-dag', async (rig) => {
      await rig.worker();
      const step = { template: 'with-companion.yaml.njk', values: { image: 'busybox:1.36', command: 'run', podAnnotations: { 'kwok.temporal-k8s-jobs/duration': '120s' } } };
      const dag = {
        defaults: { namespace: rig.ns, cleanup: 'always', logs: { mode: 'none' } },
        steps: { a: { ...step, values: { ...step.values, tag: 'a' } }, b: { ...step, values: { ...step.values, tag: 'b' } }, c: { ...step, dependsOn: ['a'], values: { ...step.values, tag: 'c' } } },
      };
      const handle = await rig.client.workflow.start('dagWorkflow', { taskQueue: rig.taskQueue, workflowId: `rel-dag-${rig.ns}`, args: [dag, { activity: { heartbeatTimeout: '6s' } }] });
      await waitFor(() => [...rig.observer.seen.values()].filter((s) => s.kind === 'Pod').length >= 2, { timeoutMs: 60_000, what: 'both step pods' });
      const out = await cancelAndMeasure(rig, handle);
      return { ...out, duplicateJobs: rig.observer.duplicateJobs(2) };
    }),
  );
}


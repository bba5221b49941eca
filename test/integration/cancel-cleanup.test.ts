// Durable cleanup on cancellation. Temporal does not retry a cancelled activity, so a worker that dies
// while handling the cancellation of its Job must not leave the Job behind: the workflow runs a delete
// activity (outside the cancellation, retried) that another worker completes. The workflow only ends
// once the Job and its pods are gone.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { BatchV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, watchUntil } from '../helpers/stack.js';
import { killWorkers, startWorker } from '../helpers/workers.js';

const namespaces: string[] = [];

afterAll(async () => {
  killWorkers();
  for (const ns of namespaces) await deleteNamespace(ns);
});

test('a worker frozen then killed while its Job is cancelled: another worker deletes the Job before the workflow ends', async () => {
  const ns = await createTestNamespace('cancel-durable');
  namespaces.push(ns);
  const taskQueue = `cancel-${randomBytes(4).toString('hex')}`;
  const linesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-cancel-')), 'lines.txt');
  const first = await startWorker(taskQueue, linesFile);
  const client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
  try {
    const handle = await client.workflow.start('kubernetesJobWorkflow', {
      taskQueue,
      workflowId: `cancel-${randomBytes(6).toString('hex')}`,
      args: [{ template: 'job.yaml.njk', namespace: ns, values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '600s' } } }],
    });
    await watchUntil<V1Pod>(`/api/v1/namespaces/${ns}/pods`, (p) => p.status?.phase === 'Running', { what: 'a running pod' });
    // The worker never sees the cancellation (frozen), then dies: its activity times out, and
    // Temporal does not retry an activity whose cancellation was requested.
    first.kill('SIGSTOP');
    await handle.cancel();
    first.kill('SIGKILL');
    await startWorker(taskQueue, linesFile);

    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    // Checked at once: the workflow ended only after the delete was confirmed.
    const kc = kubeConfig();
    expect((await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items.map((j) => j.metadata?.name)).toEqual([]);
    expect((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns })).items.map((p) => p.metadata?.name)).toEqual([]);
    // And it reports what was asked for: cancelled (not the timed-out activity).
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  } finally {
    await client.connection.close();
  }
}, 180_000);

// A worker frozen (SIGSTOP) mid-Job past the heartbeat timeout: Temporal retries the activity on a
// second worker, which re-attaches. Then the first worker thaws (SIGCONT) and its stale attempt runs
// on beside the new one, still able to reach Kubernetes. Exactly one Job exists, no line is delivered
// twice (the stale attempt's cursor writes are fenced), and the stale attempt stops without touching
// the Job. The scenario itself is test/helpers/frozen.ts (the reliability suite repeats it).
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createTestNamespace, deleteNamespace, stackEnv } from '../helpers/stack.js';
import { frozenWorkerScenario } from '../helpers/frozen.js';
import { killWorkers, startWorker } from '../helpers/workers.js';

const namespaces: string[] = [];

afterAll(async () => {
  killWorkers();
  for (const ns of namespaces) await deleteNamespace(ns);
});

test('SIGSTOP past the heartbeat timeout, takeover, SIGCONT: one Job, every line exactly once, the stale attempt stops', async () => {
  const ns = await createTestNamespace('frozen');
  namespaces.push(ns);
  const taskQueue = `frozen-${randomBytes(4).toString('hex')}`;
  const client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
  try {
    const { result, expected, firstLines, secondLines, jobs } = await frozenWorkerScenario({
      namespace: ns,
      startWorker: (linesFile) => startWorker(taskQueue, linesFile),
      startWorkflow: (input) => client.workflow.start('kubernetesJobWorkflow', { taskQueue, workflowId: `frozen-${randomBytes(6).toString('hex')}`, args: [input] }),
    });
    expect(result.status).toBe('Succeeded');
    expect(result.reattached).toBe(true);
    const pod = result.pods[0]!.name;
    const all = [...firstLines, ...secondLines].sort((a, b) => Number(a.split(' ').pop()) - Number(b.split(' ').pop()));
    expect(all).toEqual(expected.map((l) => `${pod}/main ${l}`));
    expect(result.logLines).toBe(expected.length);
    expect(jobs.map((j) => j.metadata?.name)).toEqual([result.jobName]);
    // The stale attempt left the Job alone: not suspended, not deleted (cleanup 'never' keeps it).
    expect(jobs[0]!.spec?.suspend).not.toBe(true);
  } finally {
    await client.connection.close();
  }
}, 360_000);

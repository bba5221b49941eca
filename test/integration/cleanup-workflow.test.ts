// cleanupWorkflow on the stack, started directly (dry run) and by a Temporal Schedule created with
// the temporal CLI exactly as the README shows it: exactly the old finished Job of this package goes;
// the running, young and foreign Jobs and the kept PVC stay.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { CleanupInput, CleanupResult } from '../../src/cleanup.js';
import { cliTestSuite } from '../helpers/cli.js';
import { cleanupScene, jobNames } from '../helpers/cleanup-scene.js';
import { stackEnv, waitFor } from '../helpers/stack.js';
import { startInProcessWorker, type InProcessWorker } from '../helpers/workers.js';

// Several CLI processes per test on a shared 2-core machine.
jest.setTimeout(420_000);

const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;
const { client: temporal, namespace } = cliTestSuite();

const temporalCli = (...args: string[]) => execFileSync(path.join(env.stackBin, 'temporal'), [...args, '--address', env.temporalAddress], { encoding: 'utf8' });

describe('cleanupWorkflow', () => {
  let worker: InProcessWorker | undefined;
  afterAll(async () => worker?.stop());

  kwokIt('on a Schedule: deletes exactly the old finished Job; a dry run deletes nothing', async () => {
    const ns = await namespace('cleanup-wf');
    const scene = await cleanupScene(ns, temporal);
    const taskQueue = `cleanup-wf-${ns}`;
    const scheduleId = `cleanup-${ns}`;
    try {
      // The worker's plugin registers the cleanup activity; its namespace is the default one.
      worker = await startInProcessWorker(taskQueue, { namespace: ns, kubeConfig: { kubeconfig: env.kubeconfig } });
      const dry = (await temporal().workflow.execute('cleanupWorkflow', {
        taskQueue,
        workflowId: `cleanup-dry-${ns}`,
        args: [{ olderThan: scene.retentionSeconds(), dryRun: true } satisfies CleanupInput],
      })) as CleanupResult;
      expect(dry).toMatchObject({ dryRun: true, namespace: ns, examined: 3 });
      expect(dry.deleted.map((d) => [d.job, d.workflowId, d.state, d.workflowStatus])).toEqual([[scene.oldName, `old-${ns}`, 'Succeeded', 'COMPLETED']]);
      expect(jobNames(await scene.jobs())).toEqual(scene.before);

      // As in the README (temporal CLI v1.5.1: --type names the workflow type).
      const input = JSON.stringify({ olderThan: `${scene.retentionSeconds()}s`, namespace: ns });
      temporalCli('schedule', 'create', '--schedule-id', scheduleId, '--interval', '24h', '--task-queue', taskQueue, '--type', 'cleanupWorkflow', '--workflow-id', `cleanup-${ns}`, '--input', input);
      temporalCli('schedule', 'trigger', '--schedule-id', scheduleId);
      const schedule = temporal().schedule.getHandle(scheduleId);
      const started = await waitFor(async () => (await schedule.describe()).info.recentActions[0]?.action, { timeoutMs: 30_000, what: 'the scheduled cleanupWorkflow started' });
      const result = (await temporal().workflow.getHandle(started.workflow.workflowId).result()) as CleanupResult;
      expect(result).toMatchObject({ dryRun: false, namespace: ns, examined: 3 });
      expect(result.deleted.map((d) => [d.job, d.reason])).toEqual([[scene.oldName, expect.stringMatching(/^finished \S+ ago$/)]]);
      await scene.expectOnlyOldDeleted();
    } finally {
      await temporal().schedule.getHandle(scheduleId).delete().catch(() => undefined);
      await scene.stop();
    }
  });

  kwokIt('a bad retention fails at once, non-retryably, saying what is expected', async () => {
    worker ??= await startInProcessWorker(`cleanup-wf-bad`, { kubeConfig: { kubeconfig: env.kubeconfig } });
    const err = await temporal()
      .workflow.execute('cleanupWorkflow', { taskQueue: worker.taskQueue, workflowId: `cleanup-bad-${Date.now()}`, args: [{ olderThan: 'a week' }] })
      .catch((e: unknown) => e as Error & { cause?: { cause?: { type?: string; message?: string; nonRetryable?: boolean } } });
    expect(err?.cause?.cause).toMatchObject({ type: 'InvalidCleanupInput', nonRetryable: true });
    expect(err?.cause?.cause?.message).toBe(`olderThan must be a duration like '90s', '15m', '2h' or '7d' (or a number of seconds), got "a week"`);
  });
});

/** `temporal-k8s-jobs cancel <workflow-id>`: cancel a run or a DAG; its Jobs and pods are deleted before it ends. */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { type Io, UsageError, parse } from './common.js';
import { TEMPORAL_USAGE, connectClient, resolveTemporal, temporalFlags } from './connection.js';

export const cancelUsage = `Usage: temporal-k8s-jobs cancel <workflow-id> [--no-wait] [--address A] [--temporal-namespace N]
         [--profile NAME] [--api-key KEY] [--tls-cert FILE --tls-key FILE] [--tls-ca FILE] [--tls-server-name NAME]

Cancels a workflow started by this package ('run' or 'dag'). The activities delete the Jobs and
their pods (a DAG then runs its onExit step), then the workflow ends as cancelled; without
--no-wait this command waits for that.
${TEMPORAL_USAGE}`;

export async function cancelCommand(args: string[], io: Io): Promise<number> {
  const { values: o, positionals } = parse(
    args,
    { ...temporalFlags, 'no-wait': { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' } },
    'cancel',
  );
  if (o.help) {
    io.out(cancelUsage);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`cancel takes exactly one workflow id, got ${positionals.length}`);
  const id = positionals[0]!;
  const temporal = resolveTemporal(o);
  const { address, namespace } = temporal;
  const connection = await connectClient(temporal);
  try {
    const handle = new Client({ connection, namespace }).workflow.getHandle(id);
    let status: string;
    let taskQueue: string;
    let jobs = 'its Job';
    try {
      const d = await handle.describe();
      status = d.status.name;
      taskQueue = d.taskQueue;
      if (d.type === 'dagWorkflow') jobs = 'its running Jobs';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        io.err(`error: no workflow '${id}' in namespace '${namespace}' at ${address}\n`);
        return 1;
      }
      throw err;
    }
    if (status !== 'RUNNING') {
      io.err(`error: workflow '${id}' is already ${status.toLowerCase()}; nothing to cancel\n`);
      return 1;
    }
    await handle.cancel();
    if (o['no-wait']) {
      io.out(`cancellation requested for workflow ${id}\n`);
      return 0;
    }
    const notice = setTimeout(
      () => io.err(`still waiting: a worker on task queue '${taskQueue}' deletes ${jobs} (start one with 'temporal-k8s-jobs worker --task-queue ${taskQueue}')\n`),
      10_000,
    );
    try {
      await handle.result();
      io.err(`error: workflow '${id}' completed before the cancellation took effect\n`);
      return 1;
    } catch (err) {
      if (err instanceof CancelledFailure || (err as { cause?: unknown }).cause instanceof CancelledFailure) {
        io.out(`cancelled workflow ${id}; ${jobs} ${jobs === 'its Job' ? 'was' : 'were'} deleted\n`);
        return 0;
      }
      io.err(`error: workflow '${id}' ended with: ${(err as Error).message.split('\n')[0]}\n`);
      return 1;
    } finally {
      clearTimeout(notice);
    }
  } finally {
    await connection.close();
  }
}

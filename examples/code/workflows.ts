// Workflows that run Kubernetes Jobs (samples-typescript style: this file is bundled for the worker,
// so it imports only from `temporal-k8s-jobs/workflow` and `@temporalio/workflow`).
import { ApplicationFailure, log } from '@temporalio/workflow';
import { runDag, runKubernetesJob, type DagResult } from 'temporal-k8s-jobs/workflow';

// Large `forEach` fan-outs run their items in this child workflow: the worker must know it.
export { dagBatchWorkflow } from 'temporal-k8s-jobs/workflow';

/**
 * Pod annotations that make the local stack's simulated pods (kwok, docs/local-stack.md) return the
 * same termination message as the real container; real kubelets ignore them.
 */
const simulatedOutput = (json: string) => ({ 'kwok.temporal-k8s-jobs/message': json });

/** One Job: a templated report for a day; returns its termination message (JSON-parsed). */
export async function dailyReport(day: string): Promise<unknown> {
  const result = await runKubernetesJob({
    template: 'job.yaml.njk',
    values: {
      command: `echo "report for ${day}"; printf '{"day": "%s", "rows": 42}' "${day}" > /dev/termination-log`,
      podAnnotations: simulatedOutput(JSON.stringify({ day, rows: 42 })),
    },
    logs: { mode: 'follow' },
    timeoutSeconds: 600,
  });
  log.info('report done', { job: result.jobName });
  return result.output;
}

/** A DAG: a planner's output drives a fan-out; a fan-in gets the shard count; onExit always runs. */
export async function nightly(day: string): Promise<DagResult> {
  const result = await runDag({
    name: 'nightly',
    maxParallel: 4,
    values: { day },
    steps: {
      plan: {
        template: 'job.yaml.njk',
        values: {
          command: `printf '{"shards": ["a", "b", "c"]}' > /dev/termination-log`,
          podAnnotations: simulatedOutput('{"shards": ["a", "b", "c"]}'),
        },
      },
      shard: {
        template: 'job.yaml.njk',
        dependsOn: ['plan'],
        forEach: 'steps.plan.output.shards',
        valuesFrom: { command: "'echo processing shard ' + item + ' of ' + values.day" },
      },
      report: {
        template: 'job.yaml.njk',
        dependsOn: ['shard'],
        valuesFrom: { command: "'echo ' + string(size(steps.shard.output)) + ' shards done'" },
      },
      alert: {
        template: 'job.yaml.njk',
        dependsOn: ['shard'],
        when: "steps.shard.status == 'Failed'",
        values: { command: 'echo a shard failed' },
      },
    },
    onExit: {
      template: 'job.yaml.njk',
      valuesFrom: { command: "'echo nightly ' + values.day + ': ' + dag.status" },
    },
  });
  if (result.status !== 'Succeeded') {
    throw ApplicationFailure.nonRetryable(`nightly ${day}: ${result.status}`, 'NightlyFailed', result);
  }
  return result; // every step's status, Job names and outputs
}

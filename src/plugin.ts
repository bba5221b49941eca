import { SimplePlugin } from '@temporalio/plugin';
import type { WorkerOptions } from '@temporalio/worker';
import { createKubernetesJobActivities, type KubernetesJobActivitiesOptions } from './activities.js';
import type { KubernetesJobInput } from './types.js';
import { mergeValues } from './values.js';

/** Options of {@link KubernetesJobsPlugin}: those of the activities, plus worker-level default values. */
export interface KubernetesJobsPluginOptions extends KubernetesJobActivitiesOptions {
  /**
   * Values every Job of this worker gets, merged under each input's own values (deep merge: the
   * input wins key by key). For example a default image, luigi-style: `{ image: process.env.IMAGE }`.
   * @default {}
   */
  defaultValues?: Record<string, unknown>;
}

/**
 * A Temporal worker plugin that registers the Kubernetes Job activities. Workflows call them through
 * `runKubernetesJob` from `temporal-k8s-jobs/workflow`.
 *
 * @example
 * const worker = await Worker.create({
 *   connection, taskQueue: 'kubernetes-jobs', workflowsPath,
 *   plugins: [new KubernetesJobsPlugin({ templateDirs: ['./templates'], namespace: 'batch', defaultValues: { image: process.env.IMAGE } })],
 * });
 */
export class KubernetesJobsPlugin extends SimplePlugin {
  constructor(options: KubernetesJobsPluginOptions = {}) {
    const activities = withDefaultValues(createKubernetesJobActivities(options), options.defaultValues);
    super({
      name: 'temporal-k8s-jobs',
      // Merge with the worker's own activities; ours are prefixed so a spread cannot silently replace them.
      activities: (existing) => ({ ...(existing ?? {}), ...activities }),
    });
  }

  /**
   * Also sends heartbeats to Temporal at least every 2 s (unless the worker sets its own throttle):
   * the SDK's default (80% of the heartbeat timeout) would let progress in the UI and a workflow's
   * cancellation reach the activity up to 16 s late.
   */
  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    return { ...configured, maxHeartbeatThrottleInterval: configured.maxHeartbeatThrottleInterval ?? '2s' };
  }
}

/** The activities with `defaults` merged under every Job input's values. */
function withDefaultValues<A extends ReturnType<typeof createKubernetesJobActivities>>(activities: A, defaults: Record<string, unknown> | undefined): A {
  if (!defaults || Object.keys(defaults).length === 0) return activities;
  const run = activities.kubernetesJobsRunJob;
  return {
    ...activities,
    kubernetesJobsRunJob: (input: KubernetesJobInput) => run({ ...input, values: mergeValues(defaults, input.values ?? {}) }),
  };
}

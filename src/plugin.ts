import { SimplePlugin } from '@temporalio/plugin';
import type { WorkerOptions } from '@temporalio/worker';
import { createKubernetesJobActivities, type KubernetesJobActivitiesOptions } from './activities.js';

/**
 * Options of {@link KubernetesJobsPlugin}: those of the activities, including `defaultValues` (values
 * every Job of this worker gets, merged under each input's own values; e.g. a luigi-style default
 * image `{ image: process.env.IMAGE }`).
 */
export type KubernetesJobsPluginOptions = KubernetesJobActivitiesOptions;

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
    const activities = createKubernetesJobActivities(options);
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

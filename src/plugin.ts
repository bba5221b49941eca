import { SimplePlugin } from '@temporalio/plugin';
import { createKubernetesJobActivities, type KubernetesJobActivitiesOptions } from './activities.js';

/**
 * A Temporal worker plugin that registers the Kubernetes Job activities. Workflows call them through
 * `runKubernetesJob` from `temporal-k8s-jobs/workflow`.
 *
 * @example
 * const worker = await Worker.create({
 *   connection, taskQueue: 'kubernetes-jobs', workflowsPath,
 *   plugins: [new KubernetesJobsPlugin({ templateDirs: ['./templates'], namespace: 'batch' })],
 * });
 */
export class KubernetesJobsPlugin extends SimplePlugin {
  constructor(options: KubernetesJobActivitiesOptions = {}) {
    const activities = createKubernetesJobActivities(options);
    super({
      name: 'temporal-k8s-jobs',
      // Merge with the worker's own activities; ours are prefixed so a spread cannot silently replace them.
      activities: (existing) => ({ ...(existing ?? {}), ...activities }),
    });
  }
}

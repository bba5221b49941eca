import { SimplePlugin } from '@temporalio/plugin';
import { Runtime, type Worker, type WorkerOptions } from '@temporalio/worker';
import { createKubernetesJobActivities, type KubernetesJobActivitiesOptions } from './activities.js';

/**
 * Options of {@link KubernetesJobsPlugin}: those of the activities, including `defaultValues` (values
 * every Job of this worker gets, merged under each input's own values; e.g. a luigi-style default
 * image `{ image: process.env.IMAGE }`).
 */
export type KubernetesJobsPluginOptions = KubernetesJobActivitiesOptions;

/**
 * Activity slots of a worker that sets neither `maxConcurrentActivityTaskExecutions` nor a `tuner`.
 * A run activity holds one slot for its Job's whole life while it mostly waits on a shared watch, so
 * the SDK's default of 100 would make the 101st Job wait silently.
 */
export const DEFAULT_MAX_CONCURRENT_ACTIVITIES = 1000;
/** After a saturation message, the next one waits until this share of the slots was free again. */
const SATURATION_RESET_SHARE = 0.9;

/**
 * A Temporal worker plugin that registers the Kubernetes Job activities. Workflows call them through
 * `runKubernetesJob` from `temporal-k8s-jobs/workflow`.
 *
 * It raises the worker's activity slots to {@link DEFAULT_MAX_CONCURRENT_ACTIVITIES} unless the worker
 * sets `maxConcurrentActivityTaskExecutions` or a `tuner` itself, and logs a warning when every slot
 * is in use (further Jobs then wait in the task queue). It also caps the worker's heartbeat throttle at
 * 2 s unless the worker sets `maxHeartbeatThrottleInterval`: a run activity learns of its workflow's
 * cancellation only from a heartbeat's answer, and the SDK's default (80% of the heartbeat timeout)
 * would delay the Job's deletion by up to 16 s. The activity heartbeats only when its progress changes,
 * plus a keep-alive, so this costs idle Jobs little. (A workflow-side early delete that would make the
 * cap unnecessary is not built yet: docs/GUARANTEES.md.)
 *
 * @example
 * const worker = await Worker.create({
 *   connection, taskQueue: 'kubernetes-jobs', workflowsPath,
 *   plugins: [new KubernetesJobsPlugin({ templateDirs: ['./templates'], namespace: 'batch', defaultValues: { image: process.env.IMAGE } })],
 * });
 */
export class KubernetesJobsPlugin extends SimplePlugin {
  /** The worker's activity slots, when known (not with a tuner). */
  private slots: number | undefined;

  constructor(options: KubernetesJobsPluginOptions = {}) {
    const activities = createKubernetesJobActivities(options);
    super({
      name: 'temporal-k8s-jobs',
      // Merge with the worker's own activities; ours are prefixed so a spread cannot silently replace them.
      activities: (existing) => ({ ...(existing ?? {}), ...activities }),
    });
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = { ...super.configureWorker(options) };
    configured.maxHeartbeatThrottleInterval ??= '2s';
    if (configured.tuner) return configured;
    this.slots = configured.maxConcurrentActivityTaskExecutions ?? DEFAULT_MAX_CONCURRENT_ACTIVITIES;
    return { ...configured, maxConcurrentActivityTaskExecutions: this.slots };
  }

  override async runWorker(worker: Worker, next: (w: Worker) => Promise<void>): Promise<void> {
    const slots = this.slots;
    let warned = false;
    const subscription =
      slots === undefined
        ? undefined
        : worker.numInFlightActivities$.subscribe(() => {
            const busy = worker.getStatus().numInFlightNonLocalActivities;
            if (!warned && busy >= slots) {
              warned = true;
              Runtime.instance().logger.warn(
                `worker saturated: all ${slots} activity slots are in use (maxConcurrentActivityTaskExecutions); further Jobs wait in the task queue until one finishes`,
                { slots },
              );
            } else if (warned && busy < slots * SATURATION_RESET_SHARE) {
              warned = false;
              Runtime.instance().logger.info(`worker no longer saturated: ${busy} of ${slots} activity slots in use`, { slots, busy });
            }
          });
    try {
      await super.runWorker(worker, next);
    } finally {
      subscription?.unsubscribe();
    }
  }
}

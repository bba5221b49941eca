/**
 * Cluster-autoscaler scale-ups of the Job's unschedulable pods. A pod that stays unschedulable past
 * its grace period fails the Job only after a look at its events made after that deadline: a
 * `TriggeredScaleUp` event (cluster-autoscaler is adding a node for it) gives it a longer wait
 * ({@link unschedulableDeadline}). Events are listed only for such pods, at most once per pod per
 * deadline; a failed list is tried again at the next heartbeat (it never fails the Job).
 */
import type { KubeClient, V1Pod } from '../kube.js';
import { TRIGGERED_SCALE_UP, latestScaleUp, unschedulableDeadline, unschedulableSince, type EventLike, type ScaleUpInfo } from '../job-status.js';
import type { JobPlan } from './plan.js';

export class ScaleUpTracker {
  private readonly known = new Map<string, ScaleUpInfo>();
  private readonly pending = new Set<string>();

  /** @param onLearned called after a look at a pod's events (to evaluate the Job again at once) */
  constructor(
    private readonly kube: KubeClient,
    private readonly plan: JobPlan,
    private readonly onLearned: () => void,
  ) {}

  /** What is known of a pod's scale-ups (for `interpretJob`'s `scaleUp`). */
  readonly lookup = (pod: string): ScaleUpInfo | undefined => this.known.get(pod);

  /** Looks at the events of every unschedulable pod that is past its deadline and was not looked at since. */
  poll(pods: readonly V1Pod[], now = Date.now()): void {
    for (const p of pods) {
      const name = p.metadata?.name;
      const since = unschedulableSince(p as never);
      if (!name || since === undefined || this.pending.has(name)) continue;
      const info = this.known.get(name);
      const deadline = unschedulableDeadline(since, this.plan.unschedulableGraceMs, info?.at);
      if (now <= deadline || (info && info.checkedAt > deadline)) continue;
      this.pending.add(name);
      const checkedAt = Date.now(); // before the list: every event recorded until now is in its answer
      this.kube.counter.requests++;
      this.kube.core
        .listNamespacedEvent({ namespace: this.plan.namespace, fieldSelector: `involvedObject.name=${name},reason=${TRIGGERED_SCALE_UP}` })
        .then(
          (res) => {
            const at = latestScaleUp(res.items as EventLike[], { name, uid: p.metadata?.uid });
            this.known.set(name, { checkedAt, at: at ?? info?.at });
            this.onLearned();
          },
          () => undefined, // tried again at the next heartbeat
        )
        .finally(() => this.pending.delete(name));
    }
  }
}

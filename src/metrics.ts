/**
 * This package's own worker metrics. They go through the Temporal SDK's metric meter (the activity
 * context's, which adds the `namespace`, `taskQueue` and `activityType` tags), so they come out of
 * whatever exporter the worker's Runtime has, next to the SDK's own worker metrics: with
 * `worker --metrics-address`, the Prometheus exporter. Outside an activity (CLI commands) every hook
 * is a no-op; without a metrics exporter the SDK's meter is a no-op.
 *
 * The lifecycle calls the hooks of {@link jobMetrics}; each is one line at the place it measures.
 */
import { Context } from '@temporalio/activity';
import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter } from '@temporalio/common';
import type { V1Job } from '@kubernetes/client-node';
import { KubernetesJobsError } from './errors.js';

/** Metric names (Prometheus). */
export const METRICS = {
  started: 'temporal_k8s_jobs_started',
  succeeded: 'temporal_k8s_jobs_succeeded',
  failed: 'temporal_k8s_jobs_failed',
  duration: 'temporal_k8s_jobs_duration_seconds',
  detectionLatency: 'temporal_k8s_jobs_detection_latency_milliseconds',
  logLines: 'temporal_k8s_jobs_log_lines_delivered',
  apiErrors: 'temporal_k8s_jobs_kubernetes_api_errors',
  supervised: 'temporal_k8s_jobs_supervised',
} as const;

/**
 * Histogram buckets for the Runtime's metrics options (`histogramBucketOverrides`); the SDK's
 * default buckets (50 ms to 10 s) suit neither Job durations nor sub-second latencies.
 */
export const METRIC_BUCKETS: Record<string, number[]> = {
  [METRICS.duration]: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400],
  [METRICS.detectionLatency]: [10, 25, 50, 100, 250, 500, 1000, 1500, 2500, 5000, 10000, 30000],
};

interface Instruments {
  started: MetricCounter;
  succeeded: MetricCounter;
  failed: MetricCounter;
  duration: MetricHistogram;
  detectionLatency: MetricHistogram;
  logLines: MetricCounter;
  apiErrors: MetricCounter;
  supervised: MetricGauge;
}

const byMeter = new WeakMap<MetricMeter, Instruments>();

function create(meter: MetricMeter): Instruments {
  return {
    started: meter.createCounter(METRICS.started, '', 'Kubernetes Jobs created by this worker, by template'),
    succeeded: meter.createCounter(METRICS.succeeded, '', 'Kubernetes Jobs that succeeded, by template'),
    failed: meter.createCounter(METRICS.failed, '', 'Kubernetes Jobs (or their steps) that failed for good, by template and failure type'),
    duration: meter.createHistogram(METRICS.duration, 'float', 's', "Jobs' run time, start to Complete/Failed, by template and result"),
    detectionLatency: meter.createHistogram(
      METRICS.detectionLatency,
      'int',
      'ms',
      "From the Job's Complete/Failed condition (lastTransitionTime, which Kubernetes keeps to the second) to the worker acting on it",
    ),
    logLines: meter.createCounter(METRICS.logLines, '', 'Pod log lines delivered to the log sink'),
    apiErrors: meter.createCounter(METRICS.apiErrors, '', 'Kubernetes API errors by HTTP status (network: no answer)'),
    supervised: meter.createGauge(METRICS.supervised, 'int', '', 'Kubernetes Jobs this worker is supervising now'),
  };
}

/** The instruments on the current activity's meter, or undefined outside an activity. */
function instruments(): { m: Instruments; taskQueue: string } | undefined {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return undefined;
  }
  const meter = ctx.metricMeter;
  let m = byMeter.get(meter);
  if (!m) byMeter.set(meter, (m = create(meter)));
  return { m, taskQueue: ctx.info.taskQueue };
}

/** Jobs supervised now, per task queue (the gauge is set, so it is kept here). */
const supervising = new Map<string, number>();

function supervise(delta: number): void {
  const i = instruments();
  if (!i) return;
  const n = (supervising.get(i.taskQueue) ?? 0) + delta;
  supervising.set(i.taskQueue, n);
  i.m.supervised.set(n);
}

/** A Kubernetes time in milliseconds. */
const toMs = (t: Date | string | undefined) => (t ? new Date(t).getTime() : undefined);

/** The hooks the lifecycle calls. */
export const jobMetrics = {
  /** Around one run activity: the supervised gauge while it runs, then succeeded or failed (non-retryable failures only). */
  async run<T extends { status: string }>(template: string, body: () => Promise<T>): Promise<T> {
    supervise(+1);
    try {
      const r = await body();
      if (r.status === 'Succeeded') instruments()?.m.succeeded.add(1, { template });
      return r;
    } catch (err) {
      if (err instanceof KubernetesJobsError && err.nonRetryable) instruments()?.m.failed.add(1, { template, failure_type: err.type });
      throw err;
    } finally {
      supervise(-1);
    }
  },

  /** A Job was created (not re-attached to). */
  started(template: string): void {
    instruments()?.m.started.add(1, { template });
  },

  /**
   * The watch saw the Job's final state: its run time (start to its Complete/Failed condition, else
   * to now) and how long after that condition the worker acts on it.
   */
  finished(template: string, job: V1Job | undefined, outcome: { kind: string } | 'timeout'): void {
    const i = instruments();
    if (!i || !job || outcome === 'timeout' || outcome.kind === 'running') return;
    // The condition the lifecycle acted on (as interpretJob reads them): Complete, else Failed, else FailureTarget.
    const conds = (job.status?.conditions ?? []).filter((c) => c.status === 'True');
    const cond = ['Complete', 'Failed', 'FailureTarget'].map((t) => conds.find((c) => c.type === t)).find((c) => c);
    const end = toMs(cond?.lastTransitionTime);
    const start = toMs(job.status?.startTime) ?? toMs(job.metadata?.creationTimestamp);
    if (start !== undefined) i.m.duration.record(Math.max(0, ((end ?? Date.now()) - start) / 1000), { template, result: outcome.kind });
    if (end !== undefined) i.m.detectionLatency.record(Math.max(0, Date.now() - end), { template });
  },

  /** Wraps a log sink to count the lines it is given. */
  countLines<F extends (...args: never[]) => unknown>(sink: F): F {
    const counter = instruments()?.m.logLines;
    if (!counter) return sink;
    return ((...args: Parameters<F>) => {
      counter.add(1);
      return sink(...args);
    }) as F;
  },

  /** An error answer (or none: `network`) from the Kubernetes API. */
  apiError(status: number | string | undefined): void {
    instruments()?.m.apiErrors.add(1, { status: String(status ?? 'network') });
  },
};

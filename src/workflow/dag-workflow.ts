/**
 * DAGs of Jobs inside a workflow: `runDag`, the ready workflow `dagWorkflow`, and `dagBatchWorkflow`
 * (the child workflow that runs one batch of a large `forEach`). Workflow code: deterministic, only
 * sandbox-safe imports.
 *
 * How a DAG runs:
 * 1. `validateDag` (pure) and one activity that checks every template exists on the worker. Any
 *    problem fails the DAG with `InvalidDag` before a single Job is created.
 * 2. Steps start in {@link startOrder} as soon as all their dependencies finished, each in its own
 *    cancellation scope. `when` decides whether a step runs; without it, only if every dependency
 *    succeeded. Jobs take permits of the DAG's `maxParallel` (and of the step's, for `forEach`) while
 *    they run, so the bound holds at the cluster.
 * 3. A failed step with `failFast` cancels every running step (their activities delete their Jobs)
 *    and starts nothing new.
 * 4. `onExit` runs last, in a non-cancellable scope: after success, after failure and after the DAG
 *    was cancelled.
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  condition,
  defineQuery,
  defineSignal,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { DAG_STATE_QUERY, type Dag, type DagExitStep, type DagItemCounts, type DagResult, type DagStatus, type DagStep, type DagStepState, type RunDagOptions } from '../dag-types.js';
import { FailureType } from '../failures.js';
import type { KubernetesJobInput, StepView } from '../types.js';
import { evaluateCel, type CelScope } from './cel.js';
import { InvalidDagError, stepActivityId, startOrder, upstreamSets, validateDag } from './dag.js';
import { runKubernetesJob } from './index.js';

/** The `dagState` query: the live {@link DagResult} (status `Running` while the DAG runs). */
export const dagStateQuery = defineQuery<DagResult>(DAG_STATE_QUERY);

/** Default of {@link RunDagOptions.batchSize}. */
export const DEFAULT_BATCH_SIZE = 200;

/**
 * Activities and child workflows one DAG workflow keeps pending at most (Temporal refuses more than
 * 2,000 of each); further Jobs wait for a slot.
 */
export const MAX_PENDING_IN_WORKFLOW = 1000;

/** A `forEach` runs in child workflows once the parent's history would pass this many events. */
const HISTORY_BUDGET = 30_000;
/**
 * History events one Job adds to the workflow that runs it (scheduled, started, completed, tasks), for
 * the run activity and the release activity that follows it.
 */
const EVENTS_PER_JOB = 16;

/**
 * Upper bound of the upstream views (`steps`) one Job's input may carry. Every Job's input is
 * stored in history: 200 Jobs of a batch x 128 KiB stays well inside Temporal's 50 MB history limit.
 */
export const MAX_STEPS_VIEW_BYTES = 128 * 1024;

/** Sent by a batch child to its parent when an item fails, so failFast acts at once. */
const batchItemFailedSignal = defineSignal<[string]>('dagBatchItemFailed');

interface CheckTemplatesActivity {
  kubernetesJobsCheckTemplates(templates: string[]): Promise<Array<{ template: string; problem: string }>>;
}

/** Outcome of one Job of a step. `NotStarted`: cancelled (failFast or the DAG) before it started. */
interface ItemResult {
  status: 'Succeeded' | 'Failed' | 'Cancelled' | 'NotStarted';
  jobName?: string;
  output?: unknown;
  error?: string;
}

/** Input of {@link dagBatchWorkflow}: one slice of a `forEach` step's items. */
export interface DagBatchInput {
  step: string;
  /** Index of `items[0]` in the whole list (activity ids and `index` count from it). */
  startIndex: number;
  items: unknown[];
  /** Jobs of this batch running at once. */
  parallelism: number;
  failFast: boolean;
  /** The Job input without values; values are `values` + each item's `valuesFrom`. */
  job: Omit<KubernetesJobInput, 'values'>;
  values: Record<string, unknown>;
  valuesFrom?: Record<string, string>;
  steps: Record<string, StepView>;
  activity?: Partial<ActivityOptions>;
  /** Prefix of activity ids (`dag2.` for the second `runDag` of a workflow). */
  idPrefix?: string;
}

/**
 * A counting semaphore in workflow code, first come first served: a waiting acquire of several
 * permits (a batch) is not overtaken by later single ones. Deterministic: waiters are woken in order by
 * the SDK's condition checks. A waiter whose scope is cancelled leaves the queue (or gives back what it
 * was granted) and throws.
 */
class Permits {
  private readonly queue: { n: number; granted: boolean }[] = [];
  constructor(private free: number) {}
  /** Takes `n` permits now if they are free and nobody waits; synchronous, so uncontended takes follow call order. */
  tryAcquire(n = 1): boolean {
    if (this.queue.length || this.free < n) return false;
    this.free -= n;
    return true;
  }
  async acquire(n = 1): Promise<void> {
    if (this.tryAcquire(n)) return;
    const waiter = { n, granted: false };
    this.queue.push(waiter);
    try {
      await condition(() => waiter.granted);
    } catch (err) {
      if (waiter.granted) this.release(n);
      else {
        this.queue.splice(this.queue.indexOf(waiter), 1);
        this.pump();
      }
      throw err;
    }
  }
  release(n = 1): void {
    this.free += n;
    this.pump();
  }
  private pump(): void {
    while (this.queue.length && this.free >= this.queue[0]!.n) {
      const w = this.queue.shift()!;
      this.free -= w.n;
      w.granted = true;
    }
  }
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Deep merge of value mappings: `over` wins; nested mappings merge, lists are replaced. */
export function mergeStepValues(base: Record<string, unknown> | undefined, over: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(over ?? {})) {
    const merged = isPlainObject(v) && isPlainObject(out[k]) ? mergeStepValues(out[k] as Record<string, unknown>, v) : v;
    // defineProperty: a key named `__proto__` stays a plain key instead of setting the prototype.
    Object.defineProperty(out, k, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** `<FailureType>: <message>` of a failed activity or child workflow. */
function describeError(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause && !(e instanceof ApplicationFailure)) e = e.cause;
  if (e instanceof ApplicationFailure) return `${e.type ?? 'Error'}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** The Job named in a failure message (`Job 'ns/name' ...`), for the step's state. */
function jobNameIn(message: string): string | undefined {
  return /Job '[^'/]+\/([^']+)'/.exec(message)?.[1];
}

function nowIso(): string {
  return new Date().toISOString();
}

/** The Job input of a step: DAG defaults, then the step's own options. */
function jobInput(dag: Pick<Dag, 'defaults'>, step: DagStep | DagExitStep): Omit<KubernetesJobInput, 'values'> {
  const d = dag.defaults ?? {};
  const pick = <K extends keyof KubernetesJobInput>(k: K) => (step as KubernetesJobInput)[k] ?? (d as KubernetesJobInput)[k];
  const input: Omit<KubernetesJobInput, 'values'> = { template: step.template };
  for (const k of ['namespace', 'name', 'cleanup', 'timeoutSeconds', 'failFastGraceSeconds', 'unschedulableGraceSeconds', 'writeRenderedTo'] as const) {
    const v = pick(k);
    if (v !== undefined) (input as Record<string, unknown>)[k] = v;
  }
  const logs = { ...(d.logs ?? {}), ...(step.logs ?? {}) };
  if (Object.keys(logs).length) input.logs = logs;
  return input;
}

/** Values of one Job: the merged values plus each `valuesFrom` expression's result. */
function evaluateValues(valuesFrom: Record<string, string> | undefined, scope: CelScope, values: Record<string, unknown>, steps: Record<string, StepView>, extra: { item?: unknown; index?: number; dag?: Record<string, unknown> }): Record<string, unknown> {
  const out: Record<string, unknown> = { ...values };
  for (const [key, expr] of Object.entries(valuesFrom ?? {})) {
    try {
      out[key] = evaluateCel(expr, scope, { steps, values, ...extra });
    } catch (err) {
      throw ApplicationFailure.create({ type: FailureType.TemplateError, message: `valuesFrom.${key} (${JSON.stringify(expr)}): ${(err as Error).message}`, nonRetryable: true });
    }
  }
  if (scope === 'item') Object.assign(out, { item: extra.item, index: extra.index });
  return out;
}

/**
 * Runs one Job for a step under the given permits (taken in order, released at the end). Never throws:
 * the outcome is in the result.
 */
async function runJobUnderPermits(activityId: string, permits: Permits[], makeInput: () => KubernetesJobInput, activity: Partial<ActivityOptions> | undefined, onStart?: () => void): Promise<ItemResult> {
  const held: Permits[] = [];
  try {
    for (const p of permits) {
      if (!p.tryAcquire(1)) await p.acquire(1);
      held.push(p);
    }
    onStart?.();
    const input = makeInput();
    const r = await runKubernetesJob(input, { ...(activity ?? {}), activityId });
    return { status: 'Succeeded', jobName: r.jobName, output: r.output };
  } catch (err) {
    if (isCancellation(err)) return { status: held.length === permits.length ? 'Cancelled' : 'NotStarted' };
    const error = describeError(err);
    const jobName = jobNameIn(error);
    return { status: 'Failed', error, ...(jobName ? { jobName } : {}) };
  } finally {
    for (const p of held) p.release(1);
  }
}

/**
 * Runs items of a `forEach` step (all of them, or one batch) with at most `parallelism` at once.
 * With `failFast`, the first failure cancels the items still running and starts no more.
 */
async function runItems(
  input: Omit<DagBatchInput, 'parallelism'> & { permits: Permits[] },
  onUpdate: (index: number, r: ItemResult | 'running') => void,
  onFailed: () => void,
): Promise<ItemResult[]> {
  const scope = new CancellationScope();
  let failed = false;
  return scope.run(() =>
    Promise.all(
      input.items.map(async (item, i) => {
        const index = input.startIndex + i;
        const r = await runJobUnderPermits(
          stepActivityId(input.step, index, input.idPrefix),
          input.permits,
          () => ({ ...input.job, values: evaluateValues(input.valuesFrom, 'item', input.values, input.steps, { item, index }), steps: input.steps }),
          input.activity,
          () => onUpdate(index, 'running'),
        );
        onUpdate(index, r);
        if (r.status === 'Failed' && input.failFast && !failed) {
          failed = true;
          onFailed();
          scope.cancel();
        }
        return r;
      }),
    ),
  );
}

/**
 * A child workflow that runs one batch of a large `forEach` step (see {@link RunDagOptions.batchSize}).
 * Register it on workers that run DAGs: it is exported from `temporal-k8s-jobs/workflow`, so a
 * workflows file that re-exports that entry (or `dagBatchWorkflow` from it) has it.
 */
export async function dagBatchWorkflow(input: DagBatchInput): Promise<ItemResult[]> {
  const parent = workflowInfo().parent;
  return runItems({ ...input, permits: [new Permits(input.parallelism)] }, () => undefined, () => {
    // Tell the parent at once, so it stops the rest of the DAG while this batch deletes its Jobs. Not
    // cancellable: the batch's own scope is cancelled right after this, which would drop the signal.
    if (parent) {
      void CancellationScope.nonCancellable(() => getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(batchItemFailedSignal, input.step)).catch(() => undefined);
    }
  });
}

function emptyCounts(total: number): DagItemCounts {
  return { total, pending: total, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 };
}

const COUNT_KEY: Record<ItemResult['status'], keyof DagItemCounts> = { Succeeded: 'succeeded', Failed: 'failed', Cancelled: 'cancelled', NotStarted: 'skipped' };

/**
 * Runs a DAG of Jobs inside the calling workflow and returns every step's outcome. Also answers the
 * `dagState` query with live progress. On cancellation of the calling workflow, running Jobs are
 * deleted, `onExit` runs, then `CancelledFailure` is thrown.
 *
 * A `forEach` with more than `options.batchSize` items (default 200) runs in child workflows
 * (`dagBatchWorkflow`, which must be registered on the worker: it is exported by this entry).
 *
 * @throws ApplicationFailure of type `InvalidDag` (nothing was started) when the DAG is invalid or a
 *   template is missing on the worker.
 * @example
 * const result = await runDag({ steps: { hello: { template: 'job.yaml.njk', values: { image: 'busybox', command: 'echo hi' } } } });
 * if (result.status !== 'Succeeded') throw ApplicationFailure.nonRetryable('DAG failed');
 */
export async function runDag(input: Dag, options: RunDagOptions = {}): Promise<DagResult> {
  let dag: Dag;
  try {
    dag = validateDag(input);
  } catch (err) {
    if (err instanceof InvalidDagError) throw invalidDag(err.problems);
    throw err;
  }
  if (options.batchSize !== undefined && !(Number.isInteger(options.batchSize) && options.batchSize >= 1)) {
    throw invalidDag([`option batchSize must be a whole number >= 1, got ${JSON.stringify(options.batchSize)}`]);
  }
  // Activity and child ids of a second runDag in the same workflow must not collide with the first's.
  runDagCalls++;
  const idPrefix = runDagCalls === 1 ? '' : `dag${runDagCalls}.`;
  const activity = options.activity as Partial<ActivityOptions> | undefined;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const names = Object.keys(dag.steps);
  const order = startOrder(dag);
  const upstream = upstreamSets(dag);
  const failFast = dag.failFast ?? true;
  const state: DagResult = { status: 'Running', steps: Object.fromEntries(names.map((n) => [n, { status: 'Pending' } as DagStepState])) };
  if (dag.onExit) state.onExit = { status: 'Pending' };
  setHandler(dagStateQuery, () => state);

  try {
    await checkTemplates(dag, idPrefix);
  } catch (err) {
    state.status = isCancellation(err) ? 'Cancelled' : 'Failed';
    for (const n of names) Object.assign(state.steps[n]!, { status: 'Skipped', reason: `not started: ${isCancellation(err) ? 'the DAG was cancelled' : 'the DAG was rejected'}` });
    throw err;
  }

  const root = CancellationScope.current();
  const dagPermits = new Permits(dag.maxParallel ?? Infinity);
  // Activities and children pending in this workflow, whatever the DAG's own bounds.
  const slots = new Permits(MAX_PENDING_IN_WORKFLOW);
  const scopes = new Set<CancellationScope>();
  let stopReason: string | undefined;
  const stop = (failedStep: string) => {
    if (!failFast || stopReason) return;
    stopReason = `not started: step '${failedStep}' failed (failFast)`;
    for (const s of scopes) s.cancel();
  };
  setHandler(batchItemFailedSignal, (step) => {
    if (step.startsWith(idPrefix) && dag.steps[step.slice(idPrefix.length)]) stop(step.slice(idPrefix.length));
  });
  const views = (of: Iterable<string>): Record<string, StepView> => {
    const out: Record<string, StepView> = {};
    // Every key present (null when unknown), so CEL like `steps.a.output == 'x'` never fails on a missing key.
    for (const n of of) {
      const s = state.steps[n]!;
      out[n] = { status: s.status as StepView['status'], jobName: s.jobName ?? null, output: s.output ?? null } as StepView;
    }
    return out;
  };
  const finish = (s: DagStepState, status: DagStepState['status'], extra: Partial<DagStepState> = {}) => {
    Object.assign(s, extra, { status, finishedAt: nowIso() });
  };
  const cancelReason = () => (root.consideredCancelled ? 'the DAG was cancelled' : (stopReason?.replace('not started: ', '') ?? 'cancelled'));

  const runStep = async (name: string): Promise<void> => {
    const step = dag.steps[name]!;
    const s = state.steps[name]!;
    if (root.consideredCancelled) return finish(s, 'Skipped', { reason: 'not started: the DAG was cancelled' });
    // After a failure with failFast, only steps whose `when` says so (fallbacks, finalisers) still start.
    if (stopReason && step.when === undefined) return finish(s, 'Skipped', { reason: stopReason });
    const steps = views(upstream.get(name)!);
    const values = mergeStepValues(dag.values, step.values);
    if (step.when !== undefined) {
      let ok: unknown;
      try {
        ok = evaluateCel(step.when, 'step', { steps, values });
      } catch (err) {
        finish(s, 'Failed', { error: `when (${JSON.stringify(step.when)}): ${(err as Error).message}` });
        return stop(name);
      }
      if (typeof ok !== 'boolean') {
        finish(s, 'Failed', { error: `when (${JSON.stringify(step.when)}) must give true or false; it gave ${JSON.stringify(ok)}` });
        return stop(name);
      }
      if (!ok) return finish(s, 'Skipped', { reason: `when is false: ${step.when}` });
    } else {
      const notOk = (step.dependsOn ?? []).filter((d) => state.steps[d]!.status !== 'Succeeded');
      if (notOk.length) return finish(s, 'Skipped', { reason: `dependency ${notOk.map((d) => `'${d}' ${state.steps[d]!.status.toLowerCase()}`).join(', ')}` });
    }
    const viewBytes = JSON.stringify(steps).length;
    if (viewBytes > MAX_STEPS_VIEW_BYTES) {
      finish(s, 'Failed', {
        error: `the upstream outputs this step's Jobs would carry (steps.<name>) are ${viewBytes} bytes, over the ${MAX_STEPS_VIEW_BYTES}-byte limit per Job input: keep outputs small (a path or a count), and pass what each item needs through forEach/valuesFrom`,
      });
      return stop(name);
    }
    const scope = new CancellationScope();
    scopes.add(scope);
    try {
      await scope.run(() => (step.forEach === undefined ? runSingle(name, step, s, steps, values) : runForEach(name, step, s, steps, values)));
    } finally {
      scopes.delete(scope);
    }
    if (s.status === 'Failed') stop(name);
  };

  const runSingle = async (name: string, step: DagStep, s: DagStepState, steps: Record<string, StepView>, values: Record<string, unknown>) => {
    const r = await runJobUnderPermits(
      stepActivityId(name, undefined, idPrefix),
      [dagPermits, slots],
      () => ({ ...jobInput(dag, step), values: evaluateValues(step.valuesFrom, 'step', values, steps, {}), steps }),
      activity,
      () => Object.assign(s, { status: 'Running', startedAt: nowIso() }),
    );
    if (r.status === 'NotStarted') return finish(s, 'Skipped', { reason: stopReason ?? 'not started: the DAG was cancelled' });
    if (r.status === 'Cancelled') return finish(s, 'Cancelled', { reason: cancelReason() });
    finish(s, r.status, {
      ...(r.jobName !== undefined ? { jobName: r.jobName } : {}),
      ...(r.output !== undefined ? { output: r.output } : {}),
      ...(r.error !== undefined ? { error: r.error } : {}),
    });
  };

  const runForEach = async (name: string, step: DagStep, s: DagStepState, steps: Record<string, StepView>, values: Record<string, unknown>) => {
    let items: unknown[];
    if (Array.isArray(step.forEach)) items = step.forEach;
    else {
      let v: unknown;
      try {
        v = evaluateCel(step.forEach as string, 'step', { steps, values });
      } catch (err) {
        return finish(s, 'Failed', { error: `forEach (${JSON.stringify(step.forEach)}): ${(err as Error).message}` });
      }
      if (!Array.isArray(v)) return finish(s, 'Failed', { error: `forEach (${JSON.stringify(step.forEach)}) must give a list; it gave ${JSON.stringify(v)?.slice(0, 200)}` });
      items = v;
    }
    const counts = emptyCounts(items.length);
    const jobNames: string[] = new Array<string>(items.length).fill('');
    const outputs: unknown[] = new Array<unknown>(items.length).fill(null);
    let firstError: string | undefined;
    Object.assign(s, { status: 'Running', startedAt: nowIso(), items: counts, jobName: jobNames, output: outputs });
    const record = (index: number, r: ItemResult | 'running') => {
      if (r === 'running') {
        counts.pending--;
        counts.running++;
        return;
      }
      if (r.status === 'NotStarted') counts.pending--;
      else counts.running--;
      counts[COUNT_KEY[r.status]]++;
      if (r.jobName) jobNames[index] = r.jobName;
      if (r.status === 'Succeeded') outputs[index] = r.output ?? null;
      if (r.status === 'Failed' && firstError === undefined) firstError = `item ${index}: ${r.error}`;
    };
    const stepPermits = new Permits(step.maxParallel ?? Infinity);
    const job = jobInput(dag, step);
    const common = { step: name, job, values, steps, failFast, activity, idPrefix, ...(step.valuesFrom ? { valuesFrom: step.valuesFrom } : {}) };
    // Children when the list is large, or when running it here would bring this history near its limit.
    const inChildren = items.length > batchSize || workflowInfo().historyLength + items.length * EVENTS_PER_JOB > HISTORY_BUDGET;
    if (!inChildren) {
      await runItems({ ...common, startIndex: 0, items, permits: [stepPermits, dagPermits, slots] }, record, () => stop(name));
    } else {
      await runBatches(name, items, common, Math.min(step.maxParallel ?? Infinity, dag.maxParallel ?? Infinity, batchSize), [stepPermits, dagPermits], record);
    }
    // Items that did not run to an end (cancelled, or never started after failFast or a cancellation) make the step Cancelled.
    const status: DagStepState['status'] = counts.failed > 0 ? 'Failed' : counts.cancelled + counts.skipped > 0 ? 'Cancelled' : 'Succeeded';
    finish(s, status, { ...(firstError ? { error: firstError } : {}), ...(status === 'Cancelled' ? { reason: cancelReason() } : {}) });
  };

  /** Items in child workflows of at most `batchSize` items, each holding `k` permits of every bound while it runs. */
  const runBatches = async (
    name: string,
    items: unknown[],
    common: Omit<DagBatchInput, 'startIndex' | 'items' | 'parallelism'>,
    perBatch: number,
    permits: Permits[],
    record: (index: number, r: ItemResult | 'running') => void,
  ) => {
    const info = workflowInfo();
    const size = Math.min(batchSize, Math.max(1, Math.ceil(items.length / Math.ceil(items.length / batchSize))));
    const batches: { start: number; items: unknown[] }[] = [];
    for (let i = 0; i < items.length; i += size) batches.push({ start: i, items: items.slice(i, i + size) });
    const scope = new CancellationScope();
    const failed = () => {
      stop(name);
      if (common.failFast) scope.cancel();
    };
    await scope.run(() =>
      Promise.all(
        batches.map(async (b, j) => {
          const k = Math.min(perBatch, b.items.length);
          const held: { p: Permits; n: number }[] = [];
          const each = (r: ItemResult) =>
            b.items.forEach((_, i) => {
              if (r.status !== 'NotStarted') record(b.start + i, 'running');
              record(b.start + i, r);
            });
          try {
            for (const [p, n] of [...permits.map((p) => [p, k] as const), [slots, 1] as const]) {
              if (!p.tryAcquire(n)) await p.acquire(n);
              held.push({ p, n });
            }
            const results = await executeChild(dagBatchWorkflow, {
              args: [{ ...common, startIndex: b.start, items: b.items, parallelism: k }],
              workflowId: `${info.workflowId}/${common.idPrefix ?? ''}${name}/batch-${j}`,
              parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
            });
            results.forEach((r, i) => {
              if (r.status !== 'NotStarted') record(b.start + i, 'running');
              record(b.start + i, r);
            });
            if (results.some((r) => r.status === 'Failed')) failed();
          } catch (err) {
            if (isCancellation(err)) each({ status: held.length === permits.length + 1 ? 'Cancelled' : 'NotStarted' });
            else {
              // The child itself failed (terminated, or could not start): its items' outcomes are unknown.
              each({ status: 'Failed', error: `batch ${j} (items ${b.start}-${b.start + b.items.length - 1}): ${describeError(err)}` });
              failed();
            }
          } finally {
            for (const { p, n } of held) p.release(n);
          }
        }),
      ),
    );
  };

  // Start every step whose dependencies have finished, in start order; wait for any to finish; repeat.
  const started = new Set<string>();
  const done = new Set<string>();
  const running = new Map<string, Promise<void>>();
  while (done.size < order.length) {
    for (const name of order) {
      if (started.has(name) || !(dag.steps[name]!.dependsOn ?? []).every((d) => done.has(d))) continue;
      started.add(name);
      running.set(
        name,
        runStep(name).then(() => {
          done.add(name);
          running.delete(name);
        }),
      );
    }
    await Promise.race(running.values());
  }

  const cancelled = root.consideredCancelled;
  const failedSteps = names.filter((n) => state.steps[n]!.status === 'Failed');
  let status: DagStatus = failedSteps.length ? 'Failed' : cancelled || names.some((n) => state.steps[n]!.status === 'Cancelled') ? 'Cancelled' : 'Succeeded';

  if (dag.onExit) {
    const exit = dag.onExit;
    const s = state.onExit!;
    const steps = views(names);
    const values = mergeStepValues(dag.values, exit.values);
    const dagView = { status, name: dag.name ?? workflowInfo().workflowId };
    // Not cancellable: it runs after the DAG was cancelled, too.
    await CancellationScope.nonCancellable(async () => {
      const r = await runJobUnderPermits(
        stepActivityId('onExit', undefined, idPrefix),
        [],
        () => ({ ...jobInput(dag, exit), values: evaluateValues(exit.valuesFrom, 'exit', values, steps, { dag: dagView }), steps }),
        activity,
        () => Object.assign(s, { status: 'Running', startedAt: nowIso() }),
      );
      finish(s, r.status === 'NotStarted' ? 'Skipped' : r.status, {
        ...(r.jobName !== undefined ? { jobName: r.jobName } : {}),
        ...(r.output !== undefined ? { output: r.output } : {}),
        ...(r.error !== undefined ? { error: r.error } : {}),
      });
    });
    if (s.status === 'Failed' && status === 'Succeeded') status = 'Failed';
  }
  state.status = status;
  if (cancelled) throw new CancelledFailure('the DAG was cancelled; its running Jobs were deleted');
  return state;
}

/** Calls of runDag in this workflow execution (workflow globals are per execution). */
let runDagCalls = 0;

function invalidDag(problems: string[]): ApplicationFailure {
  const e = new InvalidDagError(problems);
  return ApplicationFailure.create({ type: FailureType.InvalidDag, message: e.message, nonRetryable: true, details: [problems] });
}

/** Asks a worker whether every template of the DAG exists there; fails with `InvalidDag` if not. */
async function checkTemplates(dag: Dag, idPrefix: string): Promise<void> {
  const byTemplate = new Map<string, string[]>();
  const add = (t: string, who: string) => byTemplate.set(t, [...(byTemplate.get(t) ?? []), who]);
  for (const [n, s] of Object.entries(dag.steps)) add(s.template, `step '${n}'`);
  if (dag.onExit) add(dag.onExit.template, 'onExit');
  const { kubernetesJobsCheckTemplates } = proxyActivities<CheckTemplatesActivity>({
    activityId: `${idPrefix}checkTemplates`,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.TemplateError] },
  });
  const missing = await kubernetesJobsCheckTemplates([...byTemplate.keys()]);
  if (missing.length) throw invalidDag(missing.map((m) => `${(byTemplate.get(m.template) ?? []).join(', ')}: ${m.problem}`));
}

/**
 * A ready workflow that runs a DAG (what `temporal-k8s-jobs dag` starts). Returns the result when
 * every step succeeded; otherwise fails with `DagFailed` (the {@link DagResult} is the failure's first
 * detail), or is cancelled. Answers the `dagState` query while it runs and after.
 */
export async function dagWorkflow(dag: Dag, options: RunDagOptions = {}): Promise<DagResult> {
  const result = await runDag(dag, options);
  if (result.status !== 'Succeeded') {
    const failed = Object.entries(result.steps)
      .filter(([, s]) => s.status === 'Failed')
      .map(([n, s]) => `${n} (${s.error ?? 'failed'})`);
    if (result.onExit?.status === 'Failed') failed.push(`onExit (${result.onExit.error ?? 'failed'})`);
    throw ApplicationFailure.create({
      type: FailureType.DagFailed,
      message: failed.length ? `DAG failed: ${failed.join('; ')}` : `DAG ${result.status.toLowerCase()}`,
      nonRetryable: true,
      details: [result],
    });
  }
  return result;
}

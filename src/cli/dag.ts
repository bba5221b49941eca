/**
 * `temporal-k8s-jobs dag <file.yaml>`: check a DAG file locally, start dagWorkflow, show every step
 * live (status, pods, item counts, log lines prefixed by step), exit 0 only if the DAG succeeded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import * as yaml from 'js-yaml';
import { DAG_STATE_QUERY, type Dag, type DagResult, type RunDagOptions } from '../dag-types.js';
import { templateProblem } from '../render.js';
import { mergeValues } from '../values.js';
import { InvalidDagError, validateDag } from '../workflow/dag.js';
import { type Io, UsageError, checkTemplateDirs, parse, renderOptions, stdio, valuesFromArgs } from './common.js';
import { ON_EXIT, fitToHeight, frame, itemProgressLines, logPrefix, statusChangeLines, stepLines, stepOfActivity, summaryLine, type RunningJob } from './dag-view.js';
import { ProgressPrinter, describeFailure, type HeartbeatDetails } from './run.js';
import {
  CONNECTION_USAGE,
  Following,
  checkInputSize,
  decodeFirstPayload,
  externalWorkerNotes,
  noWorkerNote,
  randomHex,
  startWorkflow,
  webUiLink,
  withSession,
  type FollowOptions,
  type Outcome,
} from './session.js';
import { DEFAULT_TASK_QUEUE, connectionOptions, describeTemplateDirs, firstLine, positiveInt } from './worker.js';
import { temporalOptions } from './connection.js';

export const dagUsage = `Usage: temporal-k8s-jobs dag <file.yaml> [--set key=value]... [--set-json key=JSON]... [-f|--values FILE]...
         [--templates DIR]... [--namespace NS] [--no-wait] [--workflow-id ID] [--cancel-on-interrupt]
         [--batch-size N] [--kubeconfig FILE] [--context NAME] [--in-cluster] [--address A]
         [--temporal-namespace N] [--task-queue Q] [--verbose]

Checks a DAG file, starts the dagWorkflow for it, shows every step live and exits 0 only if the
DAG succeeded (every step that ran succeeded). Nothing starts when the file is rejected: YAML
errors (with their line), unknown keys, cycles, unknown steps, bad CEL and, with the embedded
worker, templates that are not in the template directories.

Values (for every step: merged over the file's 'values'; a step's own values still win):
  --set key=value          a string value; nested keys with dots (a.b=c)
  --set-json key=JSON      a value parsed as JSON
  -f, --values FILE        YAML values file (repeatable; later files win, --set wins over files)
Steps:
  --templates DIR          template directory of the embedded worker, searched after the DAG file's
                           own directory and before the built-in templates (repeatable)
  --namespace NS           Kubernetes namespace of every step that names none itself
Workflow:
  --workflow-id ID         workflow id (default: <DAG name, else file name>-<random>)
  --no-wait                start the DAG, print its id and exit (sends the work to the workers on
                           --task-queue, default kubernetes-jobs)
  --cancel-on-interrupt    on Ctrl-C cancel the DAG (its running Jobs are deleted, onExit runs)
                           without asking
  --batch-size N           a forEach of more than N items runs in child workflows of N items (default 200)
Connections:
${CONNECTION_USAGE}  --task-queue Q           send the DAG to the worker(s) on task queue Q: no embedded worker; they
                           look the templates up in their own template directories
  -v, --verbose            worker logs, failure details and stack traces

Without --task-queue, 'dag' starts an embedded worker in this process on a fresh task queue; it
stops when the command exits. On a terminal, one line per step is redrawn in place with log
lines scrolling above it; otherwise a line is printed for each step status change. Log lines
are prefixed with their step ('transform[3] | ' for forEach item 3). With TEMPORAL_UI_URL set,
the run's Web UI link is printed. Ctrl-C as for 'run'; 'temporal-k8s-jobs cancel <id>' cancels
a DAG too.
Exit codes: 0 the DAG succeeded, 1 a step failed or the DAG was rejected, 2 usage error, 130 interrupted.
`;

const dagFlags = {
  ...renderOptions,
  ...connectionOptions,
  'no-wait': { type: 'boolean' },
  'workflow-id': { type: 'string' },
  'cancel-on-interrupt': { type: 'boolean' },
  'batch-size': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Everything `dag` needs from its command line (see {@link parseDagArgs}). */
export interface DagOptions extends FollowOptions {
  file: string;
  /** Values from --set/--set-json/-f, merged over the file's values. */
  values: Record<string, unknown>;
  /** Kubernetes namespace for steps that name none (the DAG's `defaults.namespace`). */
  namespace?: string;
  /** The workflow id given with --workflow-id (else derived from the DAG's name). */
  workflowId?: string;
  batchSize?: number;
}

/**
 * Parses and checks `dag`'s flags without reading the DAG file or touching the network: bad flags
 * are {@link UsageError}s (exit 2); bad values files or `--set` syntax are ValuesErrors (exit 1).
 */
export function parseDagArgs(args: string[], env: NodeJS.ProcessEnv = process.env): DagOptions {
  const { values: o, positionals } = parse(args, dagFlags, 'dag');
  const base = {
    ...temporalOptions(o, env),
    verbose: !!o.verbose,
    notes: [] as string[],
  };
  if (o.help) {
    return { ...base, help: true, file: '', values: {}, templateDirs: [], wait: true, embeddedWorker: true, cancelOnInterrupt: false, taskQueue: '', kube: {} };
  }
  if (positionals.length !== 1) throw new UsageError(`dag takes exactly one DAG file, got ${positionals.length}`);
  const file = positionals[0]!;
  if (o['workflow-id'] !== undefined && !o['workflow-id'].trim()) throw new UsageError('--workflow-id must not be empty');
  if (o.namespace !== undefined && !o.namespace.trim()) throw new UsageError('--namespace must not be empty');
  const batchSize = positiveInt('--batch-size', o['batch-size']);
  const userDirs: string[] = o.templates ?? [];
  checkTemplateDirs(userDirs);
  const wait = !o['no-wait'];
  const queueNamed = !!o['task-queue'];
  const embeddedWorker = !queueNamed && wait;
  if (!wait && !queueNamed) {
    base.notes.push(`--no-wait sends the DAG to the worker(s) of task queue '${DEFAULT_TASK_QUEUE}': an embedded worker would stop when this command exits`);
  }
  if (!embeddedWorker) base.notes.push(...externalWorkerNotes(o));
  return {
    ...base,
    help: false,
    file,
    values: valuesFromArgs(args),
    namespace: o.namespace,
    templateDirs: [path.dirname(file), ...userDirs],
    wait,
    embeddedWorker,
    workflowId: o['workflow-id'],
    cancelOnInterrupt: !!o['cancel-on-interrupt'],
    batchSize,
    taskQueue: o['task-queue'] || (embeddedWorker ? `tkj-dag-${randomHex(4)}` : DEFAULT_TASK_QUEUE),
    kube: { kubeconfig: o.kubeconfig, context: o.context, inCluster: o['in-cluster'] },
    // Steps' writeRenderedTo (relative) lands under the directory the command runs in.
    ...(embeddedWorker ? { renderedOutputDir: process.cwd() } : {}),
  };
}

/** A DAG file that cannot run: one problem per line, nothing was started. */
export class DagFileError extends Error {
  override readonly name = 'DagFileError';
}

function isMapping(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Parses a DAG file's text, merges the command line's values over its `values` and its namespace
 * into `defaults`, and validates it. Throws {@link DagFileError} naming the file (and the line of a
 * YAML error, or every problem of the DAG).
 */
export function parseDagText(text: string, file: string, extra: { values?: Record<string, unknown>; namespace?: string } = {}): Dag {
  if (!text.split('\n').some((l) => l.trim() && !l.trim().startsWith('#'))) throw new DagFileError(`${file}: the file is empty (a DAG needs at least 'steps')`);
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    const e = err as yaml.YAMLException;
    const where = e.mark ? `${file}:${e.mark.line + 1}:${e.mark.column + 1}` : file;
    throw new DagFileError(`${where}: not valid YAML: ${e.reason ?? firstLine(e)}`);
  }
  if (doc === undefined || doc === null) throw new DagFileError(`${file}: the file is empty (a DAG needs at least 'steps')`);
  if (isMapping(doc)) {
    if (extra.values && Object.keys(extra.values).length && (doc.values === undefined || isMapping(doc.values))) {
      doc.values = mergeValues((doc.values as Record<string, unknown> | undefined) ?? {}, extra.values);
    }
    if (extra.namespace !== undefined && (doc.defaults === undefined || isMapping(doc.defaults))) {
      doc.defaults = { ...((doc.defaults as Record<string, unknown> | undefined) ?? {}), namespace: extra.namespace };
    }
  }
  try {
    return validateDag(doc);
  } catch (err) {
    if (err instanceof InvalidDagError) throw new DagFileError(`${file}: ${err.message}`);
    throw err;
  }
}

/** Reads and checks a DAG file (see {@link parseDagText}). */
export function loadDagFile(file: string, extra: { values?: Record<string, unknown>; namespace?: string } = {}): Dag {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DagFileError(`cannot read DAG file '${file}': ${(err as NodeJS.ErrnoException).code ?? firstLine(err)}`);
  }
  return parseDagText(text, file, extra);
}

/** Templates of the DAG missing from `templateDirs` (then the built-in ones), one line each naming the steps. */
export function missingTemplates(dag: Dag, templateDirs: string[]): string[] {
  const users = new Map<string, string[]>();
  for (const [name, step] of Object.entries(dag.steps)) users.set(step.template, [...(users.get(step.template) ?? []), `step '${name}'`]);
  if (dag.onExit) users.set(dag.onExit.template, [...(users.get(dag.onExit.template) ?? []), ON_EXIT]);
  const problems: string[] = [];
  for (const [template, who] of users) {
    const problem = templateProblem(template, templateDirs);
    if (problem) problems.push(`${who.join(', ')}: ${problem}`);
  }
  return problems;
}

/** `<DAG name, else the file name without extensions>-<8 hex>`, DNS-safe. */
export function dagWorkflowId(dag: Pick<Dag, 'name'>, file: string, random: string = randomHex(4)): string {
  const base = (dag.name ?? path.basename(file).replace(/(\.(ya?ml|json))+$/i, ''))
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 60);
  return `${base || 'dag'}-${random}`;
}

export async function dagCommand(args: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const o = parseDagArgs(args, env);
  if (o.help) {
    io.out(dagUsage);
    return 0;
  }
  for (const n of o.notes) io.err(`note: ${n}\n`);
  return startAndFollowDag(o, io, env);
}

/** Checks the DAG file, starts it and follows it (also what `demo` runs). */
export async function startAndFollowDag(o: DagOptions, io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const line = (s: string) => io.out(`${s}\n`);
  // 1. Checked locally; nothing is created when this fails.
  const dag = loadDagFile(o.file, { values: o.values, namespace: o.namespace });
  if (o.embeddedWorker) {
    const missing = missingTemplates(dag, o.templateDirs);
    if (missing.length) {
      throw new DagFileError(
        `${o.file}: ${new InvalidDagError(missing).message}\n(template directories: ${describeTemplateDirs(o.templateDirs)}; add one with --templates DIR)`,
      );
    }
  }
  const runOptions: RunDagOptions = o.batchSize ? { batchSize: o.batchSize } : {};
  const workflowArgs = [dag, runOptions];
  checkInputSize(workflowArgs, 'DAG (file and values)');
  const workflowId = o.workflowId ?? dagWorkflowId(dag, o.file);

  return withSession(o, io, async ({ client, connection, workerRun }) => {
    const handle = await startWorkflow(client, 'dagWorkflow', { taskQueue: o.taskQueue, workflowId, args: workflowArgs });
    line(`started DAG workflow ${workflowId} (${Object.keys(dag.steps).length} steps${dag.onExit ? ' and onExit' : ''})`);
    const link = webUiLink(env, o.temporalNamespace, workflowId);
    if (link) line(`Web UI: ${link}`);
    if (!o.wait) {
      line(`not waiting; follow it with 'temporal workflow show --workflow-id ${workflowId}', cancel it with 'temporal-k8s-jobs cancel ${workflowId}'`);
      return 0;
    }
    const tty = io === stdio && !!process.stdout.isTTY;
    const view = tty ? new TerminalView(io, dag, () => ({ columns: process.stdout.columns || 100, rows: process.stdout.rows || 40 })) : new PlainView(io, dag);
    return new DagFollower({ ...o, workflowId }, dag, client, connection, handle, io, view).follow(workerRun);
  });
}

// ------------------------------------------------------------------------------------------------
// Output

/** Where the live view goes: log lines, and the state of the steps. */
interface View {
  log(line: string): void;
  /** Shows the current state (called about twice a second and at the end). */
  update(state: DagResult | undefined, jobs: RunningJob[]): void;
  /** Before something else writes to the terminal (a prompt, a note on stderr). */
  detach(): void;
}

/** On a terminal: the step lines are redrawn in place; log lines scroll above them. */
class TerminalView implements View {
  private pending: string[] = [];
  private drawn = 0;
  private state?: DagResult;
  private jobs: RunningJob[] = [];

  constructor(
    private readonly io: Io,
    private readonly dag: Dag,
    private readonly size: () => { columns: number; rows: number },
  ) {}

  log(line: string): void {
    this.pending.push(line);
  }

  update(state: DagResult | undefined, jobs: RunningJob[]): void {
    if (state) this.state = state;
    this.jobs = jobs;
    const lines = fitToHeight(stepLines(this.dag, this.state ?? { status: 'Running', steps: {} }, this.jobs, Date.now(), this.size().columns), this.size().rows);
    this.io.out(frame(this.drawn, this.pending, lines));
    this.pending = [];
    this.drawn = lines.length;
  }

  detach(): void {
    if (this.pending.length) this.io.out(frame(this.drawn, this.pending, []));
    this.pending = [];
    this.drawn = 0;
  }
}

/** Plain output shows a running forEach step's item counts at most this often. */
const ITEM_PROGRESS_MS = 10_000;

/** Without a terminal: log lines, a line per step status change and now and then item counts, appended. */
class PlainView implements View {
  private state?: DagResult;
  private readonly itemsPrinted = new Map<string, { at: number; text: string }>();

  constructor(
    private readonly io: Io,
    private readonly dag: Dag,
  ) {}

  log(line: string): void {
    this.io.out(`${line}\n`);
  }

  update(state: DagResult | undefined): void {
    if (!state) return;
    for (const l of statusChangeLines(this.dag, this.state, state)) this.io.out(`${l}\n`);
    for (const l of itemProgressLines(state, this.itemsPrinted, Date.now(), ITEM_PROGRESS_MS)) this.io.out(`${l}\n`);
    this.state = state;
  }

  detach(): void {}
}

// ------------------------------------------------------------------------------------------------
// Following a running DAG

type HistoryEvent = NonNullable<NonNullable<Awaited<ReturnType<Connection['workflowService']['getWorkflowExecutionHistory']>>['history']>['events']>[number];

/** A pending activity as `describe` reports it (the fields used here). */
interface PendingActivity {
  activityId?: string | null;
  attempt?: number | null;
  state?: number | null;
  heartbeatDetails?: { payloads?: unknown[] | null } | null;
  lastFailure?: { message?: string | null } | null;
}

/** Children described per poll at most (a huge fan-out has many; the first ones show the pods). */
const MAX_CHILDREN_DESCRIBED = 20;
const POLL_MS = 500;
const QUERY_TIMEOUT_MS = 3_000;

/**
 * Follows a started DAG: the `dagState` query for step states, `describe` of the workflow and its
 * pending child workflows for running Jobs (heartbeats: pods, recent log lines), and the histories
 * for the log tails of finished Jobs, so that every line is shown once.
 */
class DagFollower {
  private readonly printers = new Map<string, ProgressPrinter>();
  private readonly attempts = new Map<string, number>();
  private readonly histories = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private state?: DagResult;
  private jobs: RunningJob[] = [];

  constructor(
    private readonly o: DagOptions & { workflowId: string },
    private readonly dag: Dag,
    private readonly client: Client,
    private readonly connection: Connection,
    private readonly handle: WorkflowHandle,
    private readonly io: Io,
    private readonly view: View,
  ) {}

  /** The printer of one activity's log lines (each line once across heartbeats and the final tail). */
  private printer(activityId: string): ProgressPrinter | undefined {
    const where = stepOfActivity(activityId, this.dag);
    if (!where) return undefined;
    let p = this.printers.get(activityId);
    if (!p) {
      const prefix = logPrefix(where.step, where.index);
      p = new ProgressPrinter((l) => this.view.log(`${prefix}${l}`));
      this.printers.set(activityId, p);
    }
    return p;
  }

  /** Follows a workflow's history (long poll) for finished activities' log tails, until it closes. */
  private followHistory(workflowId: string, runId?: string): void {
    if (this.histories.has(workflowId)) return;
    const scheduled = new Map<string, string>();
    const onEvent = (e: HistoryEvent) => {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityId) scheduled.set(String(e.eventId), s.activityId);
      const done = e.activityTaskCompletedEventAttributes;
      const failed = e.activityTaskFailedEventAttributes;
      const id = scheduled.get(String(done?.scheduledEventId ?? failed?.scheduledEventId ?? ''));
      if (!id) return;
      const tail = done
        ? decodeFirstPayload<{ logTail?: unknown; logLines?: unknown }>(done.result?.payloads)
        : decodeFirstPayload<{ logTail?: unknown; logLines?: unknown }>(failed?.failure?.applicationFailureInfo?.details?.payloads);
      if (tail && Array.isArray(tail.logTail) && tail.logTail.every((l) => typeof l === 'string')) {
        const p = this.printer(id);
        p?.lines(tail.logTail as string[], typeof tail.logLines === 'number' ? tail.logLines : p.printed + tail.logTail.length);
      }
    };
    const signal = this.abort.signal;
    const run = async () => {
      let nextPageToken: Uint8Array | undefined;
      while (!signal.aborted) {
        // One controller per call: the SDK leaves a listener on the signal it is given.
        const call = new AbortController();
        const onAbort = () => call.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        const r = await this.connection
          .withAbortSignal(call.signal, () =>
            this.connection.workflowService.getWorkflowExecutionHistory({
              namespace: this.o.temporalNamespace,
              execution: { workflowId, runId },
              nextPageToken,
              waitNewEvent: true,
            }),
          )
          .finally(() => signal.removeEventListener('abort', onAbort));
        for (const e of r.history?.events ?? []) onEvent(e);
        if (!r.nextPageToken?.length) return;
        nextPageToken = r.nextPageToken;
      }
    };
    this.histories.set(
      workflowId,
      run().catch((err: unknown) => {
        if (!signal.aborted && this.o.verbose) this.io.err(`note: following the history of ${workflowId} failed: ${firstLine(err)}\n`);
      }),
    );
  }

  /** The `dagState` query's answer, or undefined when no worker answers within a few seconds. */
  private queryState(): Promise<DagResult | undefined> {
    return this.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => this.handle.query<DagResult>(DAG_STATE_QUERY)).catch(() => undefined);
  }

  /** Heartbeats of pending activities: running Jobs (pods) and their recent log lines. */
  private onPending(activities: readonly PendingActivity[], jobs: RunningJob[]): void {
    for (const a of activities) {
      const id = a.activityId ?? '';
      const where = stepOfActivity(id, this.dag);
      if (!where) continue;
      const hb = decodeFirstPayload<HeartbeatDetails>(a.heartbeatDetails?.payloads);
      jobs.push({ ...where, ...(hb?.progress ? { progress: hb.progress } : {}) });
      const attempt = a.attempt ?? 1;
      if (attempt > (this.attempts.get(id) ?? 1)) {
        this.attempts.set(id, attempt);
        const why = a.lastFailure?.message ? ` after: ${firstLine(a.lastFailure.message)}` : '';
        this.view.log(`${logPrefix(where.step, where.index)}[activity] attempt ${attempt}${why}`);
      }
      if (hb && typeof hb.logSeq === 'number' && Array.isArray(hb.recentLines)) this.printer(id)?.lines(hb.recentLines, hb.logSeq);
    }
  }

  /** One look: describe of the workflow and its pending children, and the query. Returns whether a worker has run it. */
  private async poll(): Promise<boolean> {
    const desc = await this.handle.describe().catch((err: unknown) => {
      if (this.o.verbose) this.io.err(`note: describe failed: ${firstLine(err)}\n`);
      return undefined;
    });
    if (!desc) return true;
    // A query waits for a worker (30 s when there is none): only once a worker ran the workflow's
    // first task (started, task scheduled, started, completed), and never for long.
    const state = desc.historyLength >= 4 ? await this.queryState() : undefined;
    if (state) this.state = state;
    const jobs: RunningJob[] = [];
    this.onPending((desc.raw.pendingActivities ?? []) as PendingActivity[], jobs);
    const children = (desc.raw.pendingChildren ?? []).filter((c) => c.workflowId);
    for (const c of children) this.followHistory(c.workflowId!, c.runId ?? undefined);
    const described = await Promise.all(
      children.slice(0, MAX_CHILDREN_DESCRIBED).map((c) =>
        this.client.workflow
          .getHandle(c.workflowId!, c.runId ?? undefined)
          .describe()
          .catch(() => undefined),
      ),
    );
    for (const d of described) if (d) this.onPending((d.raw.pendingActivities ?? []) as PendingActivity[], jobs);
    this.jobs = jobs;
    return desc.historyLength >= 4;
  }

  async follow(workerRun: Promise<void> | undefined): Promise<number> {
    const { workflowId } = this.o;
    const following = new Following<DagResult>(this.handle, workerRun, { ...this.o, deletes: 'its running Jobs' }, this.io);
    this.followHistory(workflowId);
    const started = Date.now();
    let warnedIdle = false;
    try {
      while (!following.outcome) {
        const checked = await following.check(() => this.view.detach());
        if (typeof checked === 'number') return checked;
        if (checked) continue;
        const picked = await this.poll();
        this.view.update(this.state, this.jobs);
        if (!warnedIdle && !picked && Date.now() - started > 10_000) {
          warnedIdle = true;
          this.view.detach();
          this.io.err(noWorkerNote(workflowId, this.o.taskQueue));
        }
        await following.wait(POLL_MS);
      }
      return await this.finish(following.outcome, following.cancelling);
    } finally {
      following.dispose();
      // Leaving early (Ctrl-C): stop the history long polls.
      this.abort.abort();
    }
  }

  /** Prints the rest of the log lines and the final state; returns the exit code. */
  private async finish(done: Outcome<DagResult>, cancelling: boolean): Promise<number> {
    const { workflowId } = this.o;
    // The histories end with the workflow: let them deliver the last Jobs' log tails.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.histories.values()), new Promise<void>((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
    const f = done.ok ? undefined : describeFailure(done.error);
    const detail = f?.details?.[0];
    const isResult = (x: unknown): x is DagResult => typeof x === 'object' && x !== null && 'steps' in x && 'status' in x;
    let final: DagResult | undefined = done.ok ? done.result : f?.type === 'DagFailed' && isResult(detail) ? detail : undefined;
    final ??= (await this.queryState()) ?? this.state;
    this.view.update(final, []);
    this.view.detach();
    if (final && final.status !== 'Running') this.io.out(`${summaryLine(this.dag, final)}\n`);
    if (done.ok) return 0;
    if (f!.kind === 'cancelled') {
      if (cancelling) {
        this.io.out(`cancelled DAG workflow ${workflowId}; its running Jobs were deleted\n`);
        return 130;
      }
      this.io.err(`error: DAG workflow ${workflowId} was cancelled\n`);
      return 1;
    }
    // DagFailed names every failed step with its error: `DAG failed: transform (item 3: JobFailed: ...)`.
    this.io.err(`error: ${f!.kind === 'terminated' ? `DAG workflow ${workflowId} was terminated` : f!.message}\n`);
    if (this.o.verbose) {
      if (f!.type) this.io.err(`type: ${f!.type}\n`);
      if (f!.details?.length) this.io.err(`details: ${JSON.stringify(f!.details, null, 2)}\n`);
    }
    return 1;
  }
}

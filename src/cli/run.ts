/**
 * `temporal-k8s-jobs run <template>`: start kubernetesJobWorkflow, show live progress and logs,
 * exit 0 only if the Job succeeded.
 */
import * as path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { renderTemplate } from '../render.js';
import type { CleanupPolicy, JobProgress, KubernetesJobInput, KubernetesJobResult, LogMode } from '../types.js';
import { type Io, UsageError, checkTemplateDirs, parse, renderOptions, resolveTemplateArg, valuesFromArgs } from './common.js';
import { parseDuration } from './duration.js';
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
} from './session.js';
import { DEFAULT_TASK_QUEUE, connectionOptions, firstLine } from './worker.js';
import { temporalOptions } from './connection.js';

export const runUsage = `Usage: temporal-k8s-jobs run <template> [--templates DIR]... [--set key=value]... [--set-json key=JSON]...
         [-f|--values FILE]... [--namespace NS] [--logs periodic|end|follow|none] [--every SECONDS]
         [--tail-lines N] [--delete never|on-success|always] [--write-rendered DIR] [--timeout DURATION]
         [--no-wait] [--workflow-id ID] [--cancel-on-interrupt] [--no-embedded-worker]
         [--kubeconfig FILE] [--context NAME] [--in-cluster] [--address A] [--temporal-namespace N]
         [--task-queue Q] [--verbose]

Starts the kubernetesJobWorkflow for a template (a file path, or a name in the template
directories), shows live progress and pod logs, and exits 0 only if the Job succeeded.
With the embedded worker (the default) the template is rendered locally first: a bad template or
value fails before anything starts.

Template and values (as for 'render'):
  --templates DIR          template directory searched before the built-in templates (repeatable)
  --set key=value          a string value; nested keys with dots (a.b=c)
  --set-json key=JSON      a value parsed as JSON
  -f, --values FILE        YAML values file (repeatable; later files win, --set wins over files)
Job:
  --namespace NS           Kubernetes namespace (default: the template's, else the worker's)
  --logs MODE              periodic | end | follow | none (default: periodic)
  --every SECONDS          seconds between log tails in periodic mode (default: 10)
  --tail-lines N           log lines kept in the result (default: 50)
  --delete WHEN            never | on-success | always: when the Job is deleted (default: on-success)
  --write-rendered DIR     the worker writes the applied YAML to DIR (debugging)
  --timeout DURATION       limit for the whole Job: 90, 90s, 15m, 2h, 1h30m (default: the worker's, else 1h)
Workflow:
  --workflow-id ID         workflow id (default: tkj-<template>-<random>)
  --no-wait                start the workflow, print its id and exit (sends the work to the workers
                           on --task-queue, default kubernetes-jobs)
  --cancel-on-interrupt    on Ctrl-C cancel the workflow (its Job is deleted) without asking
  --no-embedded-worker     use the worker(s) on the default task queue kubernetes-jobs
Connections:
${CONNECTION_USAGE}  --task-queue Q           send the work to the worker(s) on task queue Q: no embedded worker; they
                           look the template up by name in their own template directories and add
                           their default values
  -v, --verbose            worker logs, failure details and stack traces

Without --task-queue, 'run' starts an embedded worker in this process on a fresh task queue (the
template may be a file only this machine has); it stops when the command exits. Ctrl-C asks
whether to cancel the workflow (on a terminal), or leaves it running (otherwise; cancel later
with 'temporal-k8s-jobs cancel <id>'). With TEMPORAL_UI_URL set, the run's Web UI link is printed.
Exit codes: 0 the Job succeeded, 1 it failed or the input was rejected, 2 usage error, 130 interrupted.
`;

const LOG_MODES: readonly LogMode[] = ['periodic', 'end', 'follow', 'none'];
const DELETE_POLICIES: Record<string, CleanupPolicy> = { never: 'never', 'on-success': 'onSuccess', always: 'always' };

/** Everything `run` needs, parsed and checked (see {@link parseRunArgs}). */
export interface RunOptions extends FollowOptions {
  /** The template argument as given. */
  template: string;
  /** The name the worker looks up (the file name when the argument is a file path). */
  templateName: string;
  /** Whether the argument was an existing file. */
  templateIsFile: boolean;
  values: Record<string, unknown>;
  namespace?: string;
  logs: { mode: LogMode; everySeconds?: number; tailLines?: number };
  cleanup?: CleanupPolicy;
  timeoutSeconds?: number;
  writeRenderedTo?: string;
  /** The embedded worker's rendered-output directory (from --write-rendered). */
  renderedOutputDir?: string;
  workflowId: string;
}

const runFlags = {
  ...renderOptions,
  ...connectionOptions,
  logs: { type: 'string' },
  every: { type: 'string' },
  'tail-lines': { type: 'string' },
  delete: { type: 'string' },
  'write-rendered': { type: 'string' },
  timeout: { type: 'string' },
  'no-wait': { type: 'boolean' },
  'workflow-id': { type: 'string' },
  'cancel-on-interrupt': { type: 'boolean' },
  'no-embedded-worker': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `tkj-<template base>-<8 hex>`: the template's file name without extensions, DNS-safe. */
export function defaultWorkflowId(templateName: string, random: string = randomHex(4)): string {
  const base = path.posix
    .basename(templateName.replace(/\\/g, '/'))
    .replace(/(\.(njk|j2|jinja2?))+$/i, '')
    .replace(/\.ya?ml$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `tkj-${base || 'job'}-${random}`;
}

/**
 * Parses and checks `run`'s flags without touching the network: unknown flags and bad flag values
 * are {@link UsageError}s (exit 2); bad values files or `--set` syntax are ValuesErrors (exit 1).
 */
export function parseRunArgs(args: string[], env: NodeJS.ProcessEnv = process.env): RunOptions {
  const { values: o, positionals } = parse(args, runFlags, 'run');
  const notes: string[] = [];
  const base = {
    ...temporalOptions(o, env),
    verbose: !!o.verbose,
  };
  if (o.help) {
    return { ...base, help: true, template: '', templateName: '', templateDirs: [], templateIsFile: false, values: {}, logs: { mode: 'periodic' }, wait: true, embeddedWorker: true, workflowId: '', cancelOnInterrupt: false, taskQueue: '', kube: {}, notes };
  }
  if (positionals.length !== 1) throw new UsageError(`run takes exactly one template, got ${positionals.length}`);
  const template = positionals[0]!;

  const mode = (o.logs ?? 'periodic') as LogMode;
  if (!LOG_MODES.includes(mode)) throw new UsageError(`--logs must be one of ${LOG_MODES.join(', ')}, got '${o.logs}'`);
  let everySeconds: number | undefined;
  if (o.every !== undefined) {
    everySeconds = Number(o.every);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(o.every) || !(everySeconds > 0)) throw new UsageError(`--every must be a positive number of seconds, got '${o.every}'`);
    if (mode !== 'periodic') throw new UsageError(`--every applies only to --logs periodic (got --logs ${mode})`);
  }
  let tailLines: number | undefined;
  if (o['tail-lines'] !== undefined) {
    if (!/^\d+$/.test(o['tail-lines'])) throw new UsageError(`--tail-lines must be a whole number >= 0, got '${o['tail-lines']}'`);
    tailLines = Number(o['tail-lines']);
  }
  let cleanup: CleanupPolicy | undefined;
  if (o.delete !== undefined) {
    cleanup = DELETE_POLICIES[o.delete];
    if (!cleanup) throw new UsageError(`--delete must be one of ${Object.keys(DELETE_POLICIES).join(', ')}, got '${o.delete}'`);
  }
  let timeoutSeconds: number | undefined;
  if (o.timeout !== undefined) {
    timeoutSeconds = parseDuration(o.timeout);
    if (timeoutSeconds === undefined) throw new UsageError(`--timeout must be a duration like 90, 90s, 15m, 2h or 1h30m, got '${o.timeout}'`);
  }
  if (o['workflow-id'] !== undefined && !o['workflow-id'].trim()) throw new UsageError('--workflow-id must not be empty');

  const userDirs: string[] = o.templates ?? [];
  checkTemplateDirs(userDirs);
  const resolved = resolveTemplateArg(template, userDirs);
  const templateIsFile = resolved.templateDirs.length > userDirs.length;

  const wait = !o['no-wait'];
  const queueNamed = !!o['task-queue'];
  // Naming a task queue sends the work to the workers on it: they hold the templates.
  const embeddedWorker = !queueNamed && !o['no-embedded-worker'] && wait;
  if (!wait && !queueNamed && !o['no-embedded-worker']) {
    notes.push(`--no-wait implies --no-embedded-worker: an embedded worker would stop when this command exits, so the workflow runs on the worker(s) of task queue '${DEFAULT_TASK_QUEUE}'`);
  }
  if (!embeddedWorker && templateIsFile) {
    notes.push(`the worker(s) look the template up by name: '${resolved.name}' must be in their template directories (the file '${template}' is not sent)`);
  }
  if (!embeddedWorker) notes.push(...externalWorkerNotes(o));
  const taskQueue: string = o['task-queue'] || (embeddedWorker ? `tkj-run-${randomHex(4)}` : DEFAULT_TASK_QUEUE);

  const values = valuesFromArgs(args);
  return {
    ...base,
    help: false,
    template,
    templateName: resolved.name,
    templateDirs: resolved.templateDirs,
    templateIsFile,
    values,
    namespace: o.namespace,
    logs: { mode, everySeconds, tailLines },
    cleanup,
    timeoutSeconds,
    // The embedded worker writes into the named directory itself; workers on --task-queue only into a
    // subdirectory of their own --rendered-dir.
    writeRenderedTo: o['write-rendered'] === undefined ? undefined : embeddedWorker ? '.' : o['write-rendered'],
    renderedOutputDir: embeddedWorker && o['write-rendered'] !== undefined ? path.resolve(o['write-rendered']) : undefined,
    wait,
    embeddedWorker,
    workflowId: o['workflow-id'] ?? defaultWorkflowId(resolved.name),
    cancelOnInterrupt: !!o['cancel-on-interrupt'],
    taskQueue,
    kube: { kubeconfig: o.kubeconfig, context: o.context, inCluster: o['in-cluster'] },
    notes,
  };
}

/** The workflow's input from parsed options (pure; unset options are left out). */
export function buildRunInput(o: Pick<RunOptions, 'templateName' | 'values' | 'namespace' | 'logs' | 'cleanup' | 'timeoutSeconds' | 'writeRenderedTo'>): KubernetesJobInput {
  const logs: NonNullable<KubernetesJobInput['logs']> = { mode: o.logs.mode };
  if (o.logs.everySeconds !== undefined) logs.everySeconds = o.logs.everySeconds;
  if (o.logs.tailLines !== undefined) logs.tailLines = o.logs.tailLines;
  const input: KubernetesJobInput = { template: o.templateName, values: o.values, logs };
  if (o.namespace !== undefined) input.namespace = o.namespace;
  if (o.cleanup !== undefined) input.cleanup = o.cleanup;
  if (o.timeoutSeconds !== undefined) input.timeoutSeconds = o.timeoutSeconds;
  if (o.writeRenderedTo !== undefined) input.writeRenderedTo = o.writeRenderedTo;
  return input;
}

// ------------------------------------------------------------------------------------------------
// Live progress

/** What the activity heartbeats. */
export interface HeartbeatDetails {
  progress?: JobProgress;
  /** Number of log lines delivered so far. */
  logSeq?: number;
  /** The last (<= 50) delivered lines; recentLines[i] has sequence number logSeq - length + 1 + i. */
  recentLines?: string[];
}

/**
 * Prints progress lines when the Job's state changes and each log line once, from heartbeat
 * details seen now and then and from the final result's log tail.
 */
export class ProgressPrinter {
  /** Sequence number of the last log line printed (or skipped). */
  printed = 0;
  private lastState = '';
  private lastEvent = '';
  job?: { namespace: string; jobName: string };

  constructor(private readonly out: (line: string) => void) {}

  onHeartbeat(d: HeartbeatDetails): void {
    const p = d.progress;
    if (p?.jobName) {
      this.job = { namespace: p.namespace, jobName: p.jobName };
      const state = `${p.phase}/${p.active}/${p.succeeded}/${p.failed}`;
      if (state !== this.lastState) {
        this.lastState = state;
        this.out(`[job ${p.namespace}/${p.jobName}] ${p.phase}: active ${p.active}, succeeded ${p.succeeded}, failed ${p.failed}`);
      }
      if (p.lastEvent && p.lastEvent !== this.lastEvent) {
        this.lastEvent = p.lastEvent;
        this.out(`[job ${p.namespace}/${p.jobName}] event: ${p.lastEvent}`);
      }
    }
    if (typeof d.logSeq === 'number' && Array.isArray(d.recentLines)) this.lines(d.recentLines, d.logSeq);
  }

  /**
   * Prints the lines of `lines` not printed yet; `lastSeq` is the sequence number of the last one.
   * Lines that went by unseen are counted in one "not shown" line.
   */
  lines(lines: readonly string[], lastSeq: number): void {
    if (lastSeq <= this.printed) return;
    const firstSeq = lastSeq - lines.length + 1;
    if (firstSeq > this.printed + 1) {
      const skipped = firstSeq - this.printed - 1;
      this.out(`... ${skipped} line${skipped === 1 ? '' : 's'} not shown (see worker log)`);
    }
    for (let i = Math.max(0, this.printed + 1 - firstSeq); i < lines.length; i++) this.out(lines[i]!);
    this.printed = lastSeq;
  }
}

/** Heartbeat details of the workflow's running activity, if any. */
function heartbeatOf(raw: { pendingActivities?: Array<{ heartbeatDetails?: { payloads?: unknown[] | null } | null }> | null }): HeartbeatDetails | undefined {
  return decodeFirstPayload<HeartbeatDetails>(raw.pendingActivities?.[0]?.heartbeatDetails?.payloads);
}

/** How a workflow failure is reported. */
export interface FailureReport {
  kind: 'failed' | 'cancelled' | 'terminated' | 'timedOut';
  message: string;
  type?: string;
  details?: unknown[];
}

/** Reads the failure chain of a workflow result error: the innermost ApplicationFailure wins. */
export function describeFailure(err: unknown): FailureReport {
  let app: ApplicationFailure | undefined;
  let kind: FailureReport['kind'] = 'failed';
  let timeout: TimeoutFailure | undefined;
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (e instanceof ApplicationFailure) app = e;
    else if (e instanceof CancelledFailure) kind = 'cancelled';
    else if (e instanceof TerminatedFailure) kind = 'terminated';
    else if (e instanceof TimeoutFailure) timeout = e;
  }
  if (app) return { kind, message: app.message, type: app.type ?? undefined, details: app.details ?? undefined };
  if (kind !== 'failed') return { kind, message: kind === 'cancelled' ? 'the workflow was cancelled' : 'the workflow was terminated' };
  if (timeout) return { kind: 'timedOut', message: `timed out (${timeout.timeoutType ?? 'timeout'}): ${timeout.message}` };
  return { kind, message: firstLine(err) };
}

export async function runCommand(args: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const o = parseRunArgs(args, env);
  if (o.help) {
    io.out(runUsage);
    return 0;
  }
  for (const n of o.notes) io.err(`note: ${n}\n`);
  const line = (s: string) => io.out(`${s}\n`);

  // 1. Validate locally: render the template (nothing is created when this fails). Only for the
  // embedded worker: the workers on a named task queue hold their own templates.
  if (o.embeddedWorker) {
    const rendered = renderTemplate(o.templateName, { templateDirs: o.templateDirs, values: o.values });
    if (o.verbose) io.err(`rendered ${o.templateName}: Job ${rendered.job.metadata?.name ?? '(name from workflow id)'} + ${rendered.companions.length} companion(s)\n`);
  }
  const input = buildRunInput(o);
  checkInputSize([input], 'workflow input (template name and values)');

  return withSession({ ...o, k8sNamespace: o.namespace }, io, async ({ client, workerRun }) => {
    const handle = await startWorkflow(client, 'kubernetesJobWorkflow', { taskQueue: o.taskQueue, workflowId: o.workflowId, args: [input] });
    line(`started workflow ${o.workflowId}`);
    const link = webUiLink(env, o.temporalNamespace, o.workflowId);
    if (link) line(`Web UI: ${link}`);
    if (!o.wait) {
      line(`not waiting; follow it with 'temporal workflow show --workflow-id ${o.workflowId}', cancel it with 'temporal-k8s-jobs cancel ${o.workflowId}'`);
      return 0;
    }
    return follow(o, handle, io, workerRun);
  });
}

/** Follows a started workflow: progress and logs until it ends or Ctrl-C; returns the exit code. */
async function follow(o: RunOptions, handle: WorkflowHandle, io: Io, workerRun: Promise<void> | undefined): Promise<number> {
  const line = (s: string) => io.out(`${s}\n`);
  const printer = new ProgressPrinter(line);
  const following = new Following<KubernetesJobResult>(handle, workerRun, { ...o, deletes: 'its Job' }, io);
  const started = Date.now();
  let warnedIdle = false;
  let lastAttempt = 1;
  try {
    for (;;) {
      await following.wait(1000);
      if (following.outcome) break;
      const checked = await following.check();
      if (typeof checked === 'number') return checked;
      if (checked) continue;
      try {
        const desc = await handle.describe();
        const hb = heartbeatOf(desc.raw as Parameters<typeof heartbeatOf>[0]);
        if (hb) printer.onHeartbeat(hb);
        const pending = desc.raw.pendingActivities?.[0];
        const attempt = pending?.attempt ?? 1;
        if (attempt > lastAttempt) {
          lastAttempt = attempt;
          const why = pending?.lastFailure?.message ? ` after: ${firstLine(pending.lastFailure.message)}` : '';
          line(`[activity] attempt ${attempt}${why}`);
        }
        const picked = pending && pending.state !== 1; // 1 = SCHEDULED
        if (!warnedIdle && !picked && !hb && Date.now() - started > 10_000) {
          warnedIdle = true;
          io.err(noWorkerNote(o.workflowId, o.taskQueue));
        }
      } catch (err) {
        if (o.verbose) io.err(`note: describe failed: ${firstLine(err)}\n`);
      }
    }
  } finally {
    following.dispose();
  }
  const cancelling = following.cancelling;
  const done = following.outcome!;
  if (done.ok) {
    const r = done.result;
    printer.lines(r.logTail ?? [], r.logLines ?? (r.logTail ?? []).length);
    if (cancelling) io.err(`workflow ${o.workflowId} finished before the cancellation took effect\n`);
    if (r.output !== undefined) line(`output: ${typeof r.output === 'string' ? r.output : JSON.stringify(r.output)}`);
    line(`Job ${r.namespace}/${r.jobName} ${r.status}`);
    return r.status === 'Succeeded' ? 0 : 1;
  }
  const f = describeFailure(done.error);
  if (f.kind === 'cancelled') {
    if (cancelling) {
      line(`cancelled workflow ${o.workflowId}; its Job was deleted`);
      return 130;
    }
    io.err(`error: workflow ${o.workflowId} was cancelled\n`);
    return 1;
  }
  // The failure's details carry the log tail: show what was not printed yet.
  const d = f.details?.[0] as { logTail?: unknown; logLines?: unknown } | undefined;
  if (d && Array.isArray(d.logTail) && d.logTail.every((l) => typeof l === 'string')) {
    printer.lines(d.logTail as string[], typeof d.logLines === 'number' ? d.logLines : printer.printed + d.logTail.length);
  }
  io.err(`error: ${f.kind === 'terminated' ? `workflow ${o.workflowId} was terminated` : f.message}\n`);
  if (o.verbose) {
    if (f.type) io.err(`type: ${f.type}\n`);
    if (f.details?.length) io.err(`details: ${JSON.stringify(f.details, null, 2)}\n`);
    const stack = (done.error as Error)?.stack;
    if (stack) io.err(`${stack}\n`);
  }
  return 1;
}

/**
 * What `run` and `dag` (and so `demo`) share around a workflow they start: the Temporal connection,
 * the embedded worker, starting the workflow with a clear error for oversized input, the Web UI link,
 * and Ctrl-C handling while they follow it.
 */
import { randomBytes } from 'node:crypto';
import * as readline from 'node:readline';
import { Client, type Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { Worker } from '@temporalio/worker';
import { loadKubeConfig } from '../kube.js';
import type { Io } from './common.js';
import { TEMPORAL_USAGE, connectClient, connectNative, describeTarget, type TemporalTarget } from './connection.js';
import { createJobsWorker, describeTemplateDirs, firstLine, installRuntime } from './worker.js';

/** Usage lines of the connection flags shared by `run` and `dag`. */
export const CONNECTION_USAGE = `  --kubeconfig FILE        kubeconfig for the embedded worker (default: KUBECONFIG, else ~/.kube/config)
  --context NAME           kubeconfig context for the embedded worker
  --in-cluster             embedded worker uses the pod's service account
${TEMPORAL_USAGE}`;

/** How a command reaches Temporal and whether it runs its own worker. */
export interface SessionOptions {
  /** Where Temporal is and how to connect (see resolveTemporal). */
  temporal: TemporalTarget;
  temporalNamespace: string;
  taskQueue: string;
  /** Start a worker in this process (on `taskQueue`) for the duration of the command. */
  embeddedWorker: boolean;
  /** Template directories of the embedded worker. */
  templateDirs: string[];
  /** Default Kubernetes namespace of the embedded worker. */
  k8sNamespace?: string;
  kube: { kubeconfig?: string; context?: string; inCluster?: boolean };
  verbose: boolean;
  /** The embedded worker's rendered-output directory (where `writeRenderedTo` may write). */
  renderedOutputDir?: string;
}

export interface Session {
  client: Client;
  connection: Connection;
  /** The embedded worker's run promise (it settles when the worker stops). */
  workerRun?: Promise<void>;
}

/**
 * Connects to Temporal, starts the embedded worker when asked, runs `body`, then stops the worker
 * and closes the connections. Credentials of the embedded worker are checked before connecting.
 */
export async function withSession<T>(o: SessionOptions, io: Io, body: (s: Session) => Promise<T>): Promise<T> {
  const line = (s: string) => io.out(`${s}\n`);
  const kubeConfig = o.embeddedWorker ? loadKubeConfig(o.kube) : undefined;
  const connection = await connectClient(o.temporal);
  // After the client connection: an installed runtime keeps the process alive until it is used.
  if (o.embeddedWorker) installRuntime(o.verbose ? 'INFO' : 'ERROR');
  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let nativeConnection: Awaited<ReturnType<typeof connectNative>> | undefined;
  try {
    const client = new Client({ connection, namespace: o.temporalNamespace });
    if (o.embeddedWorker) {
      nativeConnection = await connectNative(o.temporal);
      worker = await createJobsWorker({
        connection: nativeConnection,
        namespace: o.temporalNamespace,
        taskQueue: o.taskQueue,
        templateDirs: o.templateDirs,
        k8sNamespace: o.k8sNamespace,
        kubeConfig: kubeConfig!,
        ...(o.renderedOutputDir ? { renderedOutputDir: o.renderedOutputDir } : {}),
      });
      workerRun = worker.run();
      line(`embedded worker on task queue ${o.taskQueue} (templates: ${describeTemplateDirs(o.templateDirs)}); it stops when this command exits`);
    } else {
      line(`using the worker(s) on task queue ${o.taskQueue} at ${describeTarget(o.temporal)}`);
    }
    return await body({ client, connection, workerRun });
  } finally {
    if (worker && workerRun) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([
        workerRun.then(() => true, () => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 15_000))),
      ]);
      clearTimeout(timer);
      if (!stopped) io.err('note: the embedded worker is still shutting down\n');
    }
    await nativeConnection?.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

/**
 * Notes for flags that only an embedded worker would use, when the work goes to the workers on a
 * task queue instead.
 */
export function externalWorkerNotes(flags: { templates?: string[]; kubeconfig?: string; context?: string; 'in-cluster'?: boolean }): string[] {
  const notes: string[] = [];
  if (flags.templates?.length) notes.push('--templates only applies to the embedded worker; the worker(s) on the task queue use their own template directories');
  if (flags.kubeconfig || flags.context || flags['in-cluster']) {
    notes.push('--kubeconfig/--context/--in-cluster only apply to the embedded worker; the external worker uses its own credentials');
  }
  return notes;
}

/** Temporal refuses a workflow input (any payload) above this many bytes (the server's blob size limit). */
export const MAX_INPUT_BYTES = 2 * 1024 * 1024;

/** A size as `2.10 MiB (2200030 bytes)` (Temporal counts its limits in MiB). */
export function formatBytes(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(2)} MiB (${n} bytes)`;
}

/** Bytes the workflow arguments take as payloads (what the server checks against its limit). */
export function inputBytes(args: unknown[]): number {
  return args.reduce<number>((sum, a) => sum + (defaultPayloadConverter.toPayload(a)?.data?.length ?? 0), 0);
}

/**
 * Throws when Temporal would refuse this workflow input (checked before anything starts: the
 * server's own answer is only `Failed to start Workflow`).
 */
export function checkInputSize(args: unknown[], what: string): void {
  const size = inputBytes(args);
  if (size <= MAX_INPUT_BYTES) return;
  throw new Error(
    `the ${what} is ${formatBytes(size)}, over Temporal's limit of ${formatBytes(MAX_INPUT_BYTES)} for a workflow's input: ` +
      `pass large data by reference instead (a ConfigMap or volume the Job mounts, or object storage) and give the Job its name or URL`,
  );
}

/**
 * Starts a workflow; a refused start gets the reasons the SDK leaves in the error's causes (its
 * message alone is `Failed to start Workflow`).
 */
export async function startWorkflow(client: Client, type: string, options: { taskQueue: string; workflowId: string; args: unknown[] }): Promise<WorkflowHandle> {
  try {
    return await client.workflow.start(type, options);
  } catch (err) {
    const reasons: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) {
      const m = firstLine(e);
      if (m && !reasons.includes(m)) reasons.push(m);
    }
    throw new Error(`cannot start workflow ${options.workflowId}: ${reasons.join(': ') || 'unknown reason'}`, { cause: err });
  }
}

/** The note printed when no worker picked a workflow up after a while. */
export function noWorkerNote(workflowId: string, taskQueue: string): string {
  return `note: no worker has picked up workflow ${workflowId} yet: is a worker running on task queue ${taskQueue}? (temporal-k8s-jobs worker --task-queue ${taskQueue})\n`;
}

/** Link to a workflow in the Temporal Web UI whose base URL is `TEMPORAL_UI_URL`, if set. */
export function webUiLink(env: NodeJS.ProcessEnv, namespace: string, workflowId: string): string | undefined {
  const base = env.TEMPORAL_UI_URL?.trim().replace(/\/+$/, '');
  if (!base) return undefined;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** First payload of an activity's heartbeat details (or a result/failure's details), decoded. */
export function decodeFirstPayload<T>(payloads: unknown[] | null | undefined): T | undefined {
  const payload = payloads?.[0];
  if (!payload) return undefined;
  try {
    const v = defaultPayloadConverter.fromPayload<unknown>(payload as Payload);
    return v && typeof v === 'object' ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}

function ask(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    let done = false;
    const finish = (yes: boolean) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(yes);
    };
    rl.on('SIGINT', () => {
      process.stderr.write('\n');
      finish(false);
    });
    rl.on('close', () => finish(false));
    rl.question(question, (answer) => finish(/^\s*y(es)?\s*$/i.test(answer)));
  });
}

/** Flags `run` and `dag` share about where the work runs and how it is followed. */
export interface FollowOptions {
  wait: boolean;
  /** Start a worker in this process (false when --task-queue names the workers to use). */
  embeddedWorker: boolean;
  cancelOnInterrupt: boolean;
  taskQueue: string;
  /** Template directories of the embedded worker. */
  templateDirs: string[];
  /** Temporal frontend address (also in `temporal`). */
  address: string;
  temporal: TemporalTarget;
  temporalNamespace: string;
  kube: { kubeconfig?: string; context?: string; inCluster?: boolean };
  verbose: boolean;
  help: boolean;
  /** Things to tell the user about how flags were combined (printed on stderr). */
  notes: string[];
}

export const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');

/** What Ctrl-C does while a command follows a workflow. */
export type InterruptOptions = Pick<FollowOptions, 'cancelOnInterrupt' | 'embeddedWorker' | 'taskQueue' | 'templateDirs'> & {
  workflowId: string;
  /** What cancelling deletes, for messages: `its Job`, `its running Jobs`. */
  deletes: string;
};

/** How a followed workflow ended. */
export type Outcome<T> = { ok: true; result: T } | { ok: false; error: unknown };

/**
 * Following a started workflow until it ends: its outcome, the embedded worker (an error when it
 * stops), and Ctrl-C. The first Ctrl-C cancels the workflow (with --cancel-on-interrupt, or when the
 * user says yes on a terminal) or leaves it running and says how to cancel it later; one more while
 * it is being cancelled leaves without waiting.
 */
export class Following<T> {
  outcome?: Outcome<T>;
  /** Whether the workflow is being cancelled on the user's request. */
  cancelling = false;
  private workerError: unknown;
  private readonly settled: Promise<unknown>[];
  private interrupts = 0;
  private handled = 0;
  private wakeUp: () => void = () => undefined;
  private readonly onSigint = () => {
    this.interrupts++;
    this.wakeUp();
  };

  constructor(
    private readonly handle: WorkflowHandle,
    workerRun: Promise<void> | undefined,
    private readonly o: InterruptOptions,
    private readonly io: Io,
  ) {
    this.settled = [
      handle.result().then(
        (result: T) => (this.outcome = { ok: true, result }),
        (error: unknown) => (this.outcome = { ok: false, error }),
      ),
    ];
    if (workerRun) {
      this.settled.push(
        workerRun.then(
          () => (this.workerError ??= new Error('the embedded worker stopped')),
          (e: unknown) => (this.workerError = e),
        ),
      );
    }
    process.on('SIGINT', this.onSigint);
  }

  /** Waits `ms`, or less when the workflow ends, the worker stops or Ctrl-C is pressed. */
  async wait(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([...this.settled, new Promise<void>((r) => (timer = setTimeout(r, ms))), new Promise<void>((r) => (this.wakeUp = r))]);
    // A pending timer would keep the process alive that long after the end.
    clearTimeout(timer);
  }

  /**
   * Reacts to a stopped embedded worker (throws) and to Ctrl-C. Returns an exit code when the
   * command should exit now, `true` when it handled a Ctrl-C (look at the outcome again), else
   * `false`. `beforeOutput` runs before a Ctrl-C's question or messages are printed (a live view
   * stops redrawing over them).
   */
  async check(beforeOutput: () => void = () => undefined): Promise<number | boolean> {
    if (this.workerError !== undefined && !this.cancelling) {
      throw new Error(`the embedded worker stopped: ${firstLine(this.workerError)}`, { cause: this.workerError });
    }
    if (this.interrupts <= this.handled) return false;
    this.handled = this.interrupts;
    beforeOutput();
    const { workflowId, taskQueue } = this.o;
    if (this.cancelling) {
      this.io.err(`leaving workflow ${workflowId} while it is being cancelled${this.o.embeddedWorker ? `; it needs a worker on task queue ${taskQueue} to finish deleting ${this.o.deletes}` : ''}\n`);
      return 130;
    }
    let cancel = this.o.cancelOnInterrupt;
    if (!cancel && process.stdin.isTTY) {
      cancel = await ask(`\nCancel workflow ${workflowId} (${this.o.deletes} will be deleted)? [y/N] `);
    }
    if (this.outcome) return true;
    if (!cancel) {
      this.io.err(`workflow ${workflowId} was not cancelled; cancel it later with 'temporal-k8s-jobs cancel ${workflowId}'\n`);
      if (this.o.embeddedWorker) {
        this.io.err(
          `it ran on this command's embedded worker: it cannot progress until a worker runs on task queue ${taskQueue} ` +
            `(temporal-k8s-jobs worker --task-queue ${taskQueue}${this.o.templateDirs.map((d) => ` --templates ${d}`).join('')})\n`,
        );
      }
      return 130;
    }
    this.io.err(`cancelling workflow ${workflowId} (waiting for ${this.o.deletes} to be deleted; Ctrl-C again to leave)...\n`);
    this.cancelling = true;
    await this.handle.cancel();
    return true;
  }

  dispose(): void {
    process.off('SIGINT', this.onSigint);
  }
}

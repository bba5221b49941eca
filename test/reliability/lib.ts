// Shared parts of the reliability suite (test/reliability/*.test.ts, run by test/reliability/run.mjs):
// trial recording, an independent observer of a namespace, worker processes and Job inputs.
//
// A trial runs in a fresh namespace. What it counts comes from the cluster (an independent watch
// started before the workflow) and from the worker's log sink (a file written synchronously), never
// from the code under test.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { BatchV1Api, CoreV1Api, Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { KubernetesJobInput } from '../../src/types.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, waitFor } from '../helpers/stack.js';
import { readLines, startWorker, type WorkerProcessOptions } from '../helpers/workers.js';

export const QUICK = !!process.env.TKJ_RELIABILITY_QUICK;
/** How many trials of a kind: the count in full mode, a few in quick mode. */
export const trials = (full: number, quick: number): number => (QUICK ? quick : full);

export const TEMPLATES_DIR = fileURLToPath(new URL('./templates', import.meta.url));
export const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows.mjs', import.meta.url));
/** Heartbeat timeout of the suite's workflow (`reliableJobWorkflow`): a dead worker is noticed in seconds. */
export const HEARTBEAT_TIMEOUT = '6s';

// ------------------------------------------------------------------ trial records

/** What one trial counts (all must be zero). */
export interface TrialCounts {
  duplicateJobs: number;
  orphans: number;
  duplicateLogLines: number;
  missingLogLines: number;
  wrongResults: number;
}

/** One line of the results file (JSON Lines), aggregated by run.mjs. */
export interface TrialRecord extends TrialCounts {
  kind: string;
  name: string;
  ok: boolean;
  error?: string;
  /** Figures a kind reports (e.g. cancel-to-gone milliseconds). */
  figures?: Record<string, number>;
  ms: number;
}

const ZERO: TrialCounts = { duplicateJobs: 0, orphans: 0, duplicateLogLines: 0, missingLogLines: 0, wrongResults: 0 };

/** Appends a record to the results file named by TKJ_RELIABILITY_RESULTS (ignored when unset). */
export function recordTrial(r: TrialRecord): void {
  const file = process.env.TKJ_RELIABILITY_RESULTS;
  if (file) fs.appendFileSync(file, `${JSON.stringify(r)}\n`);
}

/** What a trial body returns: its counts (missing ones are 0) and figures. */
export type TrialOutcome = Partial<TrialCounts> & { figures?: Record<string, number> };

/**
 * Registers a jest test that runs one trial and records it. The trial fails when the body throws or
 * any count is non-zero; either way it is recorded (ok=false) before the test fails.
 */
export function trial(kind: string, name: string, body: () => Promise<TrialOutcome>, timeoutMs = 300_000): void {
  test(
    `${kind}: ${name}`,
    async () => {
      const t0 = Date.now();
      let outcome: TrialOutcome = {};
      let error: string | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        // The trial's own bound (before jest's): a hung trial is recorded as failed, not lost.
        const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the trial did not end within ${timeoutMs - 10_000} ms`)), timeoutMs - 10_000)));
        outcome = await Promise.race([body(), bound]);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      } finally {
        clearTimeout(timer);
      }
      const { figures, ...counts } = outcome;
      const c: TrialCounts = { ...ZERO, ...counts };
      const ok = !error && Object.values(c).every((v) => v === 0);
      recordTrial({ kind, name, ok, ...c, ...(error ? { error } : {}), ...(figures ? { figures } : {}), ms: Date.now() - t0 });
      if (error) throw new Error(error);
      expect(c).toEqual(ZERO);
    },
    timeoutMs,
  );
}

// ------------------------------------------------------------------ independent observer

interface Seen {
  kind: 'Job' | 'Pod' | 'ConfigMap';
  uid: string;
  name: string;
  deletedAt?: number;
  ownerUids: string[];
}

const COLLECTIONS = [
  { kind: 'Job', path: (ns: string) => `/apis/batch/v1/namespaces/${ns}/jobs` },
  { kind: 'Pod', path: (ns: string) => `/api/v1/namespaces/${ns}/pods` },
  { kind: 'ConfigMap', path: (ns: string) => `/api/v1/namespaces/${ns}/configmaps` },
] as const;

/**
 * Watches the Jobs, pods and ConfigMaps of a namespace from before the workflow starts, independently
 * of the worker: every object ever ADDED (by uid) and when it was DELETED. A watch that ends (apiserver
 * restart, 410 Gone after a compaction) is restarted from the current state; uids keep it exact.
 */
export class NamespaceObserver {
  readonly seen = new Map<string, Seen>();
  lastDeletedAt = 0;
  /** Called with every event (after it is recorded). */
  readonly listeners: Array<(type: string, kind: Seen['kind'], obj: KubernetesObject) => void> = [];
  private readonly aborts: AbortController[] = [];
  private stopped = false;

  constructor(readonly namespace: string) {}

  async start(): Promise<void> {
    await Promise.all(COLLECTIONS.map((c) => this.watch(c.kind, c.path(this.namespace))));
  }

  private async watch(kind: Seen['kind'], p: string, resourceVersion?: string): Promise<void> {
    if (this.stopped) return;
    let lastRv = resourceVersion;
    const restart = () => {
      if (!this.stopped) setTimeout(() => void this.watch(kind, p, lastRv).catch(() => setTimeout(() => void this.watch(kind, p), 500)), 200);
    };
    try {
      const abort = await new Watch(kubeConfig()).watch(
        p,
        lastRv ? { resourceVersion: lastRv, allowWatchBookmarks: 'true' } : { allowWatchBookmarks: 'true' },
        (type: string, obj: KubernetesObject) => {
          if (type === 'ERROR') {
            lastRv = undefined; // 410 Gone: start again from the current state
            return;
          }
          lastRv = obj.metadata?.resourceVersion ?? lastRv;
          if (type === 'BOOKMARK') return;
          const uid = obj.metadata?.uid;
          if (!uid || (kind === 'ConfigMap' && obj.metadata?.name === 'kube-root-ca.crt')) return;
          let s = this.seen.get(uid);
          if (!s) this.seen.set(uid, (s = { kind, uid, name: obj.metadata!.name!, ownerUids: (obj.metadata?.ownerReferences ?? []).map((o) => o.uid) }));
          if (type === 'DELETED') {
            s.deletedAt ??= Date.now();
            this.lastDeletedAt = Math.max(this.lastDeletedAt, s.deletedAt);
          }
          for (const l of this.listeners) l(type, kind, obj);
        },
        (err) => {
          if ((err as { statusCode?: number } | null)?.statusCode === 410) lastRv = undefined;
          restart();
        },
      );
      this.aborts.push(abort);
    } catch {
      lastRv = undefined;
      restart();
    }
  }

  /** Every Job uid ever added. */
  jobs(): Seen[] {
    return [...this.seen.values()].filter((s) => s.kind === 'Job');
  }

  /** Duplicate Jobs: more than one uid for a name, or more Jobs than expected. */
  duplicateJobs(expected: number): number {
    const byName = new Map<string, number>();
    for (const j of this.jobs()) byName.set(j.name, (byName.get(j.name) ?? 0) + 1);
    const sameName = [...byName.values()].reduce((a, n) => a + n - 1, 0);
    return Math.max(sameName, this.jobs().length - expected);
  }

  /** Resolves with the first future event for which `pred` holds. */
  next(pred: (type: string, kind: Seen['kind'], obj: KubernetesObject) => boolean, timeoutMs = 60_000, what = 'an event'): Promise<KubernetesObject> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} in ${this.namespace}`)), timeoutMs);
      const l = (type: string, kind: Seen['kind'], obj: KubernetesObject) => {
        if (!pred(type, kind, obj)) return;
        clearTimeout(t);
        this.listeners.splice(this.listeners.indexOf(l), 1);
        resolve(obj);
      };
      this.listeners.push(l);
    });
  }

  /**
   * Waits until every object seen so far is DELETED (bounded), and returns the milliseconds from `since`
   * to the last DELETED event (0 when nothing was ever created).
   */
  async goneSince(since: number, timeoutMs = 60_000): Promise<number> {
    const all = () => [...this.seen.values()];
    await waitFor(() => all().every((s) => s.deletedAt !== undefined), { timeoutMs, intervalMs: 50, what: `every object of ${this.namespace} deleted` });
    const last = Math.max(0, ...all().map((s) => s.deletedAt!));
    return last === 0 ? 0 : last - since;
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
  }
}

/**
 * Objects left behind that the policy says go: Jobs, pods and ConfigMaps (companions) of the namespace,
 * waited for (bounded: `timeoutMs`) by listing; returns how many are left. `keepJobs`: Jobs (and their
 * pods and companions) that may stay (cleanup 'never', or a failure kept for inspection).
 */
export async function orphansAfter(ns: string, { timeoutMs = 30_000, keepJobs = [] as string[] } = {}): Promise<number> {
  const kc = kubeConfig();
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const count = async () => {
    const jobs = (await batch.listNamespacedJob({ namespace: ns })).items.filter((j) => !keepJobs.includes(j.metadata!.name!));
    const kept = new Set((await batch.listNamespacedJob({ namespace: ns })).items.filter((j) => keepJobs.includes(j.metadata!.name!)).map((j) => j.metadata!.uid!));
    const ownedByKept = (o: { metadata?: { ownerReferences?: Array<{ uid: string }>; labels?: Record<string, string> } }) =>
      (o.metadata?.ownerReferences ?? []).some((r) => kept.has(r.uid));
    const pods = (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => !ownedByKept(p) && !keepJobs.includes(p.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? ''));
    const cms = (await core.listNamespacedConfigMap({ namespace: ns })).items.filter((c) => c.metadata?.name !== 'kube-root-ca.crt' && (c.metadata?.ownerReferences ?? []).length > 0 && !ownedByKept(c));
    return jobs.length + pods.length + cms.length;
  };
  try {
    await waitFor(async () => (await count()) === 0, { timeoutMs, intervalMs: 250, what: `nothing left in ${ns}` });
    return 0;
  } catch {
    return count();
  }
}

// ------------------------------------------------------------------ log lines

/** Lines the pod wrote (the log writer's annotation), as the sink should get them: `<pod>/main <line>`. */
export function logCounts(delivered: string[], expected: string[]): { duplicateLogLines: number; missingLogLines: number } {
  const seen = new Map<string, number>();
  for (const l of delivered) seen.set(l, (seen.get(l) ?? 0) + 1);
  let duplicateLogLines = 0;
  for (const n of seen.values()) duplicateLogLines += n - 1;
  const missingLogLines = expected.filter((l) => !seen.has(l)).length;
  return { duplicateLogLines, missingLogLines };
}

/** `n` distinct lines for one Job. */
export const linesFor = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag} line ${i + 1}`);

// ------------------------------------------------------------------ one trial's rig

/** A trial's namespace, task queue, lines file, Temporal client and worker processes. */
export class Rig {
  readonly taskQueue = `rel-${randomBytes(5).toString('hex')}`;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-rel-'));
  readonly linesFile = path.join(this.dir, 'lines.txt');
  readonly workers: ChildProcess[] = [];
  observer!: NamespaceObserver;
  ns!: string;
  client!: Client;

  /** `podLogs`: logs written by the test (writePodLog) instead of the pods' log annotation. */
  static async create(prefix: string, opts: { podLogs?: boolean } = {}): Promise<Rig> {
    const r = new Rig();
    r.ns = await createTestNamespace(`rel-${prefix}`, { podLogs: opts.podLogs ?? false });
    r.observer = new NamespaceObserver(r.ns);
    await r.observer.start();
    r.client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
    return r;
  }

  /** A worker process on this rig's queue (the suite's workflows and templates). */
  async worker(opts: WorkerProcessOptions & { linesFile?: string } = {}): Promise<ChildProcess> {
    const env: Record<string, string> = { TKJ_TEMPLATE_DIRS: TEMPLATES_DIR, TKJ_WORKER_LOG_LEVEL: 'WARN', ...opts.env };
    if (process.env.TKJ_WORKFLOW_BUNDLE) env.TKJ_WORKFLOW_BUNDLE = process.env.TKJ_WORKFLOW_BUNDLE;
    else env.TKJ_WORKFLOWS_PATH = WORKFLOWS_PATH;
    const w = await startWorker(this.taskQueue, opts.linesFile ?? this.linesFile, { ...opts, env });
    this.workers.push(w);
    return w;
  }

  lines(): string[] {
    return readLines(this.linesFile);
  }

  /** Starts `reliableJobWorkflow` (short heartbeat timeout) on this rig's queue. */
  start(input: KubernetesJobInput, heartbeatTimeout = HEARTBEAT_TIMEOUT) {
    return this.client.workflow.start('reliableJobWorkflow', { taskQueue: this.taskQueue, workflowId: `rel-${randomBytes(6).toString('hex')}`, args: [input, heartbeatTimeout] });
  }

  async close(): Promise<void> {
    for (const w of this.workers) {
      if (w.exitCode !== null || w.signalCode !== null) continue;
      w.kill('SIGCONT');
      w.kill('SIGKILL');
    }
    this.observer?.stop();
    await this.client?.connection.close();
    if (this.ns) await deleteNamespace(this.ns);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with a fresh rig, closing it afterwards. */
export async function withRig<T>(prefix: string, fn: (rig: Rig) => Promise<T>, opts: { podLogs?: boolean } = {}): Promise<T> {
  const rig = await Rig.create(prefix, opts);
  try {
    return await fn(rig);
  } finally {
    await rig.close();
  }
}

/** Waits until the observer has seen an object of `kind` (e.g. the Job's pod: the Job runs). */
export async function waitForSeen(rig: Rig, kind: 'Job' | 'Pod' | 'ConfigMap', timeoutMs = 60_000): Promise<void> {
  await waitFor(() => [...rig.observer.seen.values()].some((s) => s.kind === kind), { timeoutMs, what: `a ${kind} in ${rig.ns}` });
}

/** Resolves when the child process exits (any reason), or rejects after `timeoutMs`. */
export function exited(child: ChildProcess, timeoutMs: number, what = 'the worker to exit'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** A Job input: runs `seconds`, writes `lines` (spread over its run), one owned companion when `companion`. */
export function jobInput(opts: { ns: string; tag: string; seconds: number; lines?: string[]; mode?: 'periodic' | 'follow' | 'end' | 'none'; cleanup?: KubernetesJobInput['cleanup']; companion?: boolean; exitCode?: number }): KubernetesJobInput {
  const podAnnotations: Record<string, string> = { [KWOK_ANNOTATIONS.duration]: `${opts.seconds}s` };
  if (opts.lines?.length) podAnnotations[KWOK_ANNOTATIONS.logs] = opts.lines.join('\n');
  if (opts.exitCode) podAnnotations[KWOK_ANNOTATIONS.exitCode] = String(opts.exitCode);
  return {
    template: opts.companion ? 'with-companion.yaml.njk' : 'job.yaml.njk',
    namespace: opts.ns,
    cleanup: opts.cleanup ?? 'always',
    values: { image: 'busybox:1.36', command: 'run', podAnnotations, tag: opts.tag },
    logs: { mode: opts.mode ?? 'periodic', everySeconds: 1 },
  };
}

/** Whether a workflow's failure is its cancellation. */
export function isCancellation(e: unknown): boolean {
  const err = e as { name?: string; cause?: { name?: string } } | undefined;
  return err?.name === 'CancelledFailure' || err?.cause?.name === 'CancelledFailure';
}

// ------------------------------------------------------------------ the stack's processes

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Restarts one process of the local stack (test/stack/restart.sh); resolves once it serves again. */
export function restartStackProcess(name: 'kube-apiserver' | 'temporal' | 'etcd', opts: { kill?: boolean; downSeconds?: number } = {}): Promise<void> {
  const args = [path.join(REPO_ROOT, 'test/stack/restart.sh'), name, ...(opts.kill ? ['--kill'] : []), ...(opts.downSeconds ? ['--down-seconds', String(opts.downSeconds)] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`restart.sh ${name} exited ${code}`))));
  });
}

/** etcd's client URL (the stack's STACK_PORT_OFFSET applies). */
const etcdUrl = () => `http://127.0.0.1:${2379 + Number(process.env.STACK_PORT_OFFSET ?? 0)}`;

/** Compacts etcd at its current revision (the v3 HTTP gateway), so watches from older versions get 410 Gone. */
export async function compactEtcd(): Promise<number> {
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`${etcdUrl()}${p}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${p}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as { header?: { revision?: string } };
  };
  const rev = Number((await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') })).header?.revision);
  if (!rev) throw new Error('etcd gave no revision');
  await post('/v3/kv/compaction', { revision: String(rev), physical: true });
  return rev;
}

/**
 * Awaits each workflow's result and counts the wrong ones: a failure, or a result `ok` rejects
 * (default: a Job result with status Succeeded). Failures are printed with their cause.
 */
export async function wrongResultsOf(what: string, handles: Array<{ result(): Promise<unknown> }>, ok: (r: any) => boolean = (r) => r?.status === 'Succeeded'): Promise<number> {
  let wrong = 0;
  for (const h of handles) {
    try {
      const r = await h.result();
      if (!ok(r)) {
        wrong++;
        const { status, reattached, logLines, deleted } = (r ?? {}) as Record<string, unknown>;
        process.stderr.write(`[rel] ${what}: unexpected result ${JSON.stringify({ status, reattached, logLines, deleted })}\n`);
      }
    } catch (e) {
      wrong++;
      process.stderr.write(`[rel] ${what}: ${(e as Error).message} / ${(e as { cause?: Error }).cause?.message}\n`);
    }
  }
  return wrong;
}

/**
 * Helpers for integration tests that run on the local stack (test/stack/up.sh: real kube-apiserver,
 * Job controller and scheduler, kwok as the fake kubelet, Temporal dev server) or on an existing
 * cluster (env TKJ_TEST_KUBECONFIG + TEMPORAL_ADDRESS). See docs/local-stack.md.
 *
 * Pod behaviour on the local stack is driven by pod annotations (see {@link KWOK_ANNOTATIONS});
 * pod logs are files that tests write ({@link writePodLog}, {@link appendPodLog}).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  KubeConfig,
  Watch,
  type KubernetesObject,
  type V1Namespace,
} from '@kubernetes/client-node';

/** Pod annotations understood by the local stack's kwok stages (test/stack/kwok-stages.yaml). */
export const KWOK_ANNOTATIONS = {
  /** Go duration ("5s", "1500ms"): the pod runs that long, then terminates. */
  duration: 'kwok.temporal-k8s-jobs/duration',
  /** Exit code of every container (default "0"); non-zero makes the pod phase Failed. */
  exitCode: 'kwok.temporal-k8s-jobs/exit-code',
  /** Terminated reason (default "Completed" for exit 0, "Error" otherwise). */
  reason: 'kwok.temporal-k8s-jobs/reason',
  /** Termination message (state.terminated.message) of every container. */
  message: 'kwok.temporal-k8s-jobs/message',
  /** "ErrImagePull" | "ImagePullBackOff": never start; every container waits with that reason. */
  imagePull: 'kwok.temporal-k8s-jobs/image-pull',
  /**
   * Log lines (newline-separated), written by the stack's log writer (test/stack/log-writer.mjs)
   * with real timestamps spread over the pod's `duration` while it runs.
   */
  logs: 'kwok.temporal-k8s-jobs/logs',
} as const;

export interface StackEnv {
  /** Path of an admin kubeconfig. */
  kubeconfig: string;
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  /** Directory with the stack's binaries (temporal, kubectl, ...); '' on an existing cluster. */
  stackBin: string;
  /** Directory of the kwok-served pod log files (STACK_LOGS_DIR); '' on an existing cluster. */
  logsDir: string;
  /** CA bundle of the local stack's apiserver; '' on an existing cluster. */
  caFile: string;
  /** kwok's server (plain HTTP on loopback); '' on an existing cluster. */
  kwokUrl: string;
  /** True when running against TKJ_TEST_KUBECONFIG instead of the local stack. */
  existingCluster: boolean;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Parses the `export KEY='value'` lines written by up.sh. */
function parseEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)='([^']*)'\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

let cachedEnv: StackEnv | undefined;

/**
 * Where the stack is. With env TKJ_TEST_KUBECONFIG set: that kubeconfig, TEMPORAL_ADDRESS
 * (default 127.0.0.1:7233), no kwok features. Otherwise `.stack/env` written by up.sh
 * (STACK_DIR overrides the state dir).
 */
export function stackEnv(): StackEnv {
  if (cachedEnv) return cachedEnv;
  const existing = process.env.TKJ_TEST_KUBECONFIG;
  if (existing) {
    cachedEnv = {
      kubeconfig: existing,
      temporalAddress: process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
      stackBin: process.env.STACK_BIN ?? '',
      logsDir: '',
      caFile: '',
      kwokUrl: '',
      existingCluster: true,
    };
    return cachedEnv;
  }
  const stackDir = process.env.STACK_DIR || path.join(REPO_ROOT, '.stack');
  const envFile = path.join(stackDir, 'env');
  if (!fs.existsSync(envFile)) {
    throw new Error(`${envFile} not found: the local stack is not up. Run \`npm run stack:up\` (or set TKJ_TEST_KUBECONFIG).`);
  }
  const e = parseEnvFile(envFile);
  const need = (k: string): string => {
    const v = e[k];
    if (!v) throw new Error(`${envFile} lacks ${k}; re-run \`npm run stack:up\``);
    return v;
  };
  cachedEnv = {
    kubeconfig: need('KUBECONFIG'),
    temporalAddress: need('TEMPORAL_ADDRESS'),
    stackBin: need('STACK_BIN'),
    logsDir: need('STACK_LOGS_DIR'),
    caFile: e.STACK_CA_FILE ?? '',
    kwokUrl: e.STACK_KWOK_URL ?? '',
    existingCluster: false,
  };
  return cachedEnv;
}

/** Admin KubeConfig for the stack (or the existing cluster). */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(stackEnv().kubeconfig);
  return kc;
}

function errorCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** Deadline (default 30 s). */
  timeoutMs?: number;
  /** Poll interval (default 100 ms). */
  intervalMs?: number;
  /** What is being waited for, for the timeout message. */
  what?: string;
}

/**
 * Polls `probe` until it returns a truthy value (returned) or the deadline passes (throws, with the
 * last error `probe` threw, if any). Errors thrown by `probe` count as "not yet".
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 100, what = 'condition' }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Watches a collection (`path` like `/apis/batch/v1/namespaces/ns/jobs`) until `predicate` holds
 * for one object (returned). Starts with the current state (the watch's initial ADDED events), so
 * there is no list/watch race. `query` takes labelSelector/fieldSelector.
 */
export async function watchUntil<T extends KubernetesObject>(
  path: string,
  predicate: (obj: T) => boolean,
  { timeoutMs = 60_000, what = `object in ${path}`, query = {} }: WaitOptions & { query?: Record<string, string> } = {},
): Promise<T> {
  const watch = new Watch(kubeConfig());
  let last: T | undefined;
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    let controller: AbortController | undefined;
    const finish = (err: Error | undefined, obj?: T) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      controller?.abort();
      if (err) reject(err);
      else resolve(obj!);
    };
    const timer = setTimeout(() => {
      const seen = last ? `; last seen: ${JSON.stringify({ metadata: { name: last.metadata?.name }, status: (last as { status?: unknown }).status })}` : '';
      finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`));
    }, timeoutMs);
    const start = () => {
      if (finished) return;
      watch
        .watch(
          path,
          query,
          (phase, obj: T) => {
            if (phase === 'ERROR') return;
            last = obj;
            if (phase !== 'DELETED' && predicate(obj)) finish(undefined, obj);
          },
          (err) => {
            // The server ends watches now and then: restart (from the current state) unless done.
            if (finished) return;
            // Non-200 answers come as an Error with statusCode: fail fast on 4xx (403, 404...) but 410.
            const status = (err as { statusCode?: number } | null)?.statusCode ?? errorCode(err);
            if (status !== undefined && status >= 400 && status < 500 && status !== 410) {
              finish(new Error(`watch ${path} failed: HTTP ${status} ${(err as Error).message}`));
            } else {
              setTimeout(start, 100);
            }
          },
        )
        .then((c) => {
          controller = c;
          if (finished) c.abort();
        })
        .catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    };
    start();
  });
}

/** True if `obj.status.conditions` has `type` with `status` (default "True"). */
export function hasCondition(obj: { status?: { conditions?: Array<{ type: string; status: string }> } }, type: string, status = 'True'): boolean {
  return (obj.status?.conditions ?? []).some((c) => c.type === type && c.status === status);
}

// ------------------------------------------------------------------ namespaces

const CLUSTER_LOGS = { group: 'kwok.x-k8s.io', version: 'v1alpha1', plural: 'clusterlogs' } as const;
const LOGS = { group: 'kwok.x-k8s.io', version: 'v1alpha1', plural: 'logs' } as const;
const clusterLogsName = (ns: string) => `tkj-${ns}`;

/** DNS-1123 label from a prefix plus a random suffix. */
function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'test';
  return `${clean}-${randomBytes(4).toString('hex')}`;
}

/**
 * Creates a namespace `<prefix>-<random>` (label `temporal-k8s-jobs/test=true`) and waits until
 * its `default` ServiceAccount exists (pods are rejected before). On the local stack it also
 * registers the namespace's pod logs with kwok: every container of every pod in the namespace
 * then has a log (empty until a test writes it with {@link writePodLog}).
 */
export async function createTestNamespace(prefix: string, opts: { podLogs?: boolean } = {}): Promise<string> {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const name = uniqueName(prefix);
  const body: V1Namespace = { metadata: { name, labels: { 'temporal-k8s-jobs/test': 'true' } } };
  await core.createNamespace({ body });
  await waitFor(
    async () => {
      try {
        return await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      } catch (e) {
        if (errorCode(e) === 404) return undefined;
        throw e;
      }
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `ServiceAccount ${name}/default` },
  );
  if ((opts.podLogs ?? true) && !stackEnv().existingCluster) {
    await ensureNamespaceLogs(name);
  }
  return name;
}

/** Removes the `temporal-k8s-jobs/result` finalizer from every Job in `ns` (what `cleanup --orphans` does). */
export async function releaseResultFinalizers(kc: KubeConfig, ns: string): Promise<void> {
  const batch = kc.makeApiClient(BatchV1Api);
  for (const job of (await batch.listNamespacedJob({ namespace: ns })).items) {
    const finalizers = job.metadata?.finalizers ?? [];
    if (!finalizers.includes('temporal-k8s-jobs/result')) continue;
    await batch
      .patchNamespacedJob(
        { name: job.metadata!.name!, namespace: ns, body: { metadata: { resourceVersion: job.metadata?.resourceVersion, finalizers: finalizers.filter((f) => f !== 'temporal-k8s-jobs/result') } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )
      .catch(() => undefined);
  }
}

/** Deletes a namespace made by {@link createTestNamespace} plus its kwok log config and files. */
export async function deleteNamespace(ns: string, opts: { wait?: boolean } = {}): Promise<void> {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  try {
    await core.deleteNamespace({ name: ns, propagationPolicy: 'Background' });
  } catch (e) {
    if (errorCode(e) !== 404) throw e;
  }
  // A Job whose workflow never released it (a test that ended its workers first) keeps the package's
  // result finalizer, which would hold the namespace in Terminating: let it go (no new Job can be
  // created in a namespace being deleted).
  await releaseResultFinalizers(kc, ns).catch(() => undefined);
  const env = stackEnv();
  if (!env.existingCluster) {
    try {
      await kc.makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ ...CLUSTER_LOGS, name: clusterLogsName(ns) });
    } catch (e) {
      if (errorCode(e) !== 404) throw e;
    }
    fs.rmSync(path.join(env.logsDir, ns), { recursive: true, force: true });
    for (const k of [...logState.keys()]) if (k.startsWith(`${ns}/`)) logState.delete(k);
  }
  if (opts.wait) {
    await waitFor(
      async () => {
        try {
          await core.readNamespace({ name: ns });
          return false;
        } catch (e) {
          return errorCode(e) === 404;
        }
      },
      { timeoutMs: 60_000, what: `namespace ${ns} to be gone` },
    );
  }
}

// ------------------------------------------------------------------ pod logs (kwok)

/**
 * Which pods/container a log file applies to.
 * - `{namespace, container}`: every pod in the namespace (e.g. all pods of a Job, whatever names
 *   the Job controller gives them), that container. File: `<logsDir>/<ns>/<container>.log`.
 * - `{namespace, container, pod}`: only the pod with that exact name. File:
 *   `<logsDir>/<ns>/pods/<pod>/<container>.log`. Once a pod has any pod-specific file, its other
 *   containers fall back to the namespace's empty default file (not to the namespace-wide files).
 */
export interface PodLogTarget {
  namespace: string;
  container: string;
  pod?: string;
}

/** A log line: text (timestamped "now") or text with an explicit time; stdout unless stated. */
export type PodLogLine = string | { text: string; time?: Date; stream?: 'stdout' | 'stderr' };

interface LogFileState {
  file: string;
  /** Last timestamp written, in ns since epoch (keeps timestamps strictly increasing). */
  lastNs: bigint;
}
const logState = new Map<string, LogFileState>();
const stateKey = (t: PodLogTarget) => `${t.namespace}/${t.pod ?? '*'}/${t.container}`;

function requireLocalStack(what: string): StackEnv {
  const env = stackEnv();
  if (env.existingCluster || !env.logsDir) {
    throw new Error(`${what} needs the local stack's kwok (not available on TKJ_TEST_KUBECONFIG clusters)`);
  }
  return env;
}

function checkName(kind: string, v: string) {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) throw new Error(`invalid ${kind} name ${JSON.stringify(v)}`);
}

/** Path of the file kwok serves for `target` (see {@link PodLogTarget}). */
export function podLogPath(target: PodLogTarget): string {
  const env = requireLocalStack('podLogPath');
  checkName('namespace', target.namespace);
  checkName('container', target.container);
  if (target.pod !== undefined) {
    checkName('pod', target.pod);
    return path.join(env.logsDir, target.namespace, 'pods', target.pod, `${target.container}.log`);
  }
  return path.join(env.logsDir, target.namespace, `${target.container}.log`);
}

const defaultLogPath = (ns: string) => path.join(stackEnv().logsDir, ns, '_default.log');

/** Formats a time with nanoseconds: 2026-01-01T00:00:00.123456789Z. */
export function formatRfc3339Nano(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...ss.mmmZ
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** One CRI log line (`<RFC3339Nano> <stream> F <text>\n`). */
export function formatCriLogLine(time: Date | bigint, text: string, stream: 'stdout' | 'stderr' = 'stdout'): string {
  const ns = typeof time === 'bigint' ? time : BigInt(time.getTime()) * 1_000_000n;
  return `${formatRfc3339Nano(ns)} ${stream} F ${text}\n`;
}

function renderLines(state: LogFileState, lines: PodLogLine[]): string {
  let out = '';
  for (const l of lines) {
    const { text, time, stream } = typeof l === 'string' ? { text: l, time: undefined, stream: undefined } : l;
    for (const part of text.split('\n')) {
      let ns: bigint;
      if (time) {
        ns = BigInt(time.getTime()) * 1_000_000n;
      } else {
        // "now", strictly after the previous line of this file (1 ns apart within a millisecond).
        ns = BigInt(Date.now()) * 1_000_000n;
        if (ns <= state.lastNs) ns = state.lastNs + 1n;
      }
      if (ns > state.lastNs) state.lastNs = ns;
      out += formatCriLogLine(ns, part, stream ?? 'stdout');
    }
  }
  return out;
}

interface KwokLog {
  containers?: string[];
  logsFile: string;
  previousLogsFile?: string;
  follow?: boolean;
}
interface KwokLogsObject extends KubernetesObject {
  spec: { selector?: { matchNamespaces?: string[]; matchNames?: string[] }; logs: KwokLog[] };
}

const PROBE_MARKER = 'tkj-kwok-log-probe';

/** Creates the namespace's ClusterLogs (default entry only) if missing. */
async function ensureNamespaceLogs(ns: string): Promise<void> {
  const env = requireLocalStack('pod logs');
  fs.mkdirSync(path.join(env.logsDir, ns), { recursive: true });
  const def = defaultLogPath(ns);
  if (!fs.existsSync(def)) fs.writeFileSync(def, '');
  const api = kubeConfig().makeApiClient(CustomObjectsApi);
  const body: KwokLogsObject = {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'ClusterLogs',
    metadata: { name: clusterLogsName(ns), labels: { 'temporal-k8s-jobs/test': 'true' } },
    spec: { selector: { matchNamespaces: [ns] }, logs: [{ logsFile: def }] },
  };
  try {
    await api.createClusterCustomObject({ ...CLUSTER_LOGS, body });
  } catch (e) {
    if (errorCode(e) !== 409) throw e;
  }
}

/**
 * Makes sure kwok maps `target` to its file. A new mapping gets a `previousLogsFile` holding a
 * marker line, and we poll kwok (previous=true) until it serves the marker: then the mapping is live.
 */
async function ensureMapping(target: PodLogTarget, file: string): Promise<void> {
  const env = requireLocalStack('pod logs');
  const kc = kubeConfig();
  const api = kc.makeApiClient(CustomObjectsApi);
  const probeFile = `${file}.previous`;
  const entry: KwokLog = { containers: [target.container], logsFile: file, previousLogsFile: probeFile };
  fs.writeFileSync(probeFile, formatCriLogLine(new Date(0), `${PROBE_MARKER} ${target.container}`));
  await ensureNamespaceLogs(target.namespace);

  // Read-modify-write with retries on conflicts; `create` makes the object when it is missing.
  const upsert = async (get: () => Promise<KwokLogsObject | undefined>, put: (o: KwokLogsObject) => Promise<unknown>, create: () => Promise<unknown>) => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await get();
      if (!cur) {
        try {
          await create();
        } catch (e) {
          if (errorCode(e) !== 409) throw e;
        }
        continue;
      }
      const existing = cur.spec.logs.find((l) => (l.containers ?? []).includes(target.container));
      if (existing && existing.logsFile === file && existing.previousLogsFile === probeFile) return;
      cur.spec.logs = [entry, ...cur.spec.logs.filter((l) => !(l.containers ?? []).includes(target.container))];
      try {
        await put(cur);
        return;
      } catch (e) {
        if (errorCode(e) !== 409) throw e; // conflict: re-read and retry
      }
    }
    throw new Error(`could not update kwok's log config for ${stateKey(target)} (conflicts)`);
  };
  const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p;
    } catch (e) {
      if (errorCode(e) === 404) return undefined;
      throw e;
    }
  };

  if (target.pod === undefined) {
    const name = clusterLogsName(target.namespace);
    await upsert(
      () => orUndefined(api.getClusterCustomObject({ ...CLUSTER_LOGS, name }) as Promise<KwokLogsObject>),
      (o) => api.replaceClusterCustomObject({ ...CLUSTER_LOGS, name, body: o }),
      () => ensureNamespaceLogs(target.namespace),
    );
  } else {
    const { namespace, pod } = target;
    const body: KwokLogsObject = {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Logs',
      metadata: { name: pod, namespace },
      spec: { logs: [{ logsFile: defaultLogPath(namespace) }] },
    };
    await upsert(
      () => orUndefined(api.getNamespacedCustomObject({ ...LOGS, namespace, name: pod }) as Promise<KwokLogsObject>),
      (o) => api.replaceNamespacedCustomObject({ ...LOGS, namespace, name: pod, body: o }),
      () => api.createNamespacedCustomObject({ ...LOGS, namespace, body }),
    );
  }

  // kwok picks the change up through a watch: wait until it serves this mapping. Under load kwok has
  // been seen to miss an update for over 15 s; after 20 s the object is touched (a fresh update event)
  // and the wait goes on.
  const probePod = target.pod ?? 'tkj-log-probe';
  const url = `${env.kwokUrl}/containerLogs/${target.namespace}/${probePod}/${target.container}?previous=true`;
  const served = async () => {
    const res = await fetch(url);
    return res.ok && (await res.text()).includes(`${PROBE_MARKER} ${target.container}`);
  };
  const what = `kwok to serve logs for ${stateKey(target)}`;
  try {
    await waitFor(served, { timeoutMs: 20_000, intervalMs: 50, what });
  } catch {
    const touch = { metadata: { annotations: { 'temporal-k8s-jobs/touched': String(Date.now()) } } };
    const opts = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    if (target.pod === undefined) await api.patchClusterCustomObject({ ...CLUSTER_LOGS, name: clusterLogsName(target.namespace), body: touch }, opts);
    else await api.patchNamespacedCustomObject({ ...LOGS, namespace: target.namespace, name: target.pod, body: touch }, opts);
    await waitFor(served, { timeoutMs: 40_000, intervalMs: 50, what });
  }
}

/**
 * (Re)writes the log file of `target` with `lines` and makes kwok serve it (see
 * {@link PodLogTarget} for which pods it applies to). Lines given as strings get "now" as their
 * timestamp (strictly increasing per file); `{time}` sets it explicitly. A text with newlines
 * becomes several lines. Returns the file path. `pods/log` reads the file on every request, so
 * later {@link appendPodLog} calls show up in running pods' logs.
 */
export async function writePodLog(target: PodLogTarget, lines: PodLogLine[] = []): Promise<string> {
  const file = podLogPath(target);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const key = stateKey(target);
  const state: LogFileState = { file, lastNs: 0n };
  fs.writeFileSync(file, renderLines(state, lines));
  if (!logState.has(key)) await ensureMapping(target, file);
  logState.set(key, state);
  return file;
}

/** Appends `lines` to the log file of `target` (created via {@link writePodLog} if needed). */
export async function appendPodLog(target: PodLogTarget, lines: PodLogLine[]): Promise<string> {
  const state = logState.get(stateKey(target));
  if (!state) return writePodLog(target, lines);
  fs.appendFileSync(state.file, renderLines(state, lines));
  return state.file;
}

// ------------------------------------------------------------------ service accounts

export interface MintedServiceAccount {
  /** Kubeconfig using the token (server https://127.0.0.1:6443, the stack's CA, namespace `ns`). */
  kubeconfigPath: string;
  /** In-cluster-style directory with `token`, `ca.crt` and `namespace`. */
  tokenDir: string;
  /**
   * Prefix for client-node's `KubeConfig.loadFromCluster(pathPrefix)`: it reads
   * `${pathPrefix}/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}` (tokenDir
   * is exactly that directory). loadFromCluster also needs {@link inClusterEnv} in process.env.
   */
  inClusterPathPrefix: string;
  /** KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT for the in-cluster code path. */
  inClusterEnv: { KUBERNETES_SERVICE_HOST: string; KUBERNETES_SERVICE_PORT: string };
  token: string;
  server: string;
}

/**
 * Creates the ServiceAccount if missing (unless `create: false`), requests a token for it
 * (TokenRequest API, default 1 h) and writes a kubeconfig plus an in-cluster-style token directory
 * under `opts.dir` (default: a fresh temp dir).
 */
export async function mintServiceAccountKubeconfig(
  ns: string,
  serviceAccountName: string,
  opts: { expirationSeconds?: number; audiences?: string[]; dir?: string; create?: boolean } = {},
): Promise<MintedServiceAccount> {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  if (opts.create ?? true) {
    try {
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: serviceAccountName } } });
    } catch (e) {
      if (errorCode(e) !== 409) throw e;
    }
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name: serviceAccountName,
    namespace: ns,
    body: { spec: { expirationSeconds: opts.expirationSeconds ?? 3600, audiences: opts.audiences ?? [] } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${ns}/${serviceAccountName} returned no token`);

  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const env = stackEnv();
  let ca: Buffer;
  if (env.caFile) ca = fs.readFileSync(env.caFile);
  else if (cluster.caData) ca = Buffer.from(cluster.caData, 'base64');
  else if (cluster.caFile) ca = fs.readFileSync(cluster.caFile);
  else throw new Error('no CA for the cluster in the admin kubeconfig');

  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-sa-'));
  fs.mkdirSync(dir, { recursive: true });
  const kubeconfigPath = path.join(dir, 'kubeconfig');
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: cluster',
    '  cluster:',
    `    server: ${cluster.server}`,
    `    certificate-authority-data: ${ca.toString('base64')}`,
    'users:',
    `- name: ${serviceAccountName}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: sa',
    '  context:',
    '    cluster: cluster',
    `    user: ${serviceAccountName}`,
    `    namespace: ${ns}`,
    'current-context: sa',
    '',
  ].join('\n');
  fs.writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

  const inClusterPathPrefix = path.join(dir, 'incluster');
  const tokenDir = path.join(inClusterPathPrefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  fs.mkdirSync(tokenDir, { recursive: true });
  fs.writeFileSync(path.join(tokenDir, 'token'), token, { mode: 0o600 });
  fs.writeFileSync(path.join(tokenDir, 'ca.crt'), ca);
  fs.writeFileSync(path.join(tokenDir, 'namespace'), ns);

  const u = new URL(cluster.server);
  return {
    kubeconfigPath,
    tokenDir,
    inClusterPathPrefix,
    inClusterEnv: { KUBERNETES_SERVICE_HOST: u.hostname.replace(/^\[|\]$/g, ''), KUBERNETES_SERVICE_PORT: u.port || '443' },
    token,
    server: cluster.server,
  };
}

/**
 * The only module that imports `@kubernetes/client-node`: credentials, object CRUD, list+watch caches
 * and pod logs. Every API error leaves this module as a {@link KubernetesJobsError} (never a raw
 * ApiException, whose message dumps headers), retryable only for 429, 5xx and network errors.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  ListWatch,
  Log,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubernetesObject as ClientObject,
  type V1Job,
  type V1Pod,
  type CoreV1Event,
} from '@kubernetes/client-node';
import { FailureType } from './failures.js';
import { KubernetesJobsError } from './errors.js';
import type { KubernetesObject } from './manifest.js';

export type { KubeConfig, V1Job, V1Pod, CoreV1Event };

/** Where credentials come from. With none set: in-cluster when running in a pod, else KUBECONFIG / ~/.kube/config. */
export interface LoadKubeConfigOptions {
  /** Use the pod's service account (token and CA under /var/run/secrets/kubernetes.io/serviceaccount). */
  inCluster?: boolean;
  /** Path of a kubeconfig file. */
  kubeconfig?: string;
  /** Context to use from the kubeconfig. @default the kubeconfig's current-context */
  context?: string;
  /** Root under which the in-cluster service-account files are read (tests). @default '/' */
  inClusterRoot?: string;
}

const SA_DIR = 'var/run/secrets/kubernetes.io/serviceaccount';

function credentialsError(message: string): KubernetesJobsError {
  return new KubernetesJobsError(FailureType.CredentialsError, message, { nonRetryable: true });
}

/**
 * Loads Kubernetes credentials. Never falls back to localhost:8080: no credentials is an error.
 *
 * @example
 * const kc = loadKubeConfig({ kubeconfig: '~/.kube/config', context: 'staging' });
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const root = options.inClusterRoot ?? '/';
  const saDir = path.join(root, SA_DIR);
  const inClusterAvailable = !!process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(saDir, 'token'));
  if (options.inCluster || (!options.kubeconfig && !options.context && inClusterAvailable && !process.env.KUBECONFIG)) {
    if (!inClusterAvailable) {
      throw credentialsError(
        `in-cluster credentials requested but not found (need KUBERNETES_SERVICE_HOST and ${path.join(saDir, 'token')}); is the worker running in a pod with a service account?`,
      );
    }
    kc.loadFromCluster(root === '/' ? undefined : root);
    return kc;
  }
  const file = options.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter).find(Boolean) ?? path.join(os.homedir(), '.kube', 'config');
  const expanded = file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file;
  if (!fs.existsSync(expanded)) {
    throw credentialsError(
      options.kubeconfig
        ? `kubeconfig '${options.kubeconfig}' does not exist`
        : `no Kubernetes credentials: not in a cluster, KUBECONFIG is not set and '${expanded}' does not exist (pass --kubeconfig/--context or run in a pod)`,
    );
  }
  try {
    kc.loadFromFile(expanded);
  } catch (err) {
    throw credentialsError(`cannot read kubeconfig '${expanded}': ${(err as Error).message}`);
  }
  if (options.context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(options.context)) {
      throw credentialsError(`context '${options.context}' not found in '${expanded}' (contexts: ${names.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentContext() || !kc.getCurrentCluster()) {
    throw credentialsError(`kubeconfig '${expanded}' has no current context with a cluster${kc.getContexts().length ? ` (contexts: ${kc.getContexts().map((c) => c.name).join(', ')}; pass --context)` : ''}`);
  }
  return kc;
}

/** The namespace credentials point at: the context's namespace, the service account's, else 'default'. */
export function defaultNamespace(kc: KubeConfig, inClusterRoot = '/'): string {
  const ctx = kc.getContextObject(kc.getCurrentContext());
  if (ctx?.namespace) return ctx.namespace;
  try {
    const ns = fs.readFileSync(path.join(inClusterRoot, SA_DIR, 'namespace'), 'utf8').trim();
    if (ns && kc.getCurrentContext() === 'inClusterContext') return ns;
  } catch {
    /* not in a cluster */
  }
  return 'default';
}

// ---------------------------------------------------------------------------------------------
// Errors

/** HTTP status of an API error, or undefined for network errors. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: number } };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return e?.response?.statusCode;
}

function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string; code?: unknown; cause?: { code?: string } };
  let body = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      /* plain text body */
    }
  }
  const msg = (body as { message?: string } | undefined)?.message;
  if (msg) return msg;
  const netCode = typeof e?.code === 'string' ? e.code : e?.cause?.code;
  if (netCode) return netCode;
  return String(e?.message ?? err).split('\n')[0]!.slice(0, 300);
}

/**
 * Turns any error from the Kubernetes client into a {@link KubernetesJobsError} naming the operation
 * and the target. 401/403/404/409/422/400 are non-retryable; 429, 5xx and network errors are retried.
 */
export function kubeError(err: unknown, operation: string, target: string): KubernetesJobsError {
  if (err instanceof KubernetesJobsError) return err;
  const status = statusOf(err);
  if (status === undefined) {
    // No HTTP status is not automatically a network error: a configuration or TLS problem fails the
    // same way on every try, so it is final, with one clear message.
    const config = configurationProblem(err);
    if (config) {
      return new KubernetesJobsError(FailureType.CredentialsError, `Kubernetes API: ${operation} ${target} failed: ${config}`, {
        nonRetryable: true,
        details: { operation, target, message: apiMessage(err) },
      });
    }
  }
  const message = apiMessage(err);
  // No HTTP status and not a configuration problem: a network-level failure (refused, reset, timeout).
  const retryable = status === undefined ? true : status === 429 || status >= 500;
  const hint = status === 403 ? ' (the worker lacks RBAC permission; see rbac/)' : status === 401 ? ' (credentials rejected)' : '';
  return new KubernetesJobsError(
    FailureType.KubernetesApiError,
    `Kubernetes API: ${operation} ${target} failed${status ? ` (HTTP ${status})` : ''}: ${message}${hint}`,
    { nonRetryable: !retryable, details: { operation, target, status, message } },
  );
}

/** TLS verification failures (Node/OpenSSL codes): the server's certificate does not match the configured CA or name. */
const TLS_CODE = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH)/;

/** A description of a configuration or TLS problem behind `err` (searched along its causes), else undefined. */
export function configurationProblem(err: unknown): string | undefined {
  for (let e = err as { message?: unknown; code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const message = typeof e.message === 'string' ? e.message : '';
    const code = typeof e.code === 'string' ? e.code : '';
    if (/HTTP protocol is not allowed when skipTLSVerify/.test(message)) {
      return "the kubeconfig's server is http:// without insecure-skip-tls-verify: use the API server's https:// address (or set insecure-skip-tls-verify: true for a local test server)";
    }
    if (TLS_CODE.test(code)) {
      return `TLS verification of the API server failed (${code}: ${message.split('\n')[0]}); check the kubeconfig's server address and certificate-authority`;
    }
    if (code === 'ERR_INVALID_URL' || /Invalid URL/.test(message)) return `the kubeconfig's server address is not a valid URL (${message.split('\n')[0]})`;
  }
  return undefined;
}

async function call<T>(operation: string, target: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw kubeError(err, operation, target);
  }
}

// ---------------------------------------------------------------------------------------------
// Client

/** Longest a single (non-follow) log read may take before it is aborted and retried later. */
const LOG_READ_TIMEOUT_MS = 60_000;

/** Counts API requests (for benchmarks). */
export interface RequestCounter {
  requests: number;
}

/** A thin client over one KubeConfig: the operations the Job lifecycle needs. */
export class KubeClient {
  readonly batch: BatchV1Api;
  readonly core: CoreV1Api;
  readonly objects: KubernetesObjectApi;
  readonly counter: RequestCounter = { requests: 0 };

  constructor(readonly kc: KubeConfig) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  private count<T>(operation: string, target: string, fn: () => Promise<T>): Promise<T> {
    this.counter.requests++;
    return call(operation, target, fn);
  }

  /** Creates any object (Job or companion). */
  create<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.count('create', describe(obj), () => this.objects.create(obj as ClientObject) as Promise<T>);
  }

  /** Reads a Job, or undefined when it does not exist. */
  async readJob(namespace: string, name: string): Promise<V1Job | undefined> {
    try {
      this.counter.requests++;
      return await this.batch.readNamespacedJob({ name, namespace });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw kubeError(err, 'read', `Job '${namespace}/${name}'`);
    }
  }

  /** Merge-patches a Job (metadata annotations, spec.suspend). */
  patchJob(namespace: string, name: string, patch: Record<string, unknown>): Promise<V1Job> {
    return this.count('patch', `Job '${namespace}/${name}'`, () =>
      this.batch.patchNamespacedJob({ name, namespace, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
  }

  /**
   * Removes a finalizer from a Job: a merge patch of the rest of the list, with the Job's
   * resourceVersion as a precondition (so another writer's finalizer is never dropped), re-read on a
   * conflict. Returns false when the Job is gone or does not have it.
   */
  async removeFinalizer(namespace: string, name: string, finalizer: string): Promise<boolean> {
    for (let i = 0; ; i++) {
      const job = await this.readJob(namespace, name);
      const finalizers = job?.metadata?.finalizers ?? [];
      if (!job || !finalizers.includes(finalizer)) return false;
      try {
        await this.patchJob(namespace, name, { metadata: { resourceVersion: job.metadata?.resourceVersion, finalizers: finalizers.filter((f) => f !== finalizer) } });
        return true;
      } catch (err) {
        const status = (err as KubernetesJobsError).details?.status;
        if ((status === 409 || status === 404) && i < 20) continue; // changed or gone meanwhile: look again
        throw err;
      }
    }
  }

  /** Reads any object, or undefined when it does not exist. */
  async readObject(obj: KubernetesObject): Promise<KubernetesObject | undefined> {
    try {
      this.counter.requests++;
      return (await this.objects.read(obj as never)) as KubernetesObject;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw kubeError(err, 'read', describe(obj));
    }
  }

  /** Lists Jobs by label selector in one namespace, or all namespaces when `namespace` is undefined. */
  async listJobs(namespace: string | undefined, labelSelector: string): Promise<V1Job[]> {
    const res = await this.count('list', `Jobs (${labelSelector})`, () =>
      namespace ? this.batch.listNamespacedJob({ namespace, labelSelector }) : this.batch.listJobForAllNamespaces({ labelSelector }),
    );
    return res.items;
  }

  /**
   * Deletes a Job with the propagation policy in the request body (so its pods go too).
   * Returns false when it was already gone.
   */
  async deleteJob(namespace: string, name: string, propagationPolicy: 'Foreground' | 'Background' = 'Background'): Promise<boolean> {
    try {
      this.counter.requests++;
      await this.batch.deleteNamespacedJob({ name, namespace, body: { propagationPolicy } });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw kubeError(err, 'delete', `Job '${namespace}/${name}'`);
    }
  }

  /** Deletes any object by kind/name (companions). Returns false when it was already gone. */
  async deleteObject(obj: KubernetesObject): Promise<boolean> {
    try {
      this.counter.requests++;
      await this.objects.delete(obj as ClientObject, undefined, undefined, undefined, undefined, 'Background');
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw kubeError(err, 'delete', describe(obj));
    }
  }

  /** Lists pods by label selector. */
  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const res = await this.count('list', `pods in '${namespace}' (${labelSelector})`, () => this.core.listNamespacedPod({ namespace, labelSelector }));
    return res.items;
  }

  /** Recent events about an object (best effort: an error yields no events). */
  async listEvents(namespace: string, involvedName: string): Promise<CoreV1Event[]> {
    try {
      this.counter.requests++;
      const res = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${involvedName}` });
      return res.items;
    } catch {
      return [];
    }
  }

  /**
   * Reads a container's log with timestamps, from `sinceTime` (RFC3339, second granularity).
   * Returns undefined when the container has no log yet (waiting to start) or the pod is gone.
   */
  async readLog(namespace: string, pod: string, container: string, sinceTime?: string): Promise<string | undefined> {
    // The generated API has no sinceTime; the Log helper does (it streams, so collect the body).
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (b: Buffer) => chunks.push(b));
    const done = new Promise<void>((resolve, reject) => {
      sink.on('end', () => resolve());
      sink.on('error', reject);
    });
    this.counter.requests++;
    try {
      const opts: { follow: boolean; timestamps: boolean; sinceTime?: string } = { follow: false, timestamps: true };
      if (sinceTime) opts.sinceTime = sinceTime;
      const request = await new Log(this.kc).log(namespace, pod, container, sink, opts);
      // A connection dropped mid-body never ends the piped stream: bound the read and abort it.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          request.abort();
          reject(Object.assign(new Error(`no end of the log after ${LOG_READ_TIMEOUT_MS / 1000}s`), { code: 'ETIMEDOUT' }));
        }, LOG_READ_TIMEOUT_MS);
      });
      try {
        await Promise.race([done, timeout]);
      } finally {
        clearTimeout(timer);
      }
      return Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      const status = statusOf(err);
      if (status === 204 || status === 400 || status === 404) return undefined; // never started, not started yet, or deleted
      throw kubeError(err, 'read log of', `pod '${namespace}/${pod}' container '${container}'`);
    }
  }

  /**
   * Streams a container's log (follow) with timestamps. `onChunk` gets text as it arrives; `onEnd` is
   * called once the stream ends or fails. Returns the AbortController at once: the stream can be closed
   * from the moment it is opened, also while the server has not answered yet (it sends no headers
   * until the container writes a first line, so an empty log would otherwise keep it open).
   */
  followLog(
    namespace: string,
    pod: string,
    container: string,
    sinceTime: string | undefined,
    onChunk: (text: string) => void,
    onEnd: (err?: unknown) => void,
  ): AbortController {
    const controller = new AbortController();
    let ended = false;
    const end = (err?: unknown) => {
      if (!ended) {
        ended = true;
        onEnd(err);
      }
    };
    controller.signal.addEventListener('abort', () => end());
    this.counter.requests++;
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) {
      end(new Error('No currently active cluster'));
      return controller;
    }
    const url = new URL(`${cluster.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`);
    url.searchParams.set('container', container);
    url.searchParams.set('follow', 'true');
    url.searchParams.set('timestamps', 'true');
    if (sinceTime) url.searchParams.set('sinceTime', sinceTime);
    const opts: https.RequestOptions = {};
    this.kc.applyToHTTPSOptions(opts).then(
      () => {
        if (controller.signal.aborted) return;
        const req = (url.protocol === 'http:' ? http : https).request(url, { ...opts, method: 'GET', signal: controller.signal }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            end(Object.assign(new Error(`HTTP ${res.statusCode} on a log stream`), { statusCode: res.statusCode }));
            return;
          }
          res.setEncoding('utf8');
          res.on('data', (text: string) => onChunk(text));
          res.on('end', () => end());
          res.on('error', (e) => end(e));
        });
        req.on('error', (e) => end(e));
        req.end();
      },
      (err: unknown) => end(err),
    );
    return controller;
  }

  /**
   * A list+watch cache of Jobs or pods: lists, then watches from the list's resourceVersion, re-watches
   * when the server closes an idle watch and re-lists on 410 Gone. `onChange` runs after every event.
   * On errors it restarts after a short backoff (and reports through `onError`).
   */
  cache<T extends V1Job | V1Pod>(
    kind: 'jobs' | 'pods',
    namespace: string,
    selectors: { labelSelector?: string; fieldSelector?: string },
    onChange: () => void,
    onError: (err: KubernetesJobsError) => void,
  ): WatchedCache<T> {
    return new WatchedCache<T>(this, kind, namespace, selectors, onChange, onError);
  }
}

/** See {@link KubeClient.cache}. */
export class WatchedCache<T extends V1Job | V1Pod> {
  private readonly lw: ListWatch<T>;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 250;
  private starting = false;
  private listFailed: unknown;
  private readonly what: string;

  constructor(
    client: KubeClient,
    kind: 'jobs' | 'pods',
    namespace: string,
    selectors: { labelSelector?: string; fieldSelector?: string },
    onChange: () => void,
    onError: (err: KubernetesJobsError) => void,
  ) {
    this.what = `${kind} in '${namespace}'`;
    const apiPath = kind === 'jobs' ? `/apis/batch/v1/namespaces/${namespace}/jobs` : `/api/v1/namespaces/${namespace}/pods`;
    const listFn = async () => {
      client.counter.requests++;
      this.listFailed = undefined;
      try {
        const res =
          kind === 'jobs'
            ? await client.batch.listNamespacedJob({ namespace, labelSelector: selectors.labelSelector, fieldSelector: selectors.fieldSelector })
            : await client.core.listNamespacedPod({ namespace, labelSelector: selectors.labelSelector, fieldSelector: selectors.fieldSelector });
        return res as unknown as { items: T[]; metadata?: { resourceVersion?: string } };
      } catch (err) {
        this.listFailed = err;
        throw err;
      }
    };
    this.lw = new ListWatch<T>(apiPath, new Watch(client.kc), listFn as never, false, selectors.labelSelector, selectors.fieldSelector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.lw.on(verb, () => {
        this.backoffMs = 250;
        onChange();
      });
    }
    this.lw.on('connect', () => client.counter.requests++);
    this.lw.on('error', (err: unknown) => {
      if (this.stopped || this.starting) return; // start() retries a failed first list itself
      onError(kubeError(err, 'watch', `${kind} in '${namespace}'`));
      // The list+watch stops on errors; start it again (a fresh list) after a growing backoff. One
      // pending restart at a time, and a stop() that lands while it lists stops the watch it opens.
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        if (this.stopped) return;
        this.lw.start().then(
          () => (this.stopped ? this.lw.stop() : undefined),
          () => undefined,
        );
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    });
  }

  /**
   * Lists and starts watching; resolves after the first SUCCESSFUL list, so that an empty cache always
   * means "none exist" (the client's ListWatch resolves even when its list failed). Transient list
   * errors are retried with backoff; a permanent one (403...) is thrown.
   */
  async start(): Promise<void> {
    this.starting = true;
    try {
      for (let backoffMs = 250; ; backoffMs = Math.min(backoffMs * 2, 10_000)) {
        await this.lw.start();
        if (this.listFailed === undefined || this.stopped) return;
        const e = kubeError(this.listFailed, 'list', this.what);
        if (e.nonRetryable) throw e;
        await new Promise((r) => setTimeout(r, backoffMs));
        if (this.stopped) return;
      }
    } finally {
      this.starting = false;
    }
  }

  /** The objects as currently known. */
  list(): readonly T[] {
    return this.lw.list();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.lw.stop();
  }
}

function describe(obj: KubernetesObject): string {
  return `${obj.kind ?? 'object'} '${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name ?? '?'}'`;
}

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
import { createHash } from 'node:crypto';
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
import { jobMetrics } from './metrics.js';
import type { KubernetesObject } from './manifest.js';
import { SharedWatches, type JobSubscription } from './shared-watch.js';

export type { KubeConfig, V1Job, V1Pod, CoreV1Event, JobSubscription };

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
  jobMetrics.apiError(status);
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

/** Free keep-alive connections are closed after this long unused (below API servers' idle timeouts). */
const IDLE_SOCKET_MS = 30_000;
/** Connection agents kept per KubeConfig (one per distinct TLS identity; client certificates can rotate). */
const MAX_AGENTS = 4;
const SHARED_AGENTS = Symbol('temporal-k8s-jobs.sharedAgents');

/**
 * Makes every request of `kc` (generated API clients, watches, logs) reuse keep-alive connections:
 * @kubernetes/client-node 1.4 builds a new agent per request, so every read and watch would pay a fresh
 * TCP and TLS handshake. Agents are shared per cluster and TLS identity (server, proxy, CA, client
 * certificate), so a rotated certificate gets a new agent. Idempotent.
 */
export function shareConnections(kc: KubeConfig): void {
  type AgentFactory = (cluster: unknown, options: https.AgentOptions) => http.Agent;
  const k = kc as unknown as { createAgent: AgentFactory; [SHARED_AGENTS]?: Map<string, http.Agent> };
  if (k[SHARED_AGENTS] || typeof k.createAgent !== 'function') return;
  const agents = new Map<string, http.Agent>();
  k[SHARED_AGENTS] = agents;
  const create = k.createAgent.bind(kc);
  k.createAgent = (cluster, options) => {
    const c = (cluster ?? {}) as { server?: string; proxyUrl?: string };
    const hash = createHash('sha256');
    for (const v of [c.server, c.proxyUrl, options.ca, options.cert, options.key, options.pfx, options.passphrase, options.rejectUnauthorized, options.servername]) {
      hash.update(v === undefined ? '\0u' : Buffer.isBuffer(v) ? v : JSON.stringify(v));
      hash.update('\0');
    }
    const key = hash.digest('hex');
    let agent = agents.get(key);
    if (!agent) {
      agent = create(cluster, { ...options, keepAlive: true, timeout: IDLE_SOCKET_MS });
      agents.set(key, agent);
      if (agents.size > MAX_AGENTS) {
        // The oldest identity is no longer used: close its idle connections (open ones end on their own).
        const [oldKey, old] = agents.entries().next().value as [string, http.Agent];
        agents.delete(oldKey);
        for (const list of Object.values(old.freeSockets)) for (const s of list ?? []) s.destroy();
      }
    }
    return agent;
  };
}

/**
 * Makes concurrent first requests for one apiVersion share one discovery GET: KubernetesObjectApi
 * caches the API's resource list, but a burst of creates before the first answer each fetched it.
 */
function singleFlightDiscovery(api: KubernetesObjectApi): KubernetesObjectApi {
  type Resource = (apiVersion: string, kind: string, options?: unknown) => Promise<unknown>;
  const a = api as unknown as { resource: Resource; apiVersionResourceCache: Record<string, unknown> };
  const resource = a.resource.bind(api);
  const inFlight = new Map<string, Promise<unknown>>();
  a.resource = async (apiVersion, kind, options) => {
    if (options || a.apiVersionResourceCache[apiVersion]) return resource(apiVersion, kind, options);
    const pending = inFlight.get(apiVersion);
    if (pending) {
      await pending.catch(() => undefined);
      return resource(apiVersion, kind); // cached now (or fetched again after a failure)
    }
    const first = resource(apiVersion, kind).finally(() => inFlight.delete(apiVersion));
    inFlight.set(apiVersion, first);
    return first;
  };
  return api;
}

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
  /** One list+watch of this package's Jobs and one of their pods per namespace, shared by every Job. */
  readonly watches: SharedWatches;

  constructor(readonly kc: KubeConfig) {
    shareConnections(kc);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.objects = singleFlightDiscovery(KubernetesObjectApi.makeApiClient(kc));
    this.watches = new SharedWatches(this);
  }

  /**
   * Follows one Job and its pods through the namespace's shared watches (see {@link SharedWatches}).
   * `onChange` runs after every event about them; `onError` gets watch errors (the watch retries
   * transient ones itself). Close the subscription when done.
   */
  watchJob(namespace: string, name: string, onChange: () => void, onError: (err: KubernetesJobsError) => void): JobSubscription {
    return this.watches.subscribe(namespace, name, onChange, onError);
  }

  /** Stops the shared watches (the process goes on without them; a later watchJob starts them again). */
  async close(): Promise<void> {
    await this.watches.stopAll();
  }

  private count<T>(operation: string, target: string, fn: () => Promise<T>): Promise<T> {
    this.counter.requests++;
    return call(operation, target, fn);
  }

  /** Creates any object (Job or companion). */
  create<T extends KubernetesObject>(obj: T): Promise<T> {
    // Jobs through the typed API: no discovery request before the first create.
    if (obj.apiVersion === 'batch/v1' && obj.kind === 'Job' && obj.metadata?.namespace) {
      const namespace = obj.metadata.namespace;
      return this.count('create', describe(obj), () => this.batch.createNamespacedJob({ namespace, body: obj as V1Job }) as unknown as Promise<T>);
    }
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
   * Returns undefined when the container has no log yet (waiting to start) or the pod is gone; with
   * `previous`, the log of the container's previous instance (before its last restart), undefined when
   * there is none.
   */
  async readLog(namespace: string, pod: string, container: string, sinceTime?: string, opts: { previous?: boolean } = {}): Promise<string | undefined> {
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
      const options: { follow: boolean; timestamps: boolean; sinceTime?: string; previous?: boolean } = { follow: false, timestamps: true };
      if (sinceTime) options.sinceTime = sinceTime;
      if (opts.previous) options.previous = true;
      const request = await new Log(this.kc).log(namespace, pod, container, sink, options);
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
    const query: Record<string, string | undefined> = { container, follow: 'true', timestamps: 'true', sinceTime };
    return this.openStream(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`, query, onChunk, onEnd);
  }

  /** Lists this package's Jobs or pods in a namespace, with the list's resourceVersion (a watch starts from it). */
  async listForWatch<T extends V1Job | V1Pod>(kind: 'jobs' | 'pods', namespace: string, labelSelector: string): Promise<{ items: T[]; resourceVersion: string }> {
    const res = await this.count('list', `${kind} in '${namespace}' (${labelSelector})`, (): Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }> =>
      kind === 'jobs' ? this.batch.listNamespacedJob({ namespace, labelSelector }) : this.core.listNamespacedPod({ namespace, labelSelector }),
    );
    return { items: res.items as T[], resourceVersion: res.metadata?.resourceVersion ?? '' };
  }

  /**
   * Opens one watch of this package's Jobs or pods in a namespace from `resourceVersion`, with bookmarks,
   * that the server ends after `timeoutSeconds`. `onEvent` gets every event; `onEnd` is called once,
   * without an error when the server ended the watch or it was aborted, else with the error (`statusCode`
   * set for an HTTP answer). `onSocket` gets the connection once it is assigned.
   */
  openWatch(
    kind: 'jobs' | 'pods',
    namespace: string,
    query: { labelSelector: string; resourceVersion: string; timeoutSeconds: number },
    onEvent: (event: { type: string; object: Record<string, unknown> }) => void,
    onEnd: (err?: unknown) => void,
    onSocket?: (socket: import('node:net').Socket) => void,
  ): AbortController {
    const apiPath = kind === 'jobs' ? `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs` : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
    let partial = '';
    const params = { watch: 'true', allowWatchBookmarks: 'true', labelSelector: query.labelSelector, resourceVersion: query.resourceVersion || undefined, timeoutSeconds: String(query.timeoutSeconds) };
    const controller = this.openStream(
      apiPath,
      params,
      (text) => {
        partial += text;
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0 && !controller.signal.aborted) {
          const line = partial.slice(0, nl).trim();
          partial = partial.slice(nl + 1);
          if (!line) continue;
          let event: { type: string; object: Record<string, unknown> };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            continue; // not an event (never sent by a conforming server)
          }
          onEvent(event);
        }
      },
      onEnd,
      onSocket,
    );
    return controller;
  }

  /**
   * A streamed GET (a follow log, a watch): `onData` gets the body as text as it arrives; `onEnd` is
   * called once, when the body ends, the request fails (an HTTP answer other than 200 carries
   * `statusCode` and the body) or the returned controller aborts it (no error). Returns at once: the
   * stream can be aborted before the server answers (a follow log sends no headers until the container
   * writes a first line).
   */
  private openStream(
    apiPath: string,
    query: Record<string, string | undefined>,
    onData: (text: string) => void,
    onEnd: (err?: unknown) => void,
    onSocket?: (socket: import('node:net').Socket) => void,
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
    const url = new URL(`${cluster.server}${apiPath}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const opts: https.RequestOptions = {};
    this.kc.applyToHTTPSOptions(opts).then(
      () => {
        if (controller.signal.aborted) return;
        const req = (url.protocol === 'http:' ? http : https).request(url, { ...opts, method: 'GET', signal: controller.signal }, (res) => {
          res.setEncoding('utf8');
          if (res.statusCode !== 200) {
            let body = '';
            res.on('data', (text: string) => (body = (body + text).slice(0, 4096)));
            res.on('end', () => end(Object.assign(new Error(`HTTP ${res.statusCode} on a stream`), { statusCode: res.statusCode, body })));
            res.on('error', (e) => end(e));
            return;
          }
          res.on('data', (text: string) => onData(text));
          res.on('end', () => end());
          res.on('error', (e) => end(e));
          // A connection cut mid-body: the stream did not end, it broke.
          res.on('close', () => end(res.complete ? undefined : Object.assign(new Error('the stream was cut before its end'), { code: 'ECONNRESET' })));
        });
        req.on('socket', (socket) => {
          socket.setKeepAlive(true, 30_000);
          onSocket?.(socket);
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

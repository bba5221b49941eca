/**
 * Shared watches: one list+watch of this package's Jobs and one of their pods per namespace and per
 * {@link KubeClient} (one per worker process), selected by the ownership label that Jobs and, through
 * the pod template, their pods carry. Each supervised Job subscribes to its own events through an
 * index by name (Jobs) and by Job name (pods), so an event is dispatched in O(1) whatever the number
 * of Jobs. Reconnection is handled here once for all Jobs:
 * - the server ends a watch after `timeoutSeconds`, or it stays silent for 90 s (no event, not even the
 *   bookmark API servers send every minute): it is opened again from the last resourceVersion
 *   (bookmarks keep that recent), without a list;
 * - 410 Gone (the resourceVersion was compacted away): a fresh list, compared with the cache, so that a
 *   Job that completed (or vanished) while the watch was down is seen;
 * - other errors (API server down, network): reported to the subscribers, retried with backoff from the
 *   last resourceVersion (410 then leads to a list). A 401/403 after a list succeeded is retried for a
 *   minute before it is final (an API server that just restarted denies until its RBAC cache is warm).
 * A namespace's watches stop a short while after its last subscription closes (a Job that follows
 * another one in the same namespace reuses them).
 *
 * Absence is only trusted when it is known: a subscription reports its Job gone once the Job was seen
 * and then deleted (event or list), or when a list that started after the subscription lacks it. A
 * failed or earlier list never makes a Job look deleted.
 */
import type { Socket } from 'node:net';
import { KubernetesJobsError } from './errors.js';
import { kubeError, statusOf, type KubeClient, type V1Job, type V1Pod } from './kube.js';
import { LABEL_MANAGED_BY, MANAGED_BY_VALUE } from './naming.js';

/** Selects what this package created: Jobs, and their pods (the label is put in the pod template). */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}`;

/** The server ends a watch after a random time in [min, 2*min) seconds (spreads re-watches). */
const WATCH_TIMEOUT_SECONDS = 300;
/**
 * A watch silent this long is considered dead (a half-open connection, a proxy that lost its upstream)
 * and reopened. API servers send a bookmark about every minute to watches that allow them.
 */
const WATCH_IDLE_MS = 90_000;
/** Backoff after an error: doubles up to the maximum, reset by the next event. */
const BACKOFF_MS = { initial: 250, max: 10_000 };
/** A namespace's watches stay open this long after its last subscription closes. */
const LINGER_MS = 15_000;
/**
 * 401/403 from a watch that worked before are retried this long before they are final: an API server
 * that just restarted answers 403 until its authorizer's caches are filled.
 */
const AUTH_GRACE_MS = 60_000;

type Kind = 'jobs' | 'pods';
type Obj = V1Job | V1Pod;

interface Subscriber {
  notify(): void;
  error(err: KubernetesJobsError): void;
}

/** The name of the Job an object belongs to: its own name (a Job), its Job's (a pod). */
function keyOf(kind: Kind, obj: Obj): string | undefined {
  if (kind === 'jobs') return obj.metadata?.name;
  const labels = obj.metadata?.labels ?? {};
  return labels['batch.kubernetes.io/job-name'] ?? labels['job-name'];
}

/** A list+watch cache of one kind in one namespace, indexed by Job name. */
class Informer {
  /** By object name. */
  private readonly objects = new Map<string, Obj>();
  /** Job name -> object name -> object. */
  private readonly index = new Map<string, Map<string, Obj>>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private refs = 0;
  private resourceVersion = '';
  /** Lists started so far; the number of the last one that succeeded. */
  listsStarted = 0;
  listedBy = 0;
  private running = false;
  private stopped = true;
  private abortWatch: (() => void) | undefined;
  private socket: Socket | undefined;
  private wake: (() => void) | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readyWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  /** A list has succeeded once (permissions were granted). */
  private everListed = false;
  /** Since when 401/403 answers have been coming, after {@link everListed}. */
  private authTroubleSince: number | undefined;
  private readonly what: string;

  constructor(
    private readonly kube: KubeClient,
    readonly kind: Kind,
    readonly namespace: string,
  ) {
    this.what = `${kind} in '${namespace}'`;
  }

  /** Objects of the Job `key`. */
  get(key: string): Obj[] {
    const m = this.index.get(key);
    return m ? [...m.values()] : [];
  }

  /** Adds a subscriber of `key`'s events and starts watching (if not already). */
  acquire(key: string, sub: Subscriber): void {
    let set = this.subscribers.get(key);
    if (!set) this.subscribers.set(key, (set = new Set()));
    set.add(sub);
    this.refs++;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.socket?.ref();
    this.stopped = false;
    if (!this.running) void this.run();
  }

  /** Removes a subscriber; the watch stops after {@link LINGER_MS} without any. */
  release(key: string, sub: Subscriber): void {
    const set = this.subscribers.get(key);
    if (!set?.delete(sub)) return;
    if (set.size === 0) this.subscribers.delete(key);
    if (--this.refs > 0) return;
    // Lingering does not keep the process alive.
    this.socket?.unref();
    this.lingerTimer = setTimeout(() => void this.stop(), LINGER_MS);
    this.lingerTimer.unref();
  }

  /** Resolves once a list has succeeded since the watch started; rejects on a permanent list error. */
  ready(): Promise<void> {
    if (this.listedBy > 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Whether a list that started after `listsStartedThen` lists was taken has succeeded. */
  listedSince(listsStartedThen: number): boolean {
    return this.listedBy > listsStartedThen;
  }

  async stop(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.stopped = true;
    this.abortWatch?.();
    this.wake?.();
    this.objects.clear();
    this.index.clear();
    this.resourceVersion = '';
    this.listedBy = 0;
  }

  private async run(): Promise<void> {
    this.running = true;
    let backoffMs = BACKOFF_MS.initial;
    try {
      while (!this.stopped) {
        let listing = false;
        try {
          if (!this.resourceVersion) {
            listing = true;
            await this.list();
            listing = false;
          }
          if (this.stopped) break;
          const openedAt = Date.now();
          const sawEvents = await this.watch();
          if (sawEvents) backoffMs = BACKOFF_MS.initial;
          // A watch the server ends at once without any event (a misbehaving proxy): do not spin.
          else if (Date.now() - openedAt < 1000) await this.pause((backoffMs = Math.min(backoffMs * 2, BACKOFF_MS.max)));
        } catch (err) {
          if (this.stopped) break;
          if (statusOf(err) === 410 || (err as KubernetesJobsError).details?.status === 410) {
            this.resourceVersion = ''; // compacted: list again at once
            continue;
          }
          const e = this.classify(kubeError(err, listing ? 'list' : 'watch', this.what));
          if (listing && this.listedBy === 0 && e.nonRetryable) for (const w of this.readyWaiters.splice(0)) w.reject(e);
          for (const set of this.subscribers.values()) for (const s of set) s.error(e);
          await this.pause(backoffMs);
          backoffMs = Math.min(backoffMs * 2, BACKOFF_MS.max);
        }
      }
    } finally {
      this.running = false;
      // A subscription that came while this loop was winding down needs a loop of its own.
      if (!this.stopped && this.refs > 0) void this.run();
    }
  }

  /** A 401/403 after permissions were granted stays retryable for {@link AUTH_GRACE_MS}. */
  private classify(e: KubernetesJobsError): KubernetesJobsError {
    const status = e.details?.status;
    if (!this.everListed || (status !== 401 && status !== 403)) return e;
    this.authTroubleSince ??= Date.now();
    if (Date.now() - this.authTroubleSince >= AUTH_GRACE_MS) return e;
    return new KubernetesJobsError(e.type, `${e.message} (retried: it was allowed before)`, { ...e.options, nonRetryable: false });
  }

  /** Waits `ms`, or less when the watch is stopped meanwhile. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      if (this.refs === 0) t.unref(); // lingering does not keep the process alive
      this.wake = () => (clearTimeout(t), resolve());
    });
    this.wake = undefined;
  }

  /** Lists, replaces the cache (telling the Jobs that changed or vanished), and notes the resourceVersion. */
  private async list(): Promise<void> {
    const number = ++this.listsStarted;
    const { items, resourceVersion } = await this.kube.listForWatch<Obj>(this.kind, this.namespace, MANAGED_SELECTOR);
    if (this.stopped) return;
    const touched = new Set<string>();
    const fresh = new Set<string>();
    for (const obj of items) {
      const name = obj.metadata?.name;
      if (!name) continue;
      fresh.add(name);
      const old = this.objects.get(name);
      if (old?.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.put(obj, touched);
    }
    for (const [name, old] of this.objects) if (!fresh.has(name)) this.remove(old, touched);
    this.resourceVersion = resourceVersion;
    this.listedBy = number;
    this.everListed = true;
    this.authTroubleSince = undefined;
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    // Every subscriber re-evaluates: an absent Job is now known to be absent.
    for (const set of this.subscribers.values()) for (const s of set) s.notify();
  }

  /**
   * Watches from the current resourceVersion until the server ends the watch (resolves: whether any
   * event came) or it fails (rejects; 410 Gone as an error with statusCode 410).
   */
  private watch(): Promise<boolean> {
    const timeoutSeconds = WATCH_TIMEOUT_SECONDS + Math.floor(Math.random() * WATCH_TIMEOUT_SECONDS);
    return new Promise<boolean>((resolve, reject) => {
      let sawEvents = false;
      let failure: unknown;
      let idle: NodeJS.Timeout | undefined;
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          failure = Object.assign(new Error(`nothing on the watch of ${this.what} for ${WATCH_IDLE_MS / 1000}s`), { code: 'ETIMEDOUT' });
          controller.abort();
        }, WATCH_IDLE_MS);
        idle.unref();
      };
      const controller = this.kube.openWatch(
        this.kind,
        this.namespace,
        { labelSelector: MANAGED_SELECTOR, resourceVersion: this.resourceVersion, timeoutSeconds },
        (event) => {
          armIdle();
          this.authTroubleSince = undefined;
          const obj = event.object as unknown as Obj;
          if (event.type === 'ERROR') {
            const status = event.object as { code?: number; message?: string; reason?: string };
            failure = Object.assign(new Error(status.message ?? status.reason ?? 'watch error'), { statusCode: status.code, body: JSON.stringify(status) });
            controller.abort();
            return;
          }
          const rv = obj.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (event.type === 'BOOKMARK') return;
          sawEvents = true;
          const touched = new Set<string>();
          if (event.type === 'DELETED') this.remove(obj, touched);
          else this.put(obj, touched);
          this.dispatch(touched);
        },
        (err) => {
          clearTimeout(idle);
          this.abortWatch = undefined;
          this.socket = undefined;
          if (failure ?? err) reject(failure ?? err);
          else resolve(sawEvents);
        },
        (socket) => {
          this.socket = socket;
          if (this.refs === 0) socket.unref();
        },
      );
      this.abortWatch = () => controller.abort();
      armIdle();
    });
  }

  private put(obj: Obj, touched: Set<string>): void {
    const name = obj.metadata!.name!;
    if (obj.metadata?.managedFields) delete obj.metadata.managedFields; // never read; the bulk of a small object
    const old = this.objects.get(name);
    if (old) this.unindex(old, name);
    this.objects.set(name, obj);
    const key = keyOf(this.kind, obj);
    if (key !== undefined) {
      let m = this.index.get(key);
      if (!m) this.index.set(key, (m = new Map()));
      m.set(name, obj);
      touched.add(key);
    }
    const oldKey = old && keyOf(this.kind, old);
    if (oldKey !== undefined) touched.add(oldKey);
  }

  private remove(obj: Obj, touched: Set<string>): void {
    const name = obj.metadata?.name;
    if (!name) return;
    const old = this.objects.get(name);
    if (!old) return;
    this.objects.delete(name);
    this.unindex(old, name);
    const key = keyOf(this.kind, old);
    if (key !== undefined) touched.add(key);
  }

  private unindex(old: Obj, name: string): void {
    const key = keyOf(this.kind, old);
    if (key === undefined) return;
    const m = this.index.get(key);
    m?.delete(name);
    if (m?.size === 0) this.index.delete(key);
  }

  private dispatch(keys: Set<string>): void {
    for (const key of keys) for (const s of this.subscribers.get(key) ?? []) s.notify();
  }
}

/** One Job and its pods, as the shared watches of its namespace see them. */
export interface JobSubscription {
  /** Resolves once both watches have listed; rejects when listing fails for good (e.g. 403). */
  ready(): Promise<void>;
  /** The Job of that name as last seen (any UID), or undefined. */
  job(): V1Job | undefined;
  /** Pods labelled with that Job name (any UID: filter by ownerReferences). */
  pods(): V1Pod[];
  /** Whether a list of the Jobs that started after this subscription has succeeded (absence is then known). */
  listedSince(): boolean;
  close(): void;
}

/** The shared watches of one {@link KubeClient}: see the module comment. */
export class SharedWatches {
  private readonly informers = new Map<string, Informer>();

  constructor(private readonly kube: KubeClient) {}

  /** Subscribes to the events of Job `name` in `namespace` and of its pods. */
  subscribe(namespace: string, name: string, onChange: () => void, onError: (err: KubernetesJobsError) => void): JobSubscription {
    const jobs = this.informer('jobs', namespace);
    const pods = this.informer('pods', namespace);
    const sub: Subscriber = { notify: onChange, error: onError };
    const listsThen = jobs.listsStarted;
    jobs.acquire(name, sub);
    pods.acquire(name, sub);
    let closed = false;
    return {
      ready: async () => {
        await jobs.ready();
        await pods.ready();
      },
      job: () => jobs.get(name)[0] as V1Job | undefined,
      pods: () => pods.get(name) as V1Pod[],
      listedSince: () => jobs.listedSince(listsThen),
      close: () => {
        if (closed) return;
        closed = true;
        jobs.release(name, sub);
        pods.release(name, sub);
      },
    };
  }

  /** Stops every watch now. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  private informer(kind: Kind, namespace: string): Informer {
    const key = `${kind}/${namespace}`;
    let i = this.informers.get(key);
    if (!i) this.informers.set(key, (i = new Informer(this.kube, kind, namespace)));
    return i;
  }
}

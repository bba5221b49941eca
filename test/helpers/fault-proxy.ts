// A real HTTPS proxy between a worker and the stack's kube-apiserver, for faults the stack cannot
// produce by itself (a 503 on the first list, a 5xx on a log read, a 422 on a cursor write). The
// proxying and counting (per client = bearer token, per method + path, open streams) is the shared
// CountingProxy of bench/counting-proxy.js; rules answer matching requests with an error instead of
// forwarding them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { CountingProxy, proxyKubeconfig, type SeenRequest } from '../../bench/counting-proxy.js';
import { kubeConfig, mintServiceAccountKubeconfig, stackEnv } from './stack.js';
import { tempDir } from './tmp.js';

export type { SeenRequest };

/** Answers matching requests with `status` instead of forwarding them, `times` times (default once). */
export interface FaultRule {
  method?: string;
  /** Matched against the request's path and query (e.g. `/apis/batch/v1/namespaces/x/jobs?`). */
  path: RegExp;
  status: number;
  times?: number;
  /** Only requests after this many matching ones were forwarded (e.g. 1: leave the first alone). */
  after?: number;
}

interface ActiveRule extends FaultRule {
  left: number;
  seen: number;
  hits: number;
}

/** See the module comment. */
export class FaultProxy {
  private readonly rules: ActiveRule[] = [];
  private blocked: ((r: SeenRequest) => boolean) | undefined;

  private constructor(private readonly proxy: CountingProxy) {}

  /** Every request seen, in order. */
  get requests(): SeenRequest[] {
    return this.proxy.requests;
  }

  /** Forwarded requests whose answer is still open (watches, follow streams, slow reads). */
  get open(): Set<SeenRequest> {
    return this.proxy.open;
  }

  get url(): string {
    return this.proxy.url;
  }

  /** TCP (TLS) connections clients opened to the proxy so far. */
  get connections(): number {
    return this.proxy.connections;
  }

  /** Starts a proxy on 127.0.0.1 (a free port) in front of the stack's apiserver. */
  static async start(): Promise<FaultProxy> {
    const env = stackEnv();
    const pki = path.dirname(env.caFile);
    const holder: { proxy?: FaultProxy } = {};
    const proxy = await CountingProxy.start({
      upstream: readServer(env.kubeconfig),
      ca: fs.readFileSync(env.caFile),
      cert: fs.readFileSync(path.join(pki, 'apiserver.crt')),
      key: fs.readFileSync(path.join(pki, 'apiserver.key')),
      intercept: (seen, req, res) => {
        const p = holder.proxy!;
        const rule: { status: number } | undefined = p.blocked?.(seen) ? { status: 503 } : p.match(seen);
        if (!rule) return false;
        seen.injected = rule.status;
        req.resume();
        res.writeHead(rule.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `injected by the fault proxy (${rule.status})`, code: rule.status }));
        return true;
      },
    });
    holder.proxy = new FaultProxy(proxy);
    return holder.proxy;
  }

  /** Adds a rule; returns it, so its `hits` can be read later. */
  addRule(rule: FaultRule): { readonly hits: number } {
    const r: ActiveRule = { ...rule, left: rule.times ?? 1, seen: 0, hits: 0 };
    this.rules.push(r);
    return r;
  }

  /**
   * Cuts the open forwarded requests that `filter` matches (their connections are reset) and answers
   * new matching ones with 503 until {@link unblock}: e.g. a worker's watches going down.
   */
  block(filter: (r: SeenRequest) => boolean): void {
    this.blocked = filter;
    this.proxy.cut(filter);
  }

  unblock(): void {
    this.blocked = undefined;
  }

  /** How many requests each client (bearer token) made, optionally only those matching `filter`. */
  countByClient(filter: (r: SeenRequest) => boolean = () => true): Map<string, number> {
    return this.proxy.countByClient(filter);
  }

  /** A kubeconfig that reaches the apiserver through this proxy with `token`, written into `dir`. */
  writeKubeconfig(dir: string, token: string, namespace: string): string {
    const file = path.join(dir, 'proxy.kubeconfig');
    fs.writeFileSync(file, proxyKubeconfig(this.url, fs.readFileSync(stackEnv().caFile), token, namespace), { mode: 0o600 });
    return file;
  }

  async close(): Promise<void> {
    await this.proxy.close();
  }

  private match(req: SeenRequest): ActiveRule | undefined {
    for (const r of this.rules) {
      if (r.left <= 0 || (r.method && r.method !== req.method) || !r.path.test(req.path)) continue;
      r.seen++;
      if (r.seen <= (r.after ?? 0)) continue;
      r.left--;
      r.hits++;
      return r;
    }
    return undefined;
  }
}

/** The server URL of a kubeconfig's first cluster (the stack's admin kubeconfig). */
function readServer(kubeconfig: string): string {
  const m = /server:\s*['"]?([^'"\s]+)/.exec(fs.readFileSync(kubeconfig, 'utf8'));
  if (!m) throw new Error(`no server in ${kubeconfig}`);
  return m[1]!;
}

/**
 * A proxy in front of the apiserver and a kubeconfig through it for a worker whose identity is a
 * ServiceAccount of `ns` with the built-in `admin` ClusterRole there (its token passes the proxy).
 */
export async function proxiedWorkerKubeconfig(ns: string): Promise<{ proxy: FaultProxy; kubeconfig: string }> {
  const sa = await mintServiceAccountKubeconfig(ns, 'worker');
  await kubeConfig()
    .makeApiClient(RbacAuthorizationV1Api)
    .createNamespacedRoleBinding({
      namespace: ns,
      body: { metadata: { name: 'worker-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: 'worker', namespace: ns }] },
    });
  const proxy = await FaultProxy.start();
  return { proxy, kubeconfig: proxy.writeKubeconfig(tempDir().dir, sa.token, ns) };
}

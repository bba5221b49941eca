// A real HTTPS proxy between a worker and the stack's kube-apiserver, for faults the stack cannot
// produce by itself (a 503 on the first list, a 5xx on a log read, a 422 on a cursor write). The
// proxying and counting (per client = bearer token, per method + path, open streams) is the shared
// CountingProxy of bench/counting-proxy.js; rules answer matching requests with an error instead of
// forwarding them.
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { CountingProxy, proxyKubeconfig, type SeenRequest } from '../../bench/counting-proxy.js';
import { kubeConfig, mintServiceAccountKubeconfig, stackEnv } from './stack.js';
import { tempDir } from './tmp.js';

export type { SeenRequest };

/**
 * Answers matching requests with `status` instead of forwarding them, `times` times (default once).
 * Instead of a status, a rule can `reset` the connection (no answer), `hangMs` (hold the request that
 * long, then reset it: a server that stopped answering) or `delayMs` (forward it late).
 */
export interface FaultRule {
  method?: string;
  /** Matched against the request's path and query (e.g. `/apis/batch/v1/namespaces/x/jobs?`). */
  path: RegExp;
  /** Only requests whose body matches (the body is read first; e.g. a PATCH of one annotation). */
  body?: RegExp;
  status?: number;
  reset?: boolean;
  hangMs?: number;
  delayMs?: number;
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
      intercept: (seen, req, res, forward) => {
        const p = holder.proxy!;
        if (!p.blocked?.(seen) && p.wantsBody(seen)) {
          // A rule looks at bodies: read this one, then answer or forward it as read.
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks);
            const rule = p.match(seen, body.toString());
            if (rule) p.answer(rule, seen, req, res, () => forward(body));
            else forward(body);
          });
          return true;
        }
        const rule: FaultRule | undefined = p.blocked?.(seen) ? { path: /./, status: 503 } : p.match(seen);
        if (!rule) return false;
        p.answer(rule, seen, req, res, () => forward());
        return true;
      },
    });
    holder.proxy = new FaultProxy(proxy);
    return holder.proxy;
  }

  /** Whether a pending rule needs the body of this request to decide. */
  private wantsBody(seen: SeenRequest): boolean {
    return this.rules.some((r) => r.body && r.left > 0 && (!r.method || r.method === seen.method) && r.path.test(seen.path));
  }

  /** Answers a request as `rule` says (a status, a reset, a hang, or a late forward). */
  private answer(rule: FaultRule, seen: SeenRequest, req: IncomingMessage, res: ServerResponse, forward: () => void): void {
    if (rule.status === undefined) {
      // 0: reset or held (no answer from the proxy itself).
      seen.injected = rule.reset || rule.hangMs ? 0 : undefined;
      if (rule.reset) req.socket.destroy();
      else setTimeout(() => (rule.hangMs ? req.socket.destroy() : forward()), rule.hangMs ?? rule.delayMs ?? 0);
      return;
    }
    const status = rule.status;
    seen.injected = status;
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `injected by the fault proxy (${status})`, code: status }));
  }

  /**
   * A blackhole: nothing gets through for `ms` (new requests are held, open answers such as watches
   * and log streams stop flowing), then everything resumes. Resolves when it is lifted.
   */
  async blackhole(ms: number): Promise<void> {
    this.proxy.hold();
    await new Promise((r) => setTimeout(r, ms));
    this.proxy.release();
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

  private match(req: SeenRequest, body?: string): ActiveRule | undefined {
    for (const r of this.rules) {
      if (r.left <= 0 || (r.method && r.method !== req.method) || !r.path.test(req.path)) continue;
      if (r.body && (body === undefined || !r.body.test(body))) continue;
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

// A real HTTPS proxy between a worker and the stack's kube-apiserver, for faults the stack cannot
// produce by itself (a 503 on the first list, a 5xx on a log read, a 422 on a cursor write). It
// terminates TLS with the apiserver's own serving certificate (so clients keep verifying against the
// stack's CA), forwards every request unchanged (the client's bearer token included) and streams the
// answers (watches, follow logs). Rules answer matching requests with an error instead of forwarding.
// It also counts requests per client (bearer token) and per method + path.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { kubeConfig, mintServiceAccountKubeconfig, stackEnv } from './stack.js';
import { tempDir } from './tmp.js';

/**
 * Answers matching requests with `status` instead of forwarding them, `times` times (default once).
 * Instead of a status, a rule can `reset` the connection (no answer), `hangMs` (hold the request that
 * long, then reset it: a server that stopped answering) or `delayMs` (forward it late).
 */
export interface FaultRule {
  method?: string;
  /** Matched against the request's path and query (e.g. `/apis/batch/v1/namespaces/x/jobs?`). */
  path: RegExp;
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

/** One request as the proxy saw it. */
export interface SeenRequest {
  client: string;
  method: string;
  path: string;
  /** The status the proxy answered itself (a fault; 0: reset or held), or undefined when forwarded. */
  injected?: number;
}

/** See the module comment. */
export class FaultProxy {
  readonly requests: SeenRequest[] = [];
  /** Forwarded requests whose answer is still open (watches, follow streams, slow reads). */
  readonly open = new Set<SeenRequest>();
  private readonly rules: ActiveRule[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: https.Server,
    readonly url: string,
  ) {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Starts a proxy on 127.0.0.1 (a free port) in front of the stack's apiserver. */
  static async start(): Promise<FaultProxy> {
    const env = stackEnv();
    const pki = path.dirname(env.caFile);
    const ca = fs.readFileSync(env.caFile);
    const upstream = new URL(readServer(env.kubeconfig));
    const holder: { proxy?: FaultProxy } = {};
    const server = https.createServer({ cert: fs.readFileSync(path.join(pki, 'apiserver.crt')), key: fs.readFileSync(path.join(pki, 'apiserver.key')) }, (req, res) => {
      const p = holder.proxy!;
      const seen: SeenRequest = { client: clientOf(req.headers.authorization), method: req.method ?? 'GET', path: req.url ?? '/' };
      p.requests.push(seen);
      const rule = p.match(seen);
      if (rule && rule.status === undefined) {
        seen.injected = rule.reset || rule.hangMs ? 0 : undefined;
        if (rule.reset) {
          req.socket.destroy();
          return;
        }
        // Hold (or delay) the request; a blackhole holds every request until it is lifted.
        const ms = rule.hangMs ?? rule.delayMs ?? 0;
        setTimeout(() => (rule.hangMs ? req.socket.destroy() : p.forward(req, res, seen)), ms);
        return;
      }
      if (rule) {
        seen.injected = rule.status;
        req.resume();
        const status = rule.status!;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `injected by the fault proxy (${status})`, code: status }));
        return;
      }
      p.forward(req, res, seen);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    holder.proxy = new FaultProxy(server, `https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    holder.proxy.upstream = { url: upstream, ca };
    return holder.proxy;
  }

  private upstream!: { url: URL; ca: Buffer };
  /** Requests held by a blackhole, and the open answers it froze. */
  private held: Array<() => void> | undefined;
  private readonly streams = new Map<import('node:http').IncomingMessage, import('node:http').ServerResponse>();

  /** Forwards a request upstream and streams the answer back (held while a blackhole is on). */
  private forward(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, seen: SeenRequest): void {
    if (this.held) {
      this.held.push(() => this.forward(req, res, seen));
      return;
    }
    this.open.add(seen);
    res.on('close', () => this.open.delete(seen));
    const { url, ca } = this.upstream;
    const headers = { ...req.headers, host: url.host };
    const up = https.request({ host: url.hostname, port: url.port, method: req.method, path: req.url, headers, ca }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      this.streams.set(ures, res);
      ures.on('close', () => this.streams.delete(ures));
      ures.pipe(res);
      if (this.held) {
        ures.unpipe(res);
        ures.pause();
      }
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  }

  /**
   * A blackhole: nothing gets through for `ms` (new requests are held, open answers such as watches
   * and log streams stop flowing), then everything resumes. Resolves when it is lifted.
   */
  async blackhole(ms: number): Promise<void> {
    this.held = [];
    for (const [s, res] of this.streams) {
      s.unpipe(res);
      s.pause();
    }
    await new Promise((r) => setTimeout(r, ms));
    const held = this.held;
    this.held = undefined;
    for (const [s, res] of this.streams) s.pipe(res);
    for (const f of held) f();
  }

  /** Adds a rule; returns it, so its `hits` can be read later. */
  addRule(rule: FaultRule): { readonly hits: number } {
    const r: ActiveRule = { ...rule, left: rule.times ?? 1, seen: 0, hits: 0 };
    this.rules.push(r);
    return r;
  }

  /** How many requests each client (bearer token) made, optionally only those matching `filter`. */
  countByClient(filter: (r: SeenRequest) => boolean = () => true): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.requests) if (filter(r)) m.set(r.client, (m.get(r.client) ?? 0) + 1);
    return m;
  }

  /** A kubeconfig that reaches the apiserver through this proxy with `token`, written into `dir`. */
  writeKubeconfig(dir: string, token: string, namespace: string): string {
    const ca = fs.readFileSync(stackEnv().caFile).toString('base64');
    const file = path.join(dir, 'proxy.kubeconfig');
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{ name: proxy, cluster: { server: '${this.url}', certificate-authority-data: ${ca} } }]`,
        `users: [{ name: worker, user: { token: '${token}' } }]`,
        `contexts: [{ name: proxy, context: { cluster: proxy, user: worker, namespace: ${namespace} } }]`,
        'current-context: proxy',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return file;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
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

function clientOf(authorization: string | undefined): string {
  return authorization ? createHash('sha256').update(authorization).digest('hex').slice(0, 8) : 'anonymous';
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

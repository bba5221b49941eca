// A real HTTPS proxy between one Kubernetes client and the API server that counts what the client
// sends: every request (method, path, client, response bytes), the answers still open (watches,
// follow streams) and the TCP connections the client opened. It terminates TLS with the API server's
// own serving certificate (so clients keep verifying against the cluster's CA), forwards every
// request unchanged and streams the answers. Shared by the benchmark (bench/run.js) and the tests'
// fault proxy (test/helpers/fault-proxy.ts), which adds injected errors through `intercept`.
// Node built-ins only.
import { createHash } from 'node:crypto';
import * as https from 'node:https';

/**
 * Who sent a request: a short hash of its Authorization header ("anonymous" without one).
 * @param {string | undefined} authorization
 */
export function clientOf(authorization) {
  return authorization ? createHash('sha256').update(authorization).digest('hex').slice(0, 8) : 'anonymous';
}

/** True for a request that stays open by design: a watch or a followed log. */
export function isStream(r) {
  return /[?&](watch=(true|1)|follow=true)(&|$)/.test(r.path);
}

/**
 * What a request is, for per-kind counts: discovery, watch, list, get, log, create, patch, update,
 * delete, review (access reviews) or other.
 */
export function requestKind(r) {
  const [p, q = ''] = r.path.split('?');
  if (/(^|&)(watch=(true|1))(&|$)/.test(q)) return 'watch';
  if (r.method === 'GET' && (/^\/(api|apis)(\/[^/]+(\/[^/]+)?)?\/?$/.test(p) || p === '/version' || p.startsWith('/openapi'))) return 'discovery';
  if (p.endsWith('/log')) return 'log';
  if (p.includes('accessreviews')) return 'review';
  if (r.method === 'GET') {
    // .../namespaces/NS/jobs (collection) vs .../namespaces/NS/jobs/NAME (object)
    const parts = p.split('/').filter(Boolean);
    const nsAt = parts.indexOf('namespaces');
    const rest = nsAt >= 0 ? parts.length - nsAt - 2 : parts.length - 2;
    return rest % 2 === 1 ? 'list' : 'get';
  }
  return { POST: 'create', PATCH: 'patch', PUT: 'update', DELETE: 'delete' }[r.method] ?? 'other';
}

export class CountingProxy {
  /**
   * Starts a proxy on 127.0.0.1 (a free port).
   * @param {object} o
   * @param {string} o.upstream the API server's URL (https://host:port)
   * @param {Buffer} o.ca the CA the API server's certificate is checked against
   * @param {Buffer} o.cert the certificate this proxy serves (the API server's own)
   * @param {Buffer} o.key its key
   * @param {{cert: Buffer, key: Buffer}} [o.upstreamClientCert] authenticate upstream with this client
   *   certificate instead of the client's Authorization header (which still names the client in counts)
   * @param {(seen: object, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean} [o.intercept]
   *   answers a request itself (returns true) instead of forwarding it
   */
  static async start(o) {
    const upstream = new URL(o.upstream);
    const proxy = new CountingProxy();
    proxy.upstream = { url: upstream, ca: o.ca, clientCert: o.upstreamClientCert };
    const server = https.createServer({ cert: o.cert, key: o.key }, (req, res) => {
      const seen = { client: clientOf(req.headers.authorization), method: req.method ?? 'GET', path: req.url ?? '/', at: Date.now(), bytes: 0 };
      proxy.requests.push(seen);
      const forward = (body) => proxy.forward(req, res, seen, body);
      if (o.intercept?.(seen, req, res, forward)) return;
      forward();
    });
    server.on('connection', (s) => {
      proxy.connections++;
      proxy.sockets.add(s);
      s.on('close', () => proxy.sockets.delete(s));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    proxy.server = server;
    proxy.url = `https://127.0.0.1:${server.address().port}`;
    return proxy;
  }

  constructor() {
    /** Every request seen, in order. */
    this.requests = [];
    /** Forwarded requests whose answer is still open (watches, follow streams, slow reads). */
    this.open = new Set();
    /** TCP connections accepted so far (each one a TLS handshake). */
    this.connections = 0;
    /** Client connections open now. */
    this.sockets = new Set();
    /** How to cut each open forwarded request (see {@link cut}). */
    this.cutters = new Map();
    /** Upstream answers being streamed (paused by {@link hold}). */
    this.streams = new Map();
    /** Forwards waiting for {@link release}, while a hold is on. */
    this.held = undefined;
    this.upstream = undefined;
    this.url = '';
    this.server = undefined;
  }

  /** Forwards a request upstream and streams the answer back (queued while {@link hold} is on). */
  forward(req, res, seen, body) {
    if (this.held) {
      this.held.push(() => this.forward(req, res, seen, body));
      return;
    }
    const { url, ca, clientCert } = this.upstream;
    this.open.add(seen);
    res.on('close', () => {
      this.open.delete(seen);
      this.cutters.delete(seen);
    });
    const headers = { ...req.headers, host: url.host };
    if (clientCert) delete headers.authorization;
    const up = https.request({ host: url.hostname, port: url.port, method: req.method, path: req.url, headers, ca, ...(clientCert ?? {}) }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      // Send the headers now, as the API server did: a watch with no event yet has no body, and a
      // client waits for the headers before its watch counts as started.
      res.flushHeaders();
      seen.status = ures.statusCode;
      seen.answerMs = Date.now() - seen.at;
      ures.on('data', (b) => (seen.bytes += b.length));
      this.streams.set(ures, res);
      ures.on('close', () => this.streams.delete(ures));
      ures.pipe(res);
      if (this.held) {
        ures.unpipe(res);
        ures.pause();
      }
      // The API server's connection broke mid-answer (it stopped): so does the client's, as without a proxy.
      ures.on('close', () => {
        if (!ures.complete) res.destroy();
      });
    });
    this.cutters.set(seen, () => {
      up.destroy();
      res.destroy();
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    // A body already read (by an intercept that looked at it) is sent as read.
    if (body) up.end(body);
    else req.pipe(up);
  }

  /** A blackhole: new requests wait and open answers (watches, log streams) stop flowing, until {@link release}. */
  hold() {
    this.held ??= [];
    for (const [s, res] of this.streams) {
      s.unpipe(res);
      s.pause();
    }
  }

  /** Ends {@link hold}: open answers flow again and the waiting requests are forwarded. */
  release() {
    const held = this.held ?? [];
    this.held = undefined;
    for (const [s, res] of this.streams) s.pipe(res);
    for (const f of held) f();
  }

  /** Resets the open forwarded requests that `filter` matches (client and upstream connections). */
  cut(filter) {
    for (const [r, cut] of this.cutters) if (filter(r)) cut();
  }

  /** How many requests each client made, optionally only those matching `filter`. */
  countByClient(filter = () => true) {
    const m = new Map();
    for (const r of this.requests) if (filter(r)) m.set(r.client, (m.get(r.client) ?? 0) + 1);
    return m;
  }

  /** Open watches and followed logs right now. */
  openStreams() {
    let n = 0;
    for (const r of this.open) if (isStream(r)) n++;
    return n;
  }

  /** A mark to count from: {@link since} gives the requests after it. */
  mark() {
    return { index: this.requests.length, connections: this.connections };
  }

  /** Requests and connections since `mark`, with counts per kind and response bytes. */
  since(mark) {
    const reqs = this.requests.slice(mark.index);
    const byKind = {};
    let bytes = 0;
    const answerMs = [];
    for (const r of reqs) {
      const k = requestKind(r);
      byKind[k] = (byKind[k] ?? 0) + 1;
      bytes += r.bytes ?? 0;
      if (r.answerMs !== undefined && !isStream(r)) answerMs.push(r.answerMs);
    }
    return { requests: reqs.length, byKind, bytes, connections: this.connections - mark.connections, answerMs };
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * A kubeconfig (YAML text) that reaches the API server through a proxy at `url` with `token`.
 * @param {string} url @param {Buffer} ca @param {string} token @param {string} namespace
 */
export function proxyKubeconfig(url, ca, token, namespace) {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{ name: proxy, cluster: { server: '${url}', certificate-authority-data: ${ca.toString('base64')} } }]`,
    `users: [{ name: worker, user: { token: '${token}' } }]`,
    `contexts: [{ name: proxy, context: { cluster: proxy, user: worker, namespace: ${namespace} } }]`,
    'current-context: proxy',
    '',
  ].join('\n');
}

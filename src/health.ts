/**
 * The worker's health endpoints (`worker --health-address`): `/livez` answers while the process
 * runs; `/readyz` answers 200 only when every readiness check passes (the worker polls, Temporal
 * answers, the Kubernetes API server answers), else 503 with one line per failed check. Check results
 * are kept a few seconds, so probes cost the API server and Temporal at most one cheap request each per period.
 */
import * as http from 'node:http';
import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { firstLine } from './errors.js';

/** A readiness check: resolves when ready, rejects (its message says why) when not. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/** `host:port` (IPv6 as `[::1]:8080`) -> parts; undefined when it is not one. */
export function parseHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Rejects after `ms` with `what timed out`. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Readiness check of the Kubernetes API server: `GET /version`, which every client may read. */
export function kubernetesReachable(kc: KubeConfig, timeoutMs = 3000): ReadinessCheck {
  const api = kc.makeApiClient(VersionApi);
  const server = kc.getCurrentCluster()?.server ?? 'no server';
  return async () => {
    try {
      await within(timeoutMs, 'GET /version', api.getCode());
    } catch (err) {
      throw new Error(`Kubernetes API server ${server} unreachable: ${firstLine(err)}`);
    }
  };
}

/**
 * Serves `/livez` and `/readyz` on `host:port`. Results of `checks` are kept `cacheMs`; requests
 * meanwhile share one round of checks.
 */
export async function startHealthServer(address: { host: string; port: number }, checks: Record<string, ReadinessCheck>, { cacheMs = 5000 } = {}): Promise<HealthServer> {
  let last: { at: number; failures: Promise<string[]> } | undefined;
  const readiness = (): Promise<string[]> => {
    if (!last || Date.now() - last.at > cacheMs) {
      const failures = Promise.all(Object.entries(checks).map(([name, check]) => check().then(() => undefined, (err: unknown) => `${name}: ${firstLine(err)}`))).then((r) =>
        r.filter((x): x is string => !!x),
      );
      last = { at: Date.now(), failures };
    }
    return last.failures;
  };
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    const send = (code: number, body: string) => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (url === '/livez' || url === '/healthz') return send(200, 'ok\n');
    if (url !== '/readyz') return send(404, 'not found: try /livez or /readyz\n');
    readiness().then(
      (failures) => (failures.length ? send(503, `not ready\n${failures.join('\n')}\n`) : send(200, 'ok\n')),
      (err: unknown) => send(503, `not ready\n${firstLine(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  return {
    port: typeof bound === 'object' && bound ? bound.port : address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

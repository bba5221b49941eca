// The worker's health endpoints and its address flags (the readiness checks against the real stack
// are in test/integration/worker-metrics.test.ts).
import { parseHostPort, startHealthServer } from '../../src/health.js';

test.each([
  ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464 }],
  ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
  ['[::1]:8080', { host: '::1', port: 8080 }],
  ['localhost:80', { host: 'localhost', port: 80 }],
  ['9464', undefined],
  ['127.0.0.1:', undefined],
  ['127.0.0.1:70000', undefined],
  ['http://127.0.0.1:9464', undefined],
])('parseHostPort(%j)', (text, want) => {
  expect(parseHostPort(text)).toEqual(want);
});

test('/livez always 200; /readyz 503 naming each failed check, results kept for cacheMs', async () => {
  let calls = 0;
  let kubeOk = false;
  const server = await startHealthServer(
    { host: '127.0.0.1', port: 0 },
    {
      temporal: async () => void calls++,
      kubernetes: async () => {
        if (!kubeOk) throw new Error('Kubernetes API server unreachable: connect ECONNREFUSED\nmore');
      },
    },
    { cacheMs: 60_000 },
  );
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${server.port}${p}`);
    return [r.status, await r.text()];
  };
  try {
    expect(await get('/livez')).toEqual([200, 'ok\n']);
    expect(await get('/readyz')).toEqual([503, 'not ready\nkubernetes: Kubernetes API server unreachable: connect ECONNREFUSED\n']);
    kubeOk = true;
    expect((await get('/readyz'))[0]).toBe(503); // cached
    expect(calls).toBe(1);
    expect((await get('/nope'))[0]).toBe(404);
  } finally {
    await server.close();
  }
  const fresh = await startHealthServer({ host: '127.0.0.1', port: 0 }, { kubernetes: async () => undefined }, { cacheMs: 0 });
  try {
    const r = await fetch(`http://127.0.0.1:${fresh.port}/readyz`);
    expect([r.status, await r.text()]).toEqual([200, 'ok\n']);
  } finally {
    await fresh.close();
  }
});

// The Temporal connection of every command, secured: mTLS through a TLS-terminating proxy in front
// of the stack's dev server (worker + run end to end), the clear one-line errors for a wrong CA, a
// missing key and a missing client certificate, and the API key's authorization header.
import * as path from 'node:path';

import { cli, cliTestSuite, runCli } from '../helpers/cli.js';
import { KWOK_ANNOTATIONS, stackEnv, writePodLog } from '../helpers/stack.js';
import { makePki, startTlsProxy, type Pki, type TlsProxy } from '../helpers/tls-proxy.js';
import { tempDir } from '../helpers/tmp.js';

const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;
const { namespace } = cliTestSuite();

let pki: Pki;
let proxy: TlsProxy;
const tmp = tempDir();
beforeAll(async () => {
  pki = makePki(tmp.dir);
  proxy = await startTlsProxy(pki, env.temporalAddress);
});
afterAll(async () => {
  await proxy?.close();
  tmp.cleanup();
});

/** The CLI with only the proxy to reach Temporal (no TEMPORAL_ADDRESS of the stack). */
const viaProxy = () => ['--address', proxy.address];
const mtls = () => ['--tls-cert', pki.clientCert, '--tls-key', pki.clientKey, '--tls-ca', pki.ca];

describe('Temporal over TLS', () => {
  kwokIt('mTLS: a worker and run --task-queue through the proxy, end to end', async () => {
    const ns = await namespace('tls');
    await writePodLog({ namespace: ns, container: 'main' }, ['over mTLS']);
    const queue = `tkj-tls-${ns}`;
    const before = proxy.requests.length;
    const w = cli(['worker', '--task-queue', queue, '--namespace', ns, '--set', 'image=busybox:1.36', ...viaProxy(), ...mtls()]);
    try {
      await w.waitOut(new RegExp(`^worker ready: task queue ${queue} on ${proxy.address} \\(mTLS\\) `, 'm'));
      // The certificate files from the environment this time (the standard TEMPORAL_TLS_* names).
      const r = await runCli(['run', 'job.yaml.njk', '--task-queue', queue, '--logs', 'end', '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"1s"}`], {
        TEMPORAL_ADDRESS: proxy.address,
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
      });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain(`using the worker(s) on task queue ${queue} at ${proxy.address} (mTLS)`);
      expect(r.stdout).toMatch(/\/main over mTLS$/m);
      expect(r.stdout).toMatch(/Succeeded\n$/);
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exit).toBe(0);
    // Both went through the proxy, each request with the client certificate.
    const seen = proxy.requests.slice(before);
    expect(seen.map((q) => q.path)).toEqual(expect.arrayContaining(['/temporal.api.workflowservice.v1.WorkflowService/PollActivityTaskQueue', '/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution']));
    expect(new Set(seen.map((q) => q.clientCn))).toEqual(new Set(['client']));
  });

  it('cancel over mTLS, with --tls-server-name', async () => {
    const c = await runCli(['cancel', 'no-such-workflow', ...viaProxy(), ...mtls(), '--tls-server-name', 'localhost']);
    expect(c.stderr).toBe(`error: no workflow 'no-such-workflow' in namespace 'default' at ${proxy.address}\n`);
    expect(c.code).toBe(1);
  });

  it.each<[string, () => string[], RegExp]>([
    ['a wrong CA', () => ['--tls-cert', pki.clientCert, '--tls-key', pki.clientKey, '--tls-ca', pki.otherCa], /^error: cannot reach Temporal at 127\.0\.0\.1:\d+ \(mTLS\): the server's certificate is not trusted \([^\n]+\): check --tls-ca \(TEMPORAL_TLS_SERVER_CA_CERT_PATH\)\n$/],
    ['a missing key', () => ['--tls-cert', pki.clientCert, '--tls-ca', pki.ca], /^error: a TLS client certificate \(--tls-cert \/ TEMPORAL_TLS_CLIENT_CERT_PATH\) was given without its key: add --tls-key FILE \(or TEMPORAL_TLS_CLIENT_KEY_PATH\)\n$/],
    ['no client certificate where the server requires one', () => ['--tls-ca', pki.ca], /^error: cannot reach Temporal at 127\.0\.0\.1:\d+ \(TLS\): the server refused the client certificate \([^\n]*certificate required[^\n]*\): check --tls-cert and --tls-key [^\n]+\n$/],
    ['a certificate file that does not exist', () => ['--tls-cert', path.join(tmp.dir, 'nope.pem'), '--tls-key', pki.clientKey], /^error: cannot read --tls-cert \S+nope\.pem \(flag\): ENOENT\n$/],
  ])('%s: one clear line and exit 1 (cancel, worker, run)', async (_n, flags, want) => {
    for (const args of [['cancel', 'x'], ['worker', '--task-queue', 'tkj-tls-never'], ['run', 'job.yaml.njk', '--set', 'image=busybox:1.36']]) {
      const r = await runCli([...args, ...viaProxy(), ...flags()]);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 1, stderr: expect.stringMatching(want) });
    }
  });

  it('an API key is sent as the authorization header, over TLS', async () => {
    const before = proxy.requests.length;
    const r = await runCli(['cancel', 'no-such-workflow', ...viaProxy(), ...mtls(), '--api-key', 'test-key-1']);
    expect(r.stderr).toBe(`error: no workflow 'no-such-workflow' in namespace 'default' at ${proxy.address}\n`);
    const seen = proxy.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((q) => q.authorization))).toEqual(new Set(['Bearer test-key-1']));
    // From the environment too, and the worker's native connection sends it as well.
    const b2 = proxy.requests.length;
    const w = cli(['worker', '--task-queue', 'tkj-tls-apikey', ...viaProxy(), ...mtls()], { TEMPORAL_API_KEY: 'test-key-2' });
    try {
      await w.waitOut(/^worker ready: .*\(mTLS, API key\)/m);
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exit).toBe(0);
    expect(proxy.requests.slice(b2).length).toBeGreaterThan(0);
    expect(new Set(proxy.requests.slice(b2).map((q) => q.authorization))).toEqual(new Set(['Bearer test-key-2']));
  });
});

// API errors leave kube.ts as KubernetesJobsError: retryable only for 429, 5xx and network failures,
// with the server's message and never the raw ApiException text (which dumps headers).
// The errors are constructed here because the local stack cannot be made to answer 429/5xx on demand.
import { ApiException } from '@kubernetes/client-node';
import { kubeError } from '../../src/kube.js';

const status = (code: number, message: string) =>
  new ApiException(code, `HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ...\nHeaders: {"audit-id":"x"}`, JSON.stringify({ kind: 'Status', message, code }), { 'audit-id': 'x' });

test.each([
  [401, 'Unauthorized', false, /\(HTTP 401\): Unauthorized \(credentials rejected\)$/],
  [403, 'jobs.batch is forbidden: User "x" cannot create resource "jobs"', false, /\(HTTP 403\): jobs\.batch is forbidden.* \(the worker lacks RBAC permission; see rbac\/\)$/],
  [404, 'namespaces "nope" not found', false, /\(HTTP 404\): namespaces "nope" not found$/],
  [409, 'jobs.batch "x" already exists', false, /\(HTTP 409\)/],
  [422, 'Job.batch "x" is invalid: spec.template.spec.containers[0].image: Required value', false, /\(HTTP 422\): Job\.batch "x" is invalid/],
  [429, 'Too many requests', true, /\(HTTP 429\)/],
  [500, 'etcdserver: request timed out', true, /\(HTTP 500\): etcdserver: request timed out$/],
  [503, 'service unavailable', true, /\(HTTP 503\)/],
])('HTTP %i -> retryable=%s', (code, message, retryable, pattern) => {
  const err = kubeError(status(code, message), 'create', "Job 'ns/x'");
  expect(err.type).toBe('KubernetesApiError');
  expect(err.nonRetryable).toBe(!retryable);
  expect(err.message).toMatch(/^Kubernetes API: create Job 'ns\/x' failed/);
  expect(err.message).toMatch(pattern);
  expect(err.message).not.toMatch(/Headers|audit-id|HTTP-Code/);
  expect(err.details).toMatchObject({ status: code, operation: 'create' });
});

test('network errors (no HTTP status) are retryable and say what happened', () => {
  const refused = Object.assign(new Error('request to https://127.0.0.1:6443/apis failed, reason: connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
  const err = kubeError(refused, 'list', "Jobs in 'ns'");
  expect(err.nonRetryable).toBe(false);
  expect(err.message).toBe("Kubernetes API: list Jobs in 'ns' failed: ECONNREFUSED");
});

// A configuration or TLS error has no HTTP status either, but no retry can fix it: final, one message.
test('an http:// server without insecure-skip-tls-verify is a final CredentialsError, found by the real client before any request', async () => {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeClient } = await import('../../src/kube.js');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const err = await new KubeClient(kc).readJob('ns', 'x').then(
    () => undefined,
    (e: unknown) => e as import('../../src/errors.js').KubernetesJobsError,
  );
  expect(err?.type).toBe('CredentialsError');
  expect(err?.nonRetryable).toBe(true);
  expect(err?.message).toMatch(/server is http:\/\/ without insecure-skip-tls-verify/);
});

test.each([
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'],
])('TLS failure %s (as the cause of a fetch error) is final', (code, message) => {
  const err = kubeError(Object.assign(new Error('request to https://127.0.0.1:6443/x failed'), { cause: Object.assign(new Error(message), { code }) }), 'read', "Job 'ns/x'");
  expect(err.nonRetryable).toBe(true);
  expect(err.type).toBe('CredentialsError');
  expect(err.message).toContain(code);
});

test.each(['ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNREFUSED'])('network failure %s stays retryable', (code) => {
  expect(kubeError(Object.assign(new Error(`x ${code}`), { code }), 'read', "Job 'ns/x'").nonRetryable).toBe(false);
});

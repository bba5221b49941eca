// Jest globalSetup for the `stack` project (test/integration): makes sure there is a Kubernetes
// API server and a Temporal server to test against, and exports where they are via process.env
// (inherited by the test workers).
//
// - TKJ_TEST_KUBECONFIG set: use that cluster (and TEMPORAL_ADDRESS, default 127.0.0.1:7233);
//   the local stack is not touched. kwok-only helpers (pod annotations, pod log files) are unavailable.
// - otherwise: `bash test/stack/up.sh` (reuses a healthy stack in ~1 s; builds the tools first if they
//   are missing, which takes tens of minutes once per machine). The stack is left running after the
//   tests (warm reruns are fast); `npm run stack:down` or .ci/run stops it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function readEnvFile(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)='([^']*)'\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

export default async function globalSetup() {
  const existing = process.env.TKJ_TEST_KUBECONFIG;
  if (existing) {
    if (!existsSync(existing)) throw new Error(`TKJ_TEST_KUBECONFIG=${existing}: file not found`);
    process.env.TEMPORAL_ADDRESS ||= '127.0.0.1:7233';
    process.stderr.write(`\n[stack] using the existing cluster from TKJ_TEST_KUBECONFIG=${existing}, Temporal at ${process.env.TEMPORAL_ADDRESS}\n`);
    return;
  }

  process.stderr.write(
    '\n[stack] bringing up the local stack (test/stack/up.sh). On a machine without the cached tools this first builds\n' +
      '[stack] Kubernetes, etcd, kwok and the Temporal CLI from source: ~8 min on a 2-core VM, up to tens of minutes (once).\n',
  );
  const started = Date.now();
  const r = spawnSync('bash', [join(repoRoot, 'test/stack/up.sh')], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  const stackDir = process.env.STACK_DIR || join(repoRoot, '.stack');
  const envFile = join(stackDir, 'env');
  if (r.status !== 0 || !existsSync(envFile)) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
    throw new Error(
      `The local test stack could not be brought up (test/stack/up.sh: ${why}). See the output above and the ` +
        `process logs in ${join(stackDir, 'logs')}; retry with \`npm run stack:up\`, or run the integration tests ` +
        `against an existing cluster with TKJ_TEST_KUBECONFIG=<kubeconfig> TEMPORAL_ADDRESS=<host:port>.`,
    );
  }
  const env = readEnvFile(envFile);
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  process.stderr.write(`[stack] ready after ${((Date.now() - started) / 1000).toFixed(1)} s (env: ${envFile})\n`);
}

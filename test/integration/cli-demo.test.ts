// `npm run demo` (temporal-k8s-jobs demo) as a newcomer runs it: on the local stack, which it brings
// up, within 60 s when the stack is warm; on the cluster of KUBECONFIG when one is set (and it says
// so); and from an installed package without the stack scripts, a clear error.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { BIN, REPO, buildIfStale } from '../helpers/cli.js';
import { stackEnv } from '../helpers/stack.js';
import { tempDir } from '../helpers/tmp.js';

const env = stackEnv();
const localStackIt = env.existingCluster ? it.skip : it;

/** Runs a command with exactly `vars` over a PATH/HOME-only environment (no KUBECONFIG unless given). */
function run(file: string, args: string[], vars: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'STACK_PORT_OFFSET', 'STACK_DIR', 'TKJ_CACHE_DIR', 'XDG_CACHE_HOME']) if (process.env[k]) base[k] = process.env[k]!;
  const child = spawn(file, args, { cwd: REPO, env: { ...base, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 })));
}

const stackVar = (name: string): string | undefined => {
  const m = new RegExp(`^export ${name}='([^']*)'$`, 'm').exec(fs.readFileSync(path.join(process.env.STACK_DIR || path.join(REPO, '.stack'), 'env'), 'utf8'));
  return m?.[1];
};

beforeAll(() => buildIfStale());

describe('temporal-k8s-jobs demo', () => {
  localStackIt('npm run demo: the local stack (warm), the demo DAG succeeds in under 60 s, with its Web UI link', async () => {
    const r = await run('npm', ['run', '--silent', 'demo'], {});
    expect({ code: r.code, stderr: r.stderr.replace(/^npm warn .*\n/gm, '') }).toMatchObject({ code: 0 });
    expect(r.stderr).toContain('bringing up the local stack (test/stack/up.sh)...');
    expect(r.stderr).toMatch(/^\[stack\] stack already up/m);
    expect(r.stdout).toMatch(/^running the demo on the local stack \(Kubernetes .*admin\.kubeconfig, Temporal 127\.0\.0\.1:\d+\)$/m);
    expect(r.stdout).toMatch(/^started DAG workflow demo-[0-9a-f]{8} /m);
    expect(r.stdout).toMatch(/^DAG Succeeded: /m);
    const took = Number(/^demo finished in ([\d.]+) s/m.exec(r.stdout)![1]);
    expect(took).toBeLessThan(60);
    expect(r.ms).toBeLessThan(60_000);
    const ui = stackVar('TEMPORAL_UI_URL');
    if (ui) expect(r.stdout).toMatch(new RegExp(`^Web UI: ${ui.replace(/[.:/]/g, '\\$&')}/namespaces/default/workflows/demo-[0-9a-f]{8}$`, 'm'));
  });

  it('with a KUBECONFIG in the environment it runs on that cluster and says so', async () => {
    const r = await run(process.execPath, [BIN, 'demo'], { KUBECONFIG: env.kubeconfig, TEMPORAL_ADDRESS: env.temporalAddress });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`running the demo on the cluster of KUBECONFIG=${env.kubeconfig}, not the local stack; Temporal at ${env.temporalAddress}\n`);
    expect(r.stderr).not.toContain('[stack]');
    expect(r.stdout).toMatch(/^DAG Succeeded: /m);
  });

  it('installed without the stack scripts: says the demo needs a checkout or --context (exit 1)', async () => {
    // The package as npm installs it: bin, dist, templates, examples; no test/.
    const t = tempDir();
    try {
      for (const d of ['bin', 'dist', 'templates', 'examples']) fs.cpSync(path.join(REPO, d), path.join(t.dir, d), { recursive: true });
      fs.copyFileSync(path.join(REPO, 'package.json'), path.join(t.dir, 'package.json'));
      fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(t.dir, 'node_modules'));
      const r = await run(process.execPath, [path.join(t.dir, 'bin/temporal-k8s-jobs.js'), 'demo'], {});
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        "error: the demo's local stack needs a checkout of the repository (test/stack/ is not in the npm package): " +
          "run 'npm install && npm run demo' in a clone, or run the demo on a cluster with --context NAME (and TEMPORAL_ADDRESS)\n",
      );
      expect(r.stdout).toBe('');
    } finally {
      t.cleanup();
    }
  });
});

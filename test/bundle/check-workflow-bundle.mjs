// Proves the `temporal-k8s-jobs/workflow` entry (dist/workflow/index.js, with the CEL library it
// imports) bundles for Temporal's workflow sandbox: bundleWorkflowCode fails on any Node built-in,
// and the bundle must not contain the worker-side modules (Kubernetes client, nunjucks, the worker).
// A control bundle that imports a Node built-in must fail, so this check can fail.
// Plain Node script (bundleWorkflowCode hangs under jest's VM modules); `npm test` runs it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = path.join(root, 'dist/workflow/index.js');
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
const started = Date.now();

const { code } = await bundleWorkflowCode({ workflowsPath: entry, logger: silent });
const forbidden = ['@kubernetes/client-node', 'nunjucks', 'js-yaml', '@temporalio/worker', 'node:fs', 'node:crypto'];
const found = forbidden.filter((m) => code.includes(`node_modules/${m}/`) || code.includes(`"${m}"`));
if (found.length) {
  console.error(`workflow bundle: FAIL: the ./workflow entry pulls in ${found.join(', ')}`);
  process.exit(1);
}
for (const name of ['runDag', 'dagWorkflow', 'dagBatchWorkflow', 'kubernetesJobWorkflow', '@marcbachmann/cel-js']) {
  if (!code.includes(name)) {
    console.error(`workflow bundle: FAIL: ${name} is missing from the bundle`);
    process.exit(1);
  }
}

// Control: the same check on a workflow file that imports a Node built-in must fail.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-bundle-'));
const bad = path.join(dir, 'bad.js');
fs.writeFileSync(bad, "import * as fs from 'node:fs';\nexport async function bad() { return fs.existsSync('x'); }\n");
let controlFailed = false;
try {
  await bundleWorkflowCode({ workflowsPath: bad, logger: silent });
} catch {
  controlFailed = true;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
if (!controlFailed) {
  console.error('workflow bundle: FAIL: a workflow importing node:fs bundled; the check proves nothing');
  process.exit(1);
}
console.log(`workflow bundle: ok (${(code.length / 1024).toFixed(0)} KiB, CEL included, no Node-only modules; control with node:fs rejected) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

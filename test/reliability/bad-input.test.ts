// A corpus of bad inputs: each must end in one clear non-retryable error of the right type (the
// activity is not retried: retry state NON_RETRYABLE_FAILURE) and create nothing (an independent watch
// on the case's fresh namespace sees no Job, pod or ConfigMap). Two cases are not errors but edge
// results (termination messages that are not JSON, or oversize): the Job runs and the output is the
// raw text. All through in-process workers (fast): one normal, one without permissions, one with an
// unknown kubeconfig context.
import { randomBytes } from 'node:crypto';
import { KWOK_ANNOTATIONS, mintServiceAccountKubeconfig, createTestNamespace, deleteNamespace, stackEnv } from '../helpers/stack.js';
import { HOSTILE } from '../helpers/hostile-values.js';
import { tempDir } from '../helpers/tmp.js';
import { startInProcessWorker, type InProcessWorker } from '../helpers/workers.js';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { NamespaceObserver, QUICK, orphansAfter, trial } from './lib.js';

type WorkerName = 'main' | 'noperm' | 'badctx';
interface Case {
  category: string;
  name: string;
  worker?: WorkerName;
  /** A template file's content (written as `<case>.yaml.njk`), or a template name. */
  template?: string;
  templateName?: string;
  values?: Record<string, unknown>;
  input?: Partial<KubernetesJobInput>;
  /** A DAG instead of a Job. */
  dag?: Record<string, unknown>;
  /** Acceptable failure types; `result` for the two cases that succeed with a raw output. */
  expect: string[] | { output: string };
}

const JOB = (extra = '', spec = '') => `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ tag }}${extra}
spec:
  backoffLimit: 0${spec}
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: busybox:1.36
`;
const base = { image: 'busybox:1.36', command: 'run' };
const TEMPLATE = ['TemplateError'];
const MANIFEST = ['InvalidManifest'];
const API422 = ['KubernetesApiError', 'InvalidManifest'];

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const hostile = HOSTILE.filter((v) => v !== '' && !dnsLabel.test(v));

const CASES: Case[] = [
  // Template errors.
  { category: 'template', name: 'syntax error', template: '{% if %}\n' + JOB(), expect: TEMPLATE },
  { category: 'template', name: 'unclosed expression', template: JOB() + '  x: {{ tag \n', expect: TEMPLATE },
  { category: 'template', name: 'unknown filter', template: JOB() + '# {{ tag | nope }}\n', expect: TEMPLATE },
  { category: 'template', name: 'missing include', template: '{% include "missing.njk" %}\n' + JOB(), expect: TEMPLATE },
  { category: 'template', name: 'missing parent', template: '{% extends "nope.yaml.njk" %}', expect: TEMPLATE },
  { category: 'template', name: 'unknown template', templateName: 'does-not-exist.yaml.njk', expect: TEMPLATE },
  { category: 'template', name: 'call of an undefined function', template: JOB() + '# {{ nope() }}\n', expect: TEMPLATE },
  { category: 'template', name: 'not YAML', template: 'this: is: not: yaml: [\n', expect: [...TEMPLATE, ...MANIFEST] },
  { category: 'template', name: 'empty output', template: '{# nothing #}', expect: [...TEMPLATE, ...MANIFEST] },
  // Traversal.
  { category: 'traversal', name: 'template ../package.json', templateName: '../package.json', expect: TEMPLATE },
  { category: 'traversal', name: 'template /etc/passwd', templateName: '/etc/passwd', expect: TEMPLATE },
  { category: 'traversal', name: 'template sub/../../x', templateName: 'sub/../../x.yaml.njk', expect: TEMPLATE },
  { category: 'traversal', name: 'include ../../package.json', template: '{% include "../../../package.json" %}\n' + JOB(), expect: TEMPLATE },
  { category: 'traversal', name: 'extends /etc/hostname', template: '{% extends "/etc/hostname" %}', expect: TEMPLATE },
  { category: 'traversal', name: 'writeRenderedTo ../x', templateName: 'job.yaml.njk', values: base, input: { writeRenderedTo: '../x' }, expect: [...TEMPLATE, ...MANIFEST] },
  // Hostile values in a plain (unquoted) slot: the Job's name.
  ...hostile.slice(0, QUICK ? 3 : 24).map((v): Case => ({ category: 'hostile', name: `name ${JSON.stringify(v).slice(0, 40)}`, templateName: 'job.yaml.njk', values: { ...base, name: v }, expect: [...TEMPLATE, ...MANIFEST] })),
  // Wrong kinds.
  { category: 'kinds', name: 'no Job (a ConfigMap only)', template: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ tag }}\n', expect: MANIFEST },
  { category: 'kinds', name: 'two Jobs', template: JOB('-a') + '---\n' + JOB('-b'), expect: MANIFEST },
  { category: 'kinds', name: 'a Namespace companion', template: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ tag }}-ns\n---\n' + JOB(), expect: MANIFEST },
  { category: 'kinds', name: 'a ClusterRoleBinding companion', template: 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {{ tag }}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: []\n---\n' + JOB(), expect: MANIFEST },
  { category: 'kinds', name: 'a YAML list', template: '- a\n- b\n', expect: [...TEMPLATE, ...MANIFEST] },
  { category: 'kinds', name: 'a scalar', template: 'just text\n', expect: [...TEMPLATE, ...MANIFEST] },
  { category: 'kinds', name: 'Job without apiVersion', template: JOB().replace('apiVersion: batch/v1\n', ''), expect: MANIFEST },
  { category: 'kinds', name: 'Job in another namespace than asked', template: JOB('\n  namespace: kube-system'), expect: [...MANIFEST, ...TEMPLATE] },
  // Manifests the API server rejects (422).
  { category: '422', name: 'restartPolicy Always', templateName: 'job.yaml.njk', values: { ...base, restartPolicy: 'Always' }, expect: API422 },
  { category: '422', name: 'backoffLimit -1', templateName: 'job.yaml.njk', values: { ...base, backoffLimit: -1 }, expect: API422 },
  { category: '422', name: 'parallelism -1', templateName: 'job.yaml.njk', values: { ...base, parallelism: -1 }, expect: API422 },
  { category: '422', name: 'completions -3', templateName: 'job.yaml.njk', values: { ...base, completions: -3 }, expect: API422 },
  { category: '422', name: 'activeDeadlineSeconds 0', templateName: 'job.yaml.njk', values: { ...base, activeDeadlineSeconds: 0 }, expect: API422 },
  { category: '422', name: 'ttlSecondsAfterFinished -5', templateName: 'job.yaml.njk', values: { ...base, ttlSecondsAfterFinished: -5 }, expect: API422 },
  { category: '422', name: 'completionMode Weird', templateName: 'job.yaml.njk', values: { ...base, completionMode: 'Weird' }, expect: API422 },
  { category: '422', name: 'invalid label key', templateName: 'job.yaml.njk', values: { ...base, labels: { 'bad key!': 'x' } }, expect: API422 },
  { category: '422', name: 'label value too long', templateName: 'job.yaml.njk', values: { ...base, labels: { k: 'v'.repeat(64) } }, expect: API422 },
  { category: '422', name: 'no containers', template: JOB().replace(/ {6}containers:[\s\S]*$/, '      containers: []\n'), expect: API422 },
  { category: '422', name: 'container without image', template: JOB().replace('          image: busybox:1.36\n', ''), expect: API422 },
  { category: '422', name: 'invalid container name', template: JOB().replace('- name: main', '- name: Main_Container'), expect: API422 },
  // Permissions and credentials.
  { category: 'permissions', name: 'worker without RBAC rights', worker: 'noperm', templateName: 'job.yaml.njk', values: base, expect: ['KubernetesApiError'] },
  { category: 'credentials', name: 'unknown kubeconfig context', worker: 'badctx', templateName: 'job.yaml.njk', values: base, expect: ['CredentialsError'] },
  // Oversize values.
  { category: 'oversize', name: 'a 300 KB annotation', templateName: 'job.yaml.njk', values: { ...base, annotations: { big: 'x'.repeat(300_000) } }, expect: [...API422, ...TEMPLATE] },
  { category: 'oversize', name: 'a 4 MB value', templateName: 'job.yaml.njk', values: { ...base, annotations: { big: 'x'.repeat(4_000_000) } }, expect: [...API422, ...TEMPLATE] },
  { category: 'oversize', name: '10,000 labels', templateName: 'job.yaml.njk', values: { ...base, labels: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'])) }, expect: [...API422, ...TEMPLATE] },
  // Termination messages (edge results, not errors): the raw text is the output.
  { category: 'termination', name: 'termination message not JSON', templateName: 'job.yaml.njk', values: { ...base, podAnnotations: { [KWOK_ANNOTATIONS.duration]: '1s', [KWOK_ANNOTATIONS.message]: '{not json' } }, expect: { output: '{not json' } },
  { category: 'termination', name: 'termination message oversize (4 KiB)', templateName: 'job.yaml.njk', values: { ...base, podAnnotations: { [KWOK_ANNOTATIONS.duration]: '1s', [KWOK_ANNOTATIONS.message]: 'm'.repeat(4096) } }, expect: { output: 'm'.repeat(4096) } },
  // DAGs with bad CEL (rejected before anything starts).
  ...(
    [
      ['when: syntax error', { a: { when: 'values.x ==' } }],
      ['when: not a boolean', { a: { when: '1 + 1' } }],
      ['when: unknown step', { a: { when: 'steps.zz.status == "Succeeded"' } }],
      ['valuesFrom: syntax error', { a: { valuesFrom: { x: 'nope(' } } }],
      ['forEach: syntax error', { a: { forEach: '[1, 2' } }],
      ['forEach: unknown function', { a: { forEach: 'nope(1)' } }],
      ['dependsOn: unknown step', { a: { dependsOn: ['zz'] } }],
      ['dependsOn: a cycle', { a: { dependsOn: ['b'] }, b: { dependsOn: ['a'] } }],
      ['step name not DNS', { Bad_Name: {} }],
      ['unknown step key', { a: { retries: 3 } }],
    ] as Array<[string, Record<string, Record<string, unknown>>]>
  ).map(([name, steps]): Case => ({
    category: 'dag',
    name,
    dag: { steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, { template: 'job.yaml.njk', values: base, ...v }])) },
    expect: ['InvalidDag'],
  })),
];

// Quick mode: a few cases of every category (the corpus is cheap, but each case has its own namespace).
const PICKED = QUICK ? CASES.filter((c, i) => CASES.findIndex((d) => d.category === c.category) === i || (c.category !== 'hostile' && i % 4 === 0)) : CASES;

const templates = tempDir(Object.fromEntries(CASES.filter((c) => c.template).map((c, i) => [`case-${i}.yaml.njk`, c.template!])));
const templateOf = new Map(CASES.filter((c) => c.template).map((c, i) => [c, `case-${i}.yaml.njk`]));
const workers = new Map<WorkerName, InProcessWorker>();
let permNs: string;

beforeAll(async () => {
  const env = stackEnv();
  const opts = { templateDirs: [templates.dir], heartbeatSeconds: 1, logSink: () => undefined };
  permNs = await createTestNamespace('rel-badinput-perm', { podLogs: false });
  const sa = await mintServiceAccountKubeconfig(permNs, 'nobody');
  const q = `rel-bad-${randomBytes(4).toString('hex')}`;
  workers.set('main', await startInProcessWorker(`${q}-main`, { ...opts, kubeConfig: { kubeconfig: env.kubeconfig } }));
  workers.set('noperm', await startInProcessWorker(`${q}-noperm`, { ...opts, kubeConfig: { kubeconfig: sa.kubeconfigPath } }));
  workers.set('badctx', await startInProcessWorker(`${q}-badctx`, { ...opts, kubeConfig: { kubeconfig: env.kubeconfig, context: 'no-such-context' } }));
}, 120_000);

afterAll(async () => {
  for (const w of workers.values()) await w.stop();
  if (permNs) await deleteNamespace(permNs);
  templates.cleanup();
});

/** The failure's type, and whether the activity was retried, from a workflow failure's cause chain. */
function failureOf(e: unknown): { type?: string; retried: boolean; message: string } {
  let type: string | undefined;
  let retried = false;
  const messages: string[] = [];
  for (let c = e as { name?: string; type?: string; retryState?: unknown; message?: string; cause?: unknown } | undefined; c; c = c.cause as typeof c) {
    if (c.message) messages.push(c.message);
    if (c.name === 'ActivityFailure' && !String(c.retryState).includes('NON_RETRYABLE')) retried = true;
    if (c.name === 'ApplicationFailure' && type === undefined) type = c.type;
  }
  return { type, retried, message: messages.join(' / ') };
}

for (const c of PICKED) {
  trial(
    'bad-input',
    `${c.category}: ${c.name}`,
    async () => {
      const ns = await createTestNamespace('rel-bad', { podLogs: false });
      const observer = new NamespaceObserver(ns);
      await observer.start();
      try {
        const w = workers.get(c.worker ?? 'main')!;
        const tag = `bad-${randomBytes(3).toString('hex')}`;
        const id = `rel-bad-${randomBytes(6).toString('hex')}`;
        const run = c.dag
          ? w.client.workflow.execute('dagWorkflow', { taskQueue: w.taskQueue, workflowId: id, args: [{ ...c.dag, defaults: { namespace: ns }, values: { tag } }] })
          : w.client.workflow.execute('reliableJobWorkflow', {
              taskQueue: w.taskQueue,
              workflowId: id,
              // At most 2 attempts: a misclassified (retryable) error shows as retried instead of backing off for minutes.
              args: [{ template: c.templateName ?? templateOf.get(c)!, namespace: ns, cleanup: 'always', logs: { mode: 'none' }, ...c.input, values: { tag, ...c.values } }, '10s', { retry: { maximumAttempts: 2 } }],
            });
        let wrongResults = 0;
        let created = 0;
        try {
          const result = (await run) as KubernetesJobResult;
          if (Array.isArray(c.expect) || result.output !== c.expect.output) {
            wrongResults++;
            process.stderr.write(`[rel] bad-input ${c.name}: succeeded (${JSON.stringify(result.output)?.slice(0, 80)}), expected ${JSON.stringify(c.expect).slice(0, 80)}\n`);
          }
        } catch (e) {
          const f = failureOf(e);
          if (!Array.isArray(c.expect) || !f.type || !c.expect.includes(f.type) || f.retried) {
            wrongResults++;
            process.stderr.write(`[rel] bad-input ${c.name}: ${f.type}${f.retried ? ' (retried)' : ''}: ${f.message.slice(0, 300)}; expected ${JSON.stringify(c.expect).slice(0, 80)}\n`);
          }
        }
        // Anything created for a bad input is a wrong result (nothing may be created); what is left is an orphan too.
        if (Array.isArray(c.expect)) created = [...observer.seen.values()].length;
        if (created) process.stderr.write(`[rel] bad-input ${c.name}: ${created} object(s) created\n`);
        return { wrongResults: wrongResults + (created ? 1 : 0), orphans: await orphansAfter(ns, { timeoutMs: 10_000 }), duplicateJobs: observer.duplicateJobs(1) };
      } finally {
        observer.stop();
        await deleteNamespace(ns);
      }
    },
    120_000,
  );
}

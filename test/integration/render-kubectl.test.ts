// The written YAML means to kubectl what it means to the renderer. kubectl reads manifests with a
// YAML 1.1 reader (go-yaml through sigs.k8s.io/yaml), for which U+0085, U+2028 and U+2029 are line
// breaks and `y`/`no`/`0644` are booleans and octal; the renderer's check uses js-yaml. Every hostile
// value, in every YAML context, either fails the render or is written so that kubectl reads exactly the
// objects the renderer returned. kubectl reads the files client-side (`annotate --local`, no server).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderTemplate } from '../../src/render.js';
import { KubernetesJobsError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { HOSTILE, TYPE_SENSITIVE } from '../helpers/hostile-values.js';
import { stackEnv } from '../helpers/stack.js';

/** The stack's kubectl (or one on PATH when testing against an existing cluster without STACK_BIN). */
function findKubectl(): string | undefined {
  const bin = stackEnv().stackBin;
  if (bin && fs.existsSync(path.join(bin, 'kubectl'))) return path.join(bin, 'kubectl');
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'kubectl'))) return path.join(dir, 'kubectl');
  }
  return undefined;
}
const kubectl = findKubectl();
if (!kubectl) process.stderr.write('[render-kubectl] skipped: no kubectl binary (neither in the stack tools nor on PATH)\n');
const describeWithKubectl = kubectl ? describe : describe.skip;

const MARK = 'render-kubectl.test/read';
/** kubectl's reading of YAML files: each object as JSON, keyed by metadata.name. */
function kubectlRead(files: string[]): Map<string, unknown> {
  const kubeconfig = path.join(work.dir, 'empty.kubeconfig');
  const r = spawnSync(kubectl!, ['--kubeconfig', kubeconfig, 'annotate', '--local', '-o', 'json', ...files.flatMap((f) => ['-f', f]), `${MARK}=1`], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`kubectl could not read the rendered YAML: ${r.stderr || r.error?.message}`);
  const out = new Map<string, unknown>();
  // One pretty-printed JSON object per object read.
  for (const text of r.stdout.split(/(?<=^\})\n(?=\{)/m)) {
    if (!text.trim()) continue;
    const obj = JSON.parse(text) as { metadata: { name: string; annotations?: Record<string, string> } };
    delete obj.metadata.annotations![MARK];
    if (Object.keys(obj.metadata.annotations!).length === 0) delete obj.metadata.annotations;
    if (out.has(obj.metadata.name)) throw new Error(`kubectl read two objects named ${obj.metadata.name}`);
    out.set(obj.metadata.name, obj);
  }
  return out;
}

// Slots in every YAML context; the Job's name is the case id, so kubectl's objects can be matched.
const CONTEXTS: Record<string, string> = {
  double: 'x: "{{ v }}"',
  single: "x: '{{ v }}'",
  plain: 'x: {{ v }}',
  'quoted-concat': 'x: "pre-{{ v }}-post"',
  key: '{{ v }}: x',
  block: 'x: |\n            {{ v }}',
  folded: 'x: >-\n            {{ v }}',
  'plain-concat': 'x: pre-{{ v }}',
  comment: 'x: fixed  # built from {{ v }}',
  tojson: 'x: {{ v | tojson }}',
  yaml: 'x: {{ v | yaml }}',
  'flow-list': 'x: [a, {{ v }}, {{ v | tojson }}]',
};
const template = (line: string) => `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ id }}
  # built from {{ v }}
  labels:
    app: "{{ v }}"
spec:
  template:
    metadata:
      annotations:
        anchor: fixed
        ${line}
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: busybox
          args:
            - {{ v }}
            - fixed
          command: [sh, {{ v }}]
`;

const work = tempDir({
  'empty.kubeconfig': 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n',
  ...Object.fromEntries(Object.entries(CONTEXTS).map(([name, line]) => [`templates/${name}.yaml`, template(line)])),
});
afterAll(work.cleanup);

describeWithKubectl('kubectl reads the written YAML as the renderer does', () => {
  test('premise: for kubectl a U+2028 in a comment ends the line (what the renderer must refuse)', () => {
    const file = path.join(work.dir, 'premise.yaml');
    fs.writeFileSync(file, 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: premise\n  # built from a\u2028  namespace: kube-system\n');
    expect(kubectlRead([file]).get('premise')).toMatchObject({ metadata: { name: 'premise', namespace: 'kube-system' } });
  });

  test('the U+2028 cases of issue 9 are refused, and nothing is written', () => {
    const out = path.join(work.dir, 'issue9');
    for (const [ctx, v] of [
      ['comment', 'a\u2028  namespace: kube-system'],
      ['block', 'a\u2028kind: Secret'],
    ]) {
      expect(() => renderTemplate(`${ctx}.yaml`, { templateDirs: [path.join(work.dir, 'templates')], values: { id: 'issue9', v }, writeTo: out })).toThrow(
        KubernetesJobsError,
      );
    }
    expect(fs.existsSync(out)).toBe(false);
  });

  test('every value in every context: refused, or read by kubectl exactly as rendered', () => {
    const out = path.join(work.dir, 'rendered');
    const expected = new Map<string, unknown>();
    const files: string[] = [];
    let refused = 0;
    const values = [...HOSTILE, ...TYPE_SENSITIVE];
    for (const ctx of Object.keys(CONTEXTS)) {
      values.forEach((v, i) => {
        const id = `${ctx}-${i}`;
        try {
          const r = renderTemplate(`${ctx}.yaml`, { templateDirs: [path.join(work.dir, 'templates')], values: { id, v }, writeTo: out });
          files.push(r.writtenTo!);
          expected.set(id, JSON.parse(JSON.stringify(r.job)));
        } catch (err) {
          if (!(err instanceof KubernetesJobsError)) throw err;
          refused++;
        }
      });
    }
    const read = kubectlRead(files);
    const disagreements: string[] = [];
    for (const [id, job] of expected) {
      const v = values[Number(id.slice(id.lastIndexOf('-') + 1))]!;
      try {
        expect(read.get(id)).toEqual(job);
      } catch {
        disagreements.push(`${id} ${JSON.stringify(v)}: renderer ${JSON.stringify(job)} / kubectl ${JSON.stringify(read.get(id))}`);
      }
    }
    expect(disagreements).toEqual([]);
    expect(read.size).toBe(expected.size);
    // The cross-check means something only if most renders succeed.
    expect(expected.size).toBeGreaterThan(refused);
  });
});

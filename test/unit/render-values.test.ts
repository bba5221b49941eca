// Values can never change a manifest's structure: each hostile value, in each YAML context, either lands
// as exactly one scalar equal to the value, or the render fails with a TemplateError naming the value.
import * as yaml from 'js-yaml';
import { renderTemplate } from '../../src/render.js';
import { KubernetesJobsError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const HOSTILE: string[] = [
  'a: b', 'a:b', 'key: value\nother: x', '- item', '-', '---', '--- \nkind: Secret', '...', '{a: 1}', '[1, 2]',
  '{', '}', '[', ']', '# comment', 'a #b', 'a# b', '&anchor', '*alias', '!!binary', '!tag x', "it's", "'quoted'",
  '"dq"', 'back\\slash', '\\n literal', 'line1\nline2', 'trailing\n', '\r', 'cr\rlf', 'a\u2028b', 'a\u2029b',
  '\u0085nel', 'tab\there', ' leading', 'trailing ', '', '|', '>', '|\n  block', '%TAG ! x', '@at', '`tick',
  ',comma', 'a, b', '? q', '{{ 7*7 }}', '{% raw %}', 'x\n---\napiVersion: v1\nkind: Secret', '\ufeffbom',
  'emoji 🎉', 'a\tb: c', '"unterminated', "'unterminated", 'x\n  nested: true', '!!python/object:os.system',
  'a\u0000b', '\x7fdel', '0x1F', '<script>',
];

// Each context: a template line with the slot, and how to read the scalar back from the parsed (failsafe) Job.
interface Ctx {
  line: string;
  read: (job: Record<string, any>) => unknown;
  expected: (v: string) => string;
  /** Values this context must accept (the renderer escapes or quotes them). */
  mustAccept: (v: string) => boolean;
}
const never = () => false;
const always = () => true;
const CONTEXTS: Record<string, Ctx> = {
  'double-quoted': { line: 'x: "{{ v }}"', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => v, mustAccept: (v) => !v.includes('\u0000') || true },
  'single-quoted': { line: "x: '{{ v }}'", read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => v, mustAccept: (v) => !/[\r\n\u0085\u2028\u2029\u0000-\u001f\u007f-\u009f\ufeff]/.test(v) },
  plain: { line: 'x: {{ v }}', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => v, mustAccept: always },
  'concatenated in quotes': { line: 'x: "pre-{{ v }}-post"', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => `pre-${v}-post`, mustAccept: always },
  'mapping key': { line: '{{ v }}: x', read: (j) => Object.keys(j.spec.template.metadata.annotations).find((k) => k !== 'anchor'), expected: (v) => v, mustAccept: always },
  'block scalar': { line: 'x: |\n          {{ v }}', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => `${v}\n`, mustAccept: never },
  'plain concatenated': { line: 'x: pre-{{ v }}', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => `pre-${v}`, mustAccept: never },
};

function jobTemplate(slotLine: string): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  labels:
    app: "{{ v }}"
spec:
  template:
    metadata:
      annotations:
        anchor: fixed
        ${slotLine}
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
}

const files = Object.fromEntries(Object.entries(CONTEXTS).map(([, c], i) => [`ctx${i}.yaml`, jobTemplate(c.line)]));
const { dir, cleanup } = tempDir(files);
afterAll(cleanup);

const benign = renderTemplate('ctx0.yaml', { templateDirs: [dir], values: { v: 'benign' } });

test('the hostile list is long enough to mean something', () => {
  expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
  expect((benign.job.spec.template.metadata as any).annotations.x).toBe('benign');
});

describe.each(Object.entries(CONTEXTS).map(([name, c], i) => [name, c, `ctx${i}.yaml`] as const))('%s', (_name, ctx, file) => {
  test.each(HOSTILE.map((v) => [JSON.stringify(v), v]))('value %s', (_label, v) => {
    let result;
    try {
      result = renderTemplate(file, { templateDirs: [dir], values: { v } });
    } catch (err) {
      expect(err).toBeInstanceOf(KubernetesJobsError);
      expect((err as KubernetesJobsError).type).toBe('TemplateError');
      // The error names the value (as JSON, possibly cut short).
      expect((err as Error).message).toContain(JSON.stringify(v).slice(0, 12));
      expect(ctx.mustAccept(v)).toBe(false);
      return;
    }
    // Success: the value landed as exactly one scalar, everywhere it was placed.
    const docs = yaml.loadAll(result.yaml, { schema: yaml.FAILSAFE_SCHEMA }).filter((d) => d !== null) as Record<string, any>[];
    expect(docs).toHaveLength(1);
    const job = docs[0]!;
    expect(ctx.read(job)).toBe(ctx.expected(v));
    expect(job.metadata.labels.app).toBe(v);
    expect(job.spec.template.spec.containers[0].args).toEqual([v, 'fixed']);
    expect(job.spec.template.spec.containers[0].command).toEqual(['sh', v]);
    // No key appeared or went missing: the same keys as with a benign value (the slot's key being the value).
    const benignKeys = Object.keys((benign.job.spec.template.metadata as any).annotations).map((k) => (k === 'x' && ctx.line.startsWith('{{') ? v : k));
    expect(Object.keys(job.spec.template.metadata.annotations).sort()).toEqual(benignKeys.sort());
    expect(Object.keys(job).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
  });
});

test('ordinary values are left exactly as written (no added quotes)', () => {
  for (const v of ['busybox:1.36', 'hello world', 'a-b_c.d', '12', 'true', 'http://127.0.0.1:8080/x']) {
    const r = renderTemplate('ctx2.yaml', { templateDirs: [dir], values: { v } });
    expect(r.yaml).toContain(`        x: ${v}\n`);
  }
});

test('a plain whole scalar keeps YAML typing for ordinary values (as Jinja + YAML would)', () => {
  const r = renderTemplate('ctx2.yaml', { templateDirs: [dir], values: { v: '12' } });
  expect((r.job.spec.template.metadata as any).annotations.x).toBe(12);
});

test('values are data, never templates', () => {
  const r = renderTemplate('ctx0.yaml', { templateDirs: [dir], values: { v: '{{ 7*7 }}{% if true %}x{% endif %}' } });
  expect((r.job.spec.template.metadata as any).annotations.x).toBe('{{ 7*7 }}{% if true %}x{% endif %}');
});

test('a value with the renderer\'s reserved characters is refused, naming where it is', () => {
  expect(() => renderTemplate('ctx0.yaml', { templateDirs: [dir], values: { v: 'a\uE000b' } })).toThrow(/values\.v contains a private-use character/);
});

describe('yaml and tojson filters quote explicitly', () => {
  const t = tempDir({
    'f.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  annotations:
    json: {{ v | tojson }}
    yml: {{ v | yaml }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, args: {{ list | tojson }}, env: {{ env | yaml }}}]
`,
    'bad.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  annotations:
    json: '{{ v | tojson }}'
spec: {template: {spec: {restartPolicy: Never, containers: [{name: main, image: busybox}]}}}
`,
  });
  afterAll(t.cleanup);
  test.each(HOSTILE.map((v) => [JSON.stringify(v), v]))('string %s', (_l, v) => {
    const r = renderTemplate('f.yaml', { templateDirs: [t.dir], values: { v, list: [v, 'b'], env: [{ name: 'A', value: v }] } });
    expect(r.job.metadata?.annotations?.json).toBe(v);
    expect(r.job.metadata?.annotations?.yml).toBe(v);
    const c = r.job.spec.template.spec.containers[0] as any;
    expect(c.args).toEqual([v, 'b']);
    expect(c.env).toEqual([{ name: 'A', value: v }]);
  });
  test('serialised output placed inside quotes cannot smuggle structure', () => {
    expect(() => renderTemplate('bad.yaml', { templateDirs: [t.dir], values: { v: "x' , evil: 'y" } })).toThrow(/value/);
  });
});

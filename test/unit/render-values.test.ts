// Values can never change a manifest's structure: each hostile value, in each YAML context, either lands
// as exactly one scalar equal to the value, or the render fails with a TemplateError naming the value.
import * as yaml from 'js-yaml';
import { renderTemplate } from '../../src/render.js';
import { KubernetesJobsError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { HOSTILE } from '../helpers/hostile-values.js';

// Each context: a template line with the slot, and how to read the scalar back from the parsed (failsafe) Job.
interface Ctx {
  line: string;
  read: (job: Record<string, any>) => unknown;
  expected: (v: string) => string;
  /** Values this context must accept (the renderer escapes or quotes them). */
  mustAccept: (v: string) => boolean;
}
const always = () => true;
/** A value as error messages show it: JSON, with the invisible line breaks and C1 controls escaped. */
const shown = (v: string) => JSON.stringify(v).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
// Line breaks of YAML 1.1 (kubectl) and 1.2 (js-yaml), C0 controls but tab, DEL and C1 controls.
const BREAK_OR_CONTROL = /[\r\n\u0085\u2028\u2029\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const CONTEXTS: Record<string, Ctx> = {
  'double-quoted': { line: 'x: "{{ v }}"', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => v, mustAccept: always },
  'single-quoted': { line: "x: '{{ v }}'", read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => v, mustAccept: (v) => !/[\r\n\u0085\u2028\u2029\u0000-\u001f\u007f-\u009f\ufeff]/.test(v) },
  plain: { line: 'x: {{ v }}', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => v, mustAccept: always },
  'concatenated in quotes': { line: 'x: "pre-{{ v }}-post"', read: (j) => j.spec.template.metadata.annotations.x, expected: (v) => `pre-${v}-post`, mustAccept: always },
  'mapping key': { line: '{{ v }}: x', read: (j) => Object.keys(j.spec.template.metadata.annotations).find((k) => k !== 'anchor'), expected: (v) => v, mustAccept: always },
  // One line of text that does not start with a blank: a block scalar holds it as it is.
  'block scalar': {
    line: 'x: |\n          {{ v }}',
    read: (j) => j.spec.template.metadata.annotations.x,
    expected: (v) => `${v}\n`,
    mustAccept: (v) => v !== '' && !/^[ \t]/.test(v) && !BREAK_OR_CONTROL.test(v),
  },
  // No blank, no ':' (so neither ': ' nor ' #' can occur) and no control: the plain scalar just goes on.
  'plain concatenated': {
    line: 'x: pre-{{ v }}',
    read: (j) => j.spec.template.metadata.annotations.x,
    expected: (v) => `pre-${v}`,
    mustAccept: (v) => !/[\s:]/.test(v) && !BREAK_OR_CONTROL.test(v),
  },
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
      expect((err as Error).message).toContain(shown(v).slice(0, 12));
      expect(ctx.mustAccept(v)).toBe(false);
      return;
    }
    // Success: the value landed as exactly one scalar, everywhere it was placed.
    // js-yaml and kubectl's YAML 1.1 reader agree on where every line ends only without these.
    expect(result.yaml).not.toMatch(/[\u0085\u2028\u2029]/);
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

// kubectl reads manifests with a YAML 1.1 reader (go-yaml via sigs.k8s.io/yaml), for which NEL, LINE
// SEPARATOR and PARAGRAPH SEPARATOR end a line; js-yaml reads them as text. A value holding one may
// therefore never reach the written YAML raw: escaped in double quotes, or the render fails.
// (test/integration/render-kubectl.test.ts reads the written YAML with kubectl itself.)
describe('YAML 1.1 line breaks (U+0085, U+2028, U+2029) in values', () => {
  const head = 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: demo\n';
  const tail = 'spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: main, image: busybox}]\n';
  const t = tempDir({
    'comment.yaml': `${head}  # built from {{ v }}\n  labels: {a: b}\n${tail}`,
    'block.yaml': `${head}  annotations:\n    note: |\n      {{ v }}\n${tail}`,
    'single.yaml': `${head}  annotations:\n    note: '{{ v }}'\n${tail}`,
    'plain-concat.yaml': `${head}  annotations:\n    note: pre-{{ v }}\n${tail}`,
    'plain.yaml': `${head}  annotations:\n    note: {{ v }}\n${tail}`,
    'double.yaml': `${head}  annotations:\n    note: "{{ v }}"\n${tail}`,
    'tojson.yaml': `${head}  annotations:\n    note: {{ v | tojson }}\n${tail}`,
    'yaml.yaml': `${head}  annotations:\n    note: {{ v | yaml }}\n${tail}`,
    'dump.yaml': `${head}  annotations:\n    note: {{ v | dump }}\n${tail}`,
    'raw-in-template.yaml': `${head}  # made by the team\u2028  namespace: kube-system\n${tail}`,
  });
  afterAll(t.cleanup);
  const BREAKS = { 'U+0085': '\u0085', 'U+2028': '\u2028', 'U+2029': '\u2029' };
  const cases = Object.entries(BREAKS).flatMap(([name, c]) => [
    [name, 'comment.yaml', `a${c}  namespace: kube-system`],
    [name, 'block.yaml', `a${c}kind: Secret`],
    [name, 'single.yaml', `a${c}  namespace: kube-system`],
    [name, 'plain-concat.yaml', `a${c}  namespace: kube-system`],
  ]);
  test.each(cases)('%s in %s is refused, naming the value', (name, file, v) => {
    expect(() => renderTemplate(file, { templateDirs: [t.dir], values: { v } })).toThrow(
      new RegExp(`value "a\\\\u${name.slice(2).toLowerCase()}.*would change the manifest's structure.*U\\+${name.slice(2)}`),
    );
  });
  const escaped = Object.entries(BREAKS).flatMap(([name, c]) => ['plain.yaml', 'double.yaml', 'tojson.yaml', 'yaml.yaml', 'dump.yaml'].map((f) => [name, f, c] as const));
  test.each(escaped)('%s in %s is written escaped and reads back as itself', (_name, file, c) => {
    const v = `a${c}  namespace: kube-system`;
    const r = renderTemplate(file, { templateDirs: [t.dir], values: { v } });
    expect(r.yaml).not.toMatch(/[\u0085\u2028\u2029]/);
    expect(r.job.metadata?.annotations?.note).toBe(v);
    expect(r.job.metadata?.namespace).toBeUndefined();
  });
  test("the template's own text may not hold one either", () => {
    expect(() => renderTemplate('raw-in-template.yaml', { templateDirs: [t.dir], values: {} })).toThrow(/rendered line 5 holds U\+2028, a line break for YAML 1.1 readers such as kubectl, in the template's own text/);
  });
});

// Template text keeps its meaning through `indent`/`trim` (a macro's output, a `{% filter %}` body), while
// the values inside stay values: each still lands as one scalar or the render fails.
describe('structure made by macros and filter blocks', () => {
  const t = tempDir({
    'm.yaml': `{% macro envs(x) %}
- name: A
  value: {{ x }}
- name: B
  value: "{{ x }}"
{% endmacro %}
apiVersion: batch/v1
kind: Job
metadata:
  labels:
    {{ v | tojson }}: fixed
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: busybox
          env:
            {{- envs(v) | indent(12) }}
          args:
            {%- filter indent(4) %}
        - {{ v }}
        - fixed
            {%- endfilter %}
          command:
{{ envs(v) | trim | indent(12, first=true) }}
`,
    'trim.yaml': `{% macro m() %}--x: {{ v }}--{% endmacro %}
apiVersion: batch/v1
kind: Job
metadata:
  labels:
    {{ m() | trim("-") }}
  annotations:
    a: {{ "xxhixx" | trim("x") }}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: main, image: busybox}]}}}
`,
    'untrusted.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  annotations:
    a: {{ v | indent(4) }}
    b: {{ ("x" ~ v) | indent(4) }}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: main, image: busybox}]}}}
`,
  });
  afterAll(t.cleanup);
  test('ordinary values: lists stay lists, a JSON-quoted key is a key', () => {
    const r = renderTemplate('m.yaml', { templateDirs: [t.dir], values: { v: 'hello' } });
    const c = r.job.spec.template.spec.containers[0] as any;
    expect(c.env).toEqual([{ name: 'A', value: 'hello' }, { name: 'B', value: 'hello' }]);
    expect(c.args).toEqual(['hello', 'fixed']);
    expect(c.command).toEqual([{ name: 'A', value: 'hello' }, { name: 'B', value: 'hello' }]);
    expect(r.job.metadata?.labels).toEqual({ hello: 'fixed' });
  });
  test.each(HOSTILE.map((v) => [JSON.stringify(v), v]))('value %s lands as one scalar or is refused', (_l, v) => {
    let r;
    try {
      r = renderTemplate('m.yaml', { templateDirs: [t.dir], values: { v } });
    } catch (err) {
      expect((err as KubernetesJobsError).type).toBe('TemplateError');
      expect((err as Error).message).toContain(shown(v).slice(0, 12));
      return;
    }
    const job = yaml.load(r.yaml, { schema: yaml.FAILSAFE_SCHEMA }) as Record<string, any>;
    const c = job.spec.template.spec.containers[0];
    expect(job.metadata.labels).toEqual({ [v]: 'fixed' });
    if (/[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]/.test(v)) {
      // As in Jinja2, `indent` also re-indents the lines of a multi-line value inside the text; the value
      // still lands as one scalar in its place, with only blanks added.
      const squeeze = (s: unknown) => String(s).replace(/[\s\x1c-\x1e\x85]/g, '');
      expect(c.env.map((e: any) => Object.keys(e))).toEqual([['name', 'value'], ['name', 'value']]);
      expect(c.env.map((e: any) => [e.name, squeeze(e.value)])).toEqual([['A', squeeze(v)], ['B', squeeze(v)]]);
      expect(c.args.map(squeeze)).toEqual([squeeze(v), 'fixed']);
      return;
    }
    expect(c.env).toEqual([{ name: 'A', value: v }, { name: 'B', value: v }]);
    expect(c.args).toEqual([v, 'fixed']);
    expect(c.command).toEqual(c.env);
    expect(Object.keys(job).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
  });
  test("trim(chars) strips those characters, as Jinja2's does, and keeps template text template text", () => {
    const r = renderTemplate('trim.yaml', { templateDirs: [t.dir], values: { v: 'hello' } });
    expect(r.job.metadata?.labels).toEqual({ x: 'hello' });
    expect(r.job.metadata?.annotations).toEqual({ a: 'hi' });
    // The value inside stays one value.
    expect(renderTemplate('trim.yaml', { templateDirs: [t.dir], values: { v: 'a\ny: z' } }).job.metadata?.labels).toEqual({ x: 'a\ny: z' });
  });
  test('indenting a value, or text mixed with one, leaves it a value', () => {
    const r = renderTemplate('untrusted.yaml', { templateDirs: [t.dir], values: { v: 'k: v' } });
    expect(r.job.metadata?.annotations).toEqual({ a: 'k: v', b: 'xk: v' });
    const multi = renderTemplate('untrusted.yaml', { templateDirs: [t.dir], values: { v: 'x\n    evil: true' } });
    expect(multi.job.metadata?.annotations).toEqual({ a: 'x\n        evil: true', b: 'xx\n        evil: true' });
  });
});

// Where js-yaml alone would let through what kubectl reads differently or refuses (the integration test
// render-kubectl.test.ts reads every case with kubectl itself).
describe("kubectl's YAML 1.1 reading, beyond line breaks", () => {
  const t = tempDir({
    'k.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  name: demo # from {{ v }}
  annotations:
    {{ v }}: key
    json: {{ v | tojson }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, args: [{{ v }}]}]
`,
  });
  afterAll(t.cleanup);
  const render = (v: string) => renderTemplate('k.yaml', { templateDirs: [t.dir], values: { v } });
  test('a character kubectl refuses raw (DEL, C1, C0) is refused where it cannot be escaped', () => {
    for (const v of ['a\x7fb', 'a\x90b', 'a\x01b']) expect(() => render(v)).toThrow(/a character kubectl refuses unescaped/);
  });
  test('`<<` (a merge key for YAML 1.1) is quoted', () => {
    const r = render('<<');
    expect(r.yaml).toContain('"<<": key');
    expect(r.job.metadata?.annotations?.['<<']).toBe('key');
  });
  test('tojson writes characters beyond U+FFFF raw (kubectl refuses surrogate-pair escapes)', () => {
    const r = render('🎉');
    expect(r.yaml).toContain('json: "🎉"');
    expect(r.job.metadata?.annotations?.json).toBe('🎉');
  });
  test('a lone surrogate is not valid Unicode and is refused up front', () => {
    expect(() => render('a\ud800b')).toThrow(/values\.v is not valid Unicode/);
  });
  test.each([
    ['0x1F', 31],
    ['0o17', 15],
    ['0b101', 5],
    ['1_000', 1000],
    ['0644', 420],
    ['-012', -10],
    ['08', 8],
    ['1e3', 1000],
    ['12', 12],
  ])('plain %s reads as the number %d, as kubectl reads it', (v, n) => {
    expect((render(v).job.spec.template.spec.containers[0] as any).args).toEqual([n]);
  });
});

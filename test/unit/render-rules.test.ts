import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTemplate, normaliseTemplateName } from '../../src/render.js';
import { KubernetesJobsError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ name | default("j") }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: busybox
`;
const examples = fileURLToPath(new URL('../../examples/templates/', import.meta.url));

function failure(fn: () => unknown): KubernetesJobsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KubernetesJobsError);
    return err as KubernetesJobsError;
  }
  throw new Error('expected a failure');
}

describe('template names never leave the template directories', () => {
  const outside = tempDir({ 'secret.yaml': JOB });
  const t = tempDir({
    'ok.yaml': JOB,
    'sub/inner.yaml': JOB,
    'includes-up.yaml': '{% include "../secret.yaml" %}',
    'extends-abs.yaml': `{% extends "${path.join(outside.dir, 'secret.yaml')}" %}`,
    'sub/relative.yaml': '{% include "./inner.yaml" %}',
    'sub/relative-up.yaml': '{% include "../../secret.yaml" %}',
  });
  fs.symlinkSync(path.join(outside.dir, 'secret.yaml'), path.join(t.dir, 'link-out.yaml'));
  fs.symlinkSync(outside.dir, path.join(t.dir, 'dir-out'));
  afterAll(() => (t.cleanup(), outside.cleanup()));

  test.each([
    ['../secret.yaml', /reaches outside/],
    ['../../etc/passwd', /reaches outside/],
    ['sub/../../secret.yaml', /reaches outside/],
    ['./../secret.yaml', /reaches outside/],
    ['/etc/passwd', /absolute/],
    ['C:/Windows/win.ini', /absolute/],
    ['sub\\..\\..\\secret.yaml', /backslash/],
    ['a\0b', /NUL/],
    ['', /non-empty/],
    ['link-out.yaml', /resolves outside the template directory/],
    ['dir-out/secret.yaml', /resolves outside the template directory/],
    ['%2e%2e/secret.yaml', /not found/],
  ])('%j is refused', (name, why) => {
    const err = failure(() => renderTemplate(name, { templateDirs: [t.dir] }));
    expect(err.type).toBe('TemplateError');
    expect(err.message).toMatch(why);
  });

  test.each([
    ['includes-up.yaml', /reaches outside/],
    ['extends-abs.yaml', /absolute/],
    ['sub/relative-up.yaml', /reaches outside/],
  ])('%s cannot reach out through include/extends', (name, why) => {
    expect(failure(() => renderTemplate(name, { templateDirs: [t.dir] })).message).toMatch(why);
  });

  test('relative includes inside the directory work', () => {
    expect(renderTemplate('sub/relative.yaml', { templateDirs: [t.dir] }).job.metadata?.name).toBe('j');
  });

  test('normalisation keeps harmless names', () => {
    expect(normaliseTemplateName('./a/./b.yaml')).toBe('a/b.yaml');
    expect(normaliseTemplateName('..data/job.yaml')).toBe('..data/job.yaml');
  });
});

test('symlinks that stay inside work: the ..data layout of a ConfigMap volume', () => {
  const t = tempDir({ '..2026_11_23_10_00_00.123/job.yaml': JOB.replace('{{ name | default("j") }}', 'from-configmap') });
  fs.symlinkSync('..2026_11_23_10_00_00.123', path.join(t.dir, '..data'));
  fs.symlinkSync('..data/job.yaml', path.join(t.dir, 'job.yaml'));
  try {
    expect(renderTemplate('job.yaml', { templateDirs: [t.dir] }).job.metadata?.name).toBe('from-configmap');
  } finally {
    t.cleanup();
  }
});

describe('template directories are searched in order, the package templates last', () => {
  const a = tempDir({ 'x.yaml': JOB.replace('{{ name | default("j") }}', 'from-a') });
  const b = tempDir({ 'x.yaml': JOB.replace('{{ name | default("j") }}', 'from-b'), 'job.yaml.njk': JOB.replace('{{ name | default("j") }}', 'overridden-base') });
  afterAll(() => (a.cleanup(), b.cleanup()));
  test('first directory wins', () => {
    expect(renderTemplate('x.yaml', { templateDirs: [a.dir, b.dir] }).job.metadata?.name).toBe('from-a');
    expect(renderTemplate('x.yaml', { templateDirs: [b.dir, a.dir] }).job.metadata?.name).toBe('from-b');
  });
  test("a user's directory overrides the package's base template", () => {
    expect(renderTemplate('job.yaml.njk', { templateDirs: [b.dir] }).job.metadata?.name).toBe('overridden-base');
    expect(renderTemplate('job.yaml.njk', { values: { image: 'busybox' } }).job.spec.template.spec.containers[0]!.image).toBe('busybox');
  });
  test('a missing directory is a clear error', () => {
    expect(failure(() => renderTemplate('x.yaml', { templateDirs: [path.join(a.dir, 'nope')] })).message).toMatch(/template directory '.*nope' does not exist/);
  });
});

describe('errors name the template, the line and the culprit', () => {
  const t = tempDir({
    'undef.yaml': 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ jobName }}\n',
    'member.yaml': 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n  labels:\n    a: "{{ settings.team.name }}"\n',
    'syntax.yaml': 'apiVersion: batch/v1\nkind: {{ x + }}\nmetadata: {}\n',
    'syntax-eof.yaml': 'apiVersion: batch/v1\n{% if x %}\nkind: Job\n',
    'badyaml.yaml': JOB + '---\napiVersion: v1\nkind: ConfigMap\n  metadata: [oops\n',
    'parent.yaml': 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ missingInParent }}\n{% block rest %}{% endblock %}',
    'child.yaml': '{% extends "parent.yaml" %}\n{% block rest %}spec: {}{% endblock %}',
    'safe.yaml': 'x: {{ v | safe }}',
    'mapping.yaml': 'x: {{ obj }}',
    'missing-include.yaml': '{% include "nowhere.yaml" %}',
    'required.yaml': 'image: {{ image | required("the container image") }}',
  });
  afterAll(t.cleanup);
  test.each([
    ['undef.yaml', {}, /template undef\.yaml:4: 'jobName' is undefined/],
    ['member.yaml', { settings: { team: {} } }, /template member\.yaml:6: 'settings\.team\.name' is undefined/],
    ['syntax.yaml', {}, /template syntax\.yaml:2: /],
    ['syntax-eof.yaml', {}, /template syntax-eof\.yaml: .*expected elif, else, or endif, got end of file/],
    ['badyaml.yaml', {}, /template 'badyaml\.yaml' rendered invalid YAML \(document 2, rendered line \d+/],
    ['child.yaml', {}, /template parent\.yaml:4: 'missingInParent' is undefined/],
    ['safe.yaml', { v: 'a' }, /'safe' filter is not available/],
    ['mapping.yaml', { obj: { a: 1 } }, /cannot print a mapping directly \('obj'\); use '\| tojson'/],
    ['missing-include.yaml', {}, /template 'nowhere\.yaml' not found .*referenced from missing-include\.yaml/],
    ['required.yaml', {}, /missing required value 'image' \(the container image\)/],
    ['nope.yaml', {}, /template 'nope\.yaml' not found in the template directories/],
  ])('%s', (name, values, message) => {
    const err = failure(() => renderTemplate(name, { templateDirs: [t.dir], values }));
    expect(err.type).toBe('TemplateError');
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/\n\s+at /); // no stack trace in the message
  });
});

describe('manifest rules', () => {
  const cm = (name: string, extra = '') => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${extra}data:\n  a: b\n`;
  const t = tempDir({
    'multi.yaml': `${cm('first')}---\n${JOB}---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: out\n  annotations:\n    temporal-k8s-jobs/keep: "true"\nspec: {}\n---\n`,
    'two-jobs.yaml': `${JOB}---\n${JOB}`,
    'no-job.yaml': cm('only'),
    'deployment.yaml': `${JOB}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n`,
    'old-api.yaml': JOB.replace('batch/v1', 'batch/v1beta1'),
    'always.yaml': JOB.replace('Never', 'Always'),
    'no-policy.yaml': JOB.replace('      restartPolicy: Never\n', ''),
    'anon-companion.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\n${JOB}`,
    'two-ns.yaml': `${cm('a', '  namespace: one\n').replace('data:', 'data:')}---\n${JOB.replace('metadata:\n', 'metadata:\n  namespace: two\n')}`,
    'scalar.yaml': `just a string\n---\n${JOB}`,
    'no-image.yaml': JOB.replace('          image: busybox\n', ''),
    'bad-name.yaml': JOB.replace('{{ name | default("j") }}', 'Not_A_Name'),
    'label-int.yaml': JOB.replace('metadata:\n', 'metadata:\n  labels:\n    count: 3\n'),
  });
  afterAll(t.cleanup);
  test('several documents: one Job, companions in template order, empty documents ignored', () => {
    const r = renderTemplate('multi.yaml', { templateDirs: [t.dir] });
    expect(r.manifests.map((m) => m.kind)).toEqual(['ConfigMap', 'Job', 'PersistentVolumeClaim']);
    expect(r.companions.map((m) => m.metadata?.name)).toEqual(['first', 'out']);
    expect(r.job.kind).toBe('Job');
  });
  test.each([
    ['two-jobs.yaml', /renders 2 Jobs; exactly one batch\/v1 Job is required/],
    ['no-job.yaml', /renders no Job \(kinds: ConfigMap\)/],
    ['deployment.yaml', /kind apps\/v1\/Deployment is not allowed next to a Job \(allowed: v1\/ConfigMap, v1\/Secret/],
    ['old-api.yaml', /apiVersion 'batch\/v1beta1'; batch\/v1 is required/],
    ['always.yaml', /restartPolicy must be Never or OnFailure \(got "Always"\)/],
    ['no-policy.yaml', /restartPolicy must be Never or OnFailure \(got none\)/],
    ['anon-companion.yaml', /document 1 \(ConfigMap\) has no metadata\.name/],
    ['two-ns.yaml', /different namespaces \(one, two\)/],
    ['scalar.yaml', /document 1 is a string, not a Kubernetes object/],
    ['no-image.yaml', /container 'main' of the Job has no image/],
    ['bad-name.yaml', /"Not_A_Name" is not a valid name/],
    ['label-int.yaml', /metadata\.labels\.count must be a string \(quote it\), got 3/],
  ])('%s is rejected', (name, message) => {
    const err = failure(() => renderTemplate(name, { templateDirs: [t.dir] }));
    expect(err.type).toBe('InvalidManifest');
    expect(err.message).toMatch(message);
  });
  test('the companion kind list is extendable', () => {
    const r = renderTemplate('deployment.yaml', { templateDirs: [t.dir], allowedKinds: ['apps/v1/Deployment', 'ConfigMap'] });
    expect(r.companions[0]!.kind).toBe('Deployment');
    expect(failure(() => renderTemplate('multi.yaml', { templateDirs: [t.dir], allowedKinds: ['ConfigMap'] })).message).toMatch(/PersistentVolumeClaim is not allowed/);
  });
});

describe('the base template job.yaml.njk', () => {
  const render = (values: Record<string, unknown>) => renderTemplate('job.yaml.njk', { values });
  test('defaults: restartPolicy Never, backoffLimit 0, container "main", managed-by label', () => {
    const { job } = render({ image: 'busybox:1.36' });
    expect(job.metadata?.name).toBeUndefined();
    expect(job.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'temporal-k8s-jobs' });
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(job.spec.template.spec.containers).toEqual([{ name: 'main', image: 'busybox:1.36' }]);
  });
  test('image is required, with a clear message', () => {
    expect(failure(() => render({})).message).toMatch(/missing required value 'image' \(the container image/);
  });
  test('a string command runs with sh -c; a list is the exec form; args string or list', () => {
    expect(render({ image: 'i', command: 'echo a && echo b' }).job.spec.template.spec.containers[0]!.command).toEqual(['sh', '-c', 'echo a && echo b']);
    const c = render({ image: 'i', command: ['python', '-m', 'x'], args: ['--n', '3'] }).job.spec.template.spec.containers[0]!;
    expect(c.command).toEqual(['python', '-m', 'x']);
    expect(c.args).toEqual(['--n', '3']);
    expect(render({ image: 'i', args: 'one' }).job.spec.template.spec.containers[0]!.args).toEqual(['one']);
  });
  test('every documented value lands where Kubernetes expects it', () => {
    const { job } = render({
      name: 'full', namespace: 'jobs', image: 'busybox:1.36', imagePullPolicy: 'Always', workingDir: '/w',
      env: { A: 'x: y', N: 3, NO: 'no' }, resources: { limits: { cpu: '1' } }, imagePullSecrets: ['reg', { name: 'other' }],
      pvc: { claimName: 'data', mountPath: '/data', subPath: 'sub', readOnly: true }, serviceAccountName: 'sa',
      nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'k', operator: 'Exists' }], labels: { team: 'a' },
      annotations: { note: 'n' }, podLabels: { tier: 'b' }, podAnnotations: { 'kwok.temporal-k8s-jobs/duration': '2s' },
      backoffLimit: '3', activeDeadlineSeconds: 60, ttlSecondsAfterFinished: 120, parallelism: 2, completions: 4,
      completionMode: 'Indexed', containerName: 'worker', restartPolicy: 'OnFailure',
    });
    expect(job.metadata).toEqual({ name: 'full', namespace: 'jobs', labels: { 'app.kubernetes.io/managed-by': 'temporal-k8s-jobs', team: 'a' }, annotations: { note: 'n' } });
    expect(job.spec).toMatchObject({ backoffLimit: 3, activeDeadlineSeconds: 60, ttlSecondsAfterFinished: 120, parallelism: 2, completions: 4, completionMode: 'Indexed' });
    const pod = job.spec.template;
    expect(pod.metadata).toEqual({ labels: { 'app.kubernetes.io/managed-by': 'temporal-k8s-jobs', tier: 'b' }, annotations: { 'kwok.temporal-k8s-jobs/duration': '2s' } });
    expect(pod.spec).toMatchObject({
      restartPolicy: 'OnFailure', serviceAccountName: 'sa', imagePullSecrets: [{ name: 'reg' }, { name: 'other' }],
      nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'k', operator: 'Exists' }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
    });
    expect(pod.spec.containers[0]).toEqual({
      name: 'worker', image: 'busybox:1.36', imagePullPolicy: 'Always', workingDir: '/w',
      env: [{ name: 'A', value: 'x: y' }, { name: 'N', value: '3' }, { name: 'NO', value: 'no' }], resources: { limits: { cpu: '1' } },
      volumeMounts: [{ name: 'data', mountPath: '/data', subPath: 'sub', readOnly: true }],
    });
  });
  test('a pvc without a claim name is a clear error', () => {
    expect(failure(() => render({ image: 'i', pvc: { mountPath: '/d' } })).message).toMatch(/missing required value 'pvc\.claimName'/);
  });
  test('any template can extend it and override blocks', () => {
    const r = renderTemplate('batch-submit.yaml.njk', { templateDirs: [examples], values: { image: 'tool:1', claimName: 'c', script: 'echo "$HOME": done' } });
    const c = r.job.spec.template.spec.containers[0]!;
    expect(c.command).toEqual(['bash', '-lc']);
    expect(c.args).toEqual(['echo "$HOME": done']);
    expect(r.job.spec.template.spec.imagePullSecrets).toEqual([{ name: 'registry-credentials' }]);
  });
});

test('YAML is read as kubectl reads it; string values never become YAML 1.1 booleans', () => {
  const t = tempDir({ 'k.yaml': JOB.replace('metadata:\n', 'metadata:\n  annotations:\n    country: {{ country }}\n').replace('          image: busybox\n', '          image: busybox\n          volumeMounts: [{name: c, mountPath: /c}]\n      volumes: [{name: c, configMap: {name: c, defaultMode: 0644}}]\n') });
  try {
    const r = renderTemplate('k.yaml', { templateDirs: [t.dir], values: { country: 'NO' } });
    expect(r.job.metadata?.annotations?.country).toBe('NO');
    expect((r.job.spec.template.spec as any).volumes[0].configMap.defaultMode).toBe(0o644);
  } finally {
    t.cleanup();
  }
});

test('compiled templates are cached, and recompiled when the file changes', () => {
  const t = tempDir({ 'c.yaml': JOB });
  try {
    expect(renderTemplate('c.yaml', { templateDirs: [t.dir] }).job.metadata?.name).toBe('j');
    const file = path.join(t.dir, 'c.yaml');
    fs.writeFileSync(file, JOB.replace('{{ name | default("j") }}', 'changed'));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    expect(renderTemplate('c.yaml', { templateDirs: [t.dir] }).job.metadata?.name).toBe('changed');
  } finally {
    t.cleanup();
  }
});

test('rendered YAML can be written to a directory for debugging', () => {
  const out = tempDir();
  try {
    const r = renderTemplate('task.yaml', { templateDirs: [examples], values: { task_num: '3', command: 'echo' }, writeTo: path.join(out.dir, 'rendered') });
    expect(r.writtenTo).toBe(path.join(out.dir, 'rendered', 'task-3.yaml'));
    expect(fs.readFileSync(r.writtenTo!, 'utf8')).toBe(r.yaml);
  } finally {
    out.cleanup();
  }
});

describe('no way around the value check', () => {
  const t = tempDir({
    'keys.yaml': JOB.replace('metadata:\n', 'metadata:\n  labels:\n{%- for k, v in labels.items() %}\n    {{ k }}: "{{ v }}"\n{%- endfor %}\n'),
    'escape.yaml': JOB.replace('metadata:\n', 'metadata:\n  annotations:\n    note: {{ note | e }}\n'),
    'cut.yaml': JOB.replace('metadata:\n', '{% set d %}{{ note }} b b b b b b b b b b b b b b b b b b{% endset %}metadata:\n  annotations:\n    note: {{ d | truncate(40) }}\n'),
    'replace.yaml': JOB.replace('metadata:\n', '{% set d %}[{{ other }}]{% endset %}metadata:\n  annotations:\n    note: {{ d | replace("[", note) }}\n'),
    'capture.yaml': JOB.replace('metadata:\n', '{% set d %}pre-{{ note }}{% endset %}{% macro m(x) %}"m-{{ x }}"{% endmacro %}metadata:\n  annotations:\n    captured: "{{ d }}"\n    macro: {{ m(note) }}\n'),
    'words.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: words\ndata:\n{%- for k, v in words.items() %}\n  {{ k }}: {{ v }}\n{%- endfor %}\n---\n' + JOB,
  });
  afterAll(t.cleanup);
  const evil = 'x\n  finalizers: ["a/b"]\n  y: z';
  test('keys of values are checked too (a key cannot carry the renderer\'s markers)', () => {
    const err = failure(() => renderTemplate('keys.yaml', { templateDirs: [t.dir], values: { labels: { 'a\uE001: x\n  finalizers: [a/b]\n  b': 'v' } } }));
    expect(err.message).toMatch(/a key in values\.labels contains a private-use character/);
    const ok = renderTemplate('keys.yaml', { templateDirs: [t.dir], values: { labels: { 'a: x\n  finalizers: [a/b]\n  b': 'v' } } });
    expect(ok.job.metadata?.labels?.['a: x\n  finalizers: [a/b]\n  b']).toBe('v');
    expect(ok.job.metadata).not.toHaveProperty('finalizers');
  });
  test('HTML escape filters (which mark text safe) are refused', () => {
    expect(failure(() => renderTemplate('escape.yaml', { templateDirs: [t.dir], values: { note: evil } })).message).toMatch(/'e' filter \(HTML escaping\) is not available/);
  });
  test.each(['cut.yaml', 'replace.yaml'])('%s: filters applied to captured text make the whole text one value', (name) => {
    let r;
    try {
      r = renderTemplate(name, { templateDirs: [t.dir], values: { note: evil, other: 'o' } });
    } catch (err) {
      expect((err as KubernetesJobsError).type).toBe('TemplateError');
      return;
    }
    expect(r.job.metadata).not.toHaveProperty('finalizers');
    expect(typeof r.job.metadata?.annotations?.note).toBe('string');
  });
  test('captures and macros keep working, with their values checked', () => {
    const r = renderTemplate('capture.yaml', { templateDirs: [t.dir], values: { note: 'a "b": c' } });
    expect(r.job.metadata?.annotations).toEqual({ captured: 'pre-a "b": c', macro: 'm-a "b": c' });
    expect(() => renderTemplate('capture.yaml', { templateDirs: [t.dir], values: { note: evil } })).not.toThrow(/finalizers/);
    const bad = renderTemplate('capture.yaml', { templateDirs: [t.dir], values: { note: evil } });
    expect(bad.job.metadata).not.toHaveProperty('finalizers');
  });
  test('string values that YAML would read as null, a YAML 1.1 boolean or infinity are quoted; true/false and numbers keep their type', () => {
    const words = { a: '~', b: 'null', c: 'NO', d: 'on', e: '.inf', f: 'true', g: '12', h: 'plain' };
    const r = renderTemplate('words.yaml', { templateDirs: [t.dir], values: { words } });
    expect(r.companions[0]!.data).toEqual({ a: '~', b: 'null', c: 'NO', d: 'on', e: '.inf', f: true, g: 12, h: 'plain' });
  });
});

test('nunjucks is pinned to the exact release whose internals the render hooks patch', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const pkg = JSON.parse(fs.readFileSync(`${root}package.json`, 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(fs.readFileSync(`${root}package-lock.json`, 'utf8')) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
  const installed = (JSON.parse(fs.readFileSync(`${root}node_modules/nunjucks/package.json`, 'utf8')) as { version: string }).version;
  expect(pkg.dependencies.nunjucks).toMatch(/^\d+\.\d+\.\d+$/);
  expect(lock.packages['']!.dependencies!.nunjucks).toBe(pkg.dependencies.nunjucks);
  expect(lock.packages['node_modules/nunjucks']!.version).toBe(pkg.dependencies.nunjucks);
  expect(installed).toBe(pkg.dependencies.nunjucks);
});

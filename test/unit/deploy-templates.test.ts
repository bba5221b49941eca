// The worker loads its templates from the ConfigMap that deploy/kustomization.yaml generates from
// deploy/templates/, mounted the way the kubelet mounts a ConfigMap volume: the files live in a
// timestamped directory, `..data` links to it, and each key is a link through `..data`. The
// template-directory confinement must accept that layout and still refuse links that leave it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';
import { renderTemplate } from '../../src/render.js';
import { KubernetesJobsError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const deployDir = fileURLToPath(new URL('../../deploy/', import.meta.url));
const templateFiles = fs.readdirSync(path.join(deployDir, 'templates')).sort();

/** A ConfigMap volume as the kubelet writes it, with `files` as its keys. */
function configMapVolume(files: Record<string, string>): { dir: string; cleanup: () => void } {
  const stamp = '..2026_11_23_10_00_00.123456789';
  const vol = tempDir(Object.fromEntries(Object.entries(files).map(([k, v]) => [`${stamp}/${k}`, v])));
  fs.symlinkSync(stamp, path.join(vol.dir, '..data'));
  for (const k of Object.keys(files)) fs.symlinkSync(`..data/${k}`, path.join(vol.dir, k));
  return vol;
}

test('every file of deploy/templates/ is a key of the generated ConfigMap', () => {
  const k = yaml.load(fs.readFileSync(path.join(deployDir, 'kustomization.yaml'), 'utf8')) as { configMapGenerator: { name: string; files: string[] }[] };
  const gen = k.configMapGenerator.find((g) => g.name === 'temporal-k8s-jobs-templates');
  expect(gen?.files.map((f) => path.relative('templates', f)).sort()).toEqual(templateFiles);
});

describe('templates from a ConfigMap volume (..data symlink layout)', () => {
  const outside = tempDir({ 'secret.yaml.njk': 'apiVersion: batch/v1\nkind: Job\n' });
  const vol = configMapVolume(Object.fromEntries(templateFiles.map((f) => [f, fs.readFileSync(path.join(deployDir, 'templates', f), 'utf8')])));
  // A key whose link leaves the volume, and one whose file inside ..data links out.
  fs.symlinkSync(path.join(outside.dir, 'secret.yaml.njk'), path.join(vol.dir, 'escape.yaml.njk'));
  const dataDir = fs.realpathSync(path.join(vol.dir, '..data'));
  fs.symlinkSync(path.join(outside.dir, 'secret.yaml.njk'), path.join(dataDir, 'inner-escape.yaml.njk'));
  fs.symlinkSync('..data/inner-escape.yaml.njk', path.join(vol.dir, 'inner-escape.yaml.njk'));
  afterAll(() => (vol.cleanup(), outside.cleanup()));

  test('the shipped example renders through the links (and extends the built-in base)', () => {
    const r = renderTemplate('hello.yaml.njk', { templateDirs: [vol.dir], values: { image: 'busybox:1.36', command: 'echo hi' } });
    expect(r.job.spec.template.spec.containers[0]).toMatchObject({ image: 'busybox:1.36', terminationMessagePolicy: 'FallbackToLogsOnError' });
  });

  test.each(['escape.yaml.njk', 'inner-escape.yaml.njk', '..data/inner-escape.yaml.njk'])('%s, a link out of the volume, is refused', (name) => {
    let err: unknown;
    try {
      renderTemplate(name, { templateDirs: [vol.dir] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubernetesJobsError);
    expect((err as KubernetesJobsError).message).toMatch(/resolves outside the template directory/);
  });
});

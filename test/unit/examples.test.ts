// The example DAGs (examples/dags/) are valid DAGs whose templates exist, and the example templates
// make a real container and the local stack's simulated pod do the same thing: the log lines and the
// output the container prints are the ones the kwok annotations give the simulated pod.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadDagFile, missingTemplates } from '../../src/cli/dag.js';
import { PACKAGE_TEMPLATES_DIR, renderTemplate } from '../../src/render.js';
import { validateDag } from '../../src/workflow/dag.js';

const DAGS = fileURLToPath(new URL('../../examples/dags/', import.meta.url));
const dagFiles = fs.readdirSync(DAGS).filter((f) => f.endsWith('.yaml')).sort();

type Container = { name: string; env?: Array<{ name: string; value?: string }>; command?: string[]; args?: string[] };
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe('examples/dags', () => {
  it('has the demo, a minimal, a fan-out and a pipeline DAG', () => {
    expect(dagFiles).toEqual(expect.arrayContaining(['demo.yaml', 'minimal.yaml', 'fan-out.yaml', 'pipeline.yaml']));
  });

  it.each(dagFiles)('%s is a valid DAG whose templates all exist', (file) => {
    const dag = loadDagFile(path.join(DAGS, file));
    expect(() => validateDag(dag)).not.toThrow();
    expect(missingTemplates(dag, [DAGS, PACKAGE_TEMPLATES_DIR])).toEqual([]);
  });

  it('demo.yaml shows a planner-driven fan-out, a fan-in, a when branch and onExit', () => {
    const dag = loadDagFile(path.join(DAGS, 'demo.yaml'));
    expect(dag.steps.process).toMatchObject({ dependsOn: ['plan'], forEach: 'steps.plan.output.shards' });
    expect(dag.steps.merge!.dependsOn).toEqual(['process']);
    expect(dag.steps.publish!.valuesFrom).toBeDefined();
    expect(dag.steps.rollback!.when).toBe("steps.merge.status == 'Failed'");
    expect(dag.onExit).toBeDefined();
    expect(JSON.parse(dag.steps.plan!.values!.output as string)).toEqual({ shards: ['eu', 'us', 'asia'] });
  });
});

describe('examples/dags/templates/demo-step.yaml.njk', () => {
  const values = { image: 'busybox:1.36', seconds: 3, lines: ['first: line', 'second "line"', 'third'], output: '{"shards": ["a", "b"]}' };

  it('gives the container and the simulated pod the same lines, duration and output', () => {
    const { job } = renderTemplate('templates/demo-step.yaml.njk', { templateDirs: [DAGS], values });
    const pod = job.spec!.template!;
    const ann = pod.metadata!.annotations!;
    const main = pod.spec!.containers[0] as Container;
    const env = envOf(main);
    expect(ann['kwok.temporal-k8s-jobs/logs']).toBe(values.lines.join('\n'));
    expect(env.STEP_LINES).toBe(values.lines.join('\n'));
    expect(ann['kwok.temporal-k8s-jobs/duration']).toBe('3s');
    expect(env.STEP_SECONDS).toBe('3');
    expect(ann['kwok.temporal-k8s-jobs/message']).toBe(values.output);
    expect(env.STEP_OUTPUT).toBe(values.output);
    expect(main.command!.slice(0, 2)).toEqual(['sh', '-c']);
    expect(main.command![2]).toContain('> /dev/termination-log');
  });

  it('the fan-in template computes its output from the fan-out outputs (steps.process.output)', () => {
    const steps = { process: { status: 'Succeeded', output: [{ shard: 'a', rows: 100 }, { shard: 'b', rows: 250 }] } };
    const { job } = renderTemplate('templates/demo-merge.yaml.njk', { templateDirs: [DAGS], values: { ...values, output: undefined, steps } });
    const pod = job.spec!.template!;
    const expected = { total: 350, shards: 2 };
    expect(JSON.parse(pod.metadata!.annotations!['kwok.temporal-k8s-jobs/message']!)).toEqual(expected);
    expect(JSON.parse(envOf(pod.spec!.containers[0] as Container).STEP_OUTPUT!)).toEqual(expected);
  });
});

describe('examples/dags/templates/task-runner.yaml.njk', () => {
  it('renders an owned input claim, a kept output claim, and a Job mounting both', () => {
    const r = renderTemplate('templates/task-runner.yaml.njk', {
      templateDirs: [DAGS],
      values: { image: 'busybox:1.36', run: 'r1', input: 'http://127.0.0.1:8000/data.csv', script: 'cp /input/* /output/' },
    });
    expect(r.companions.map((c) => [c.kind, c.metadata!.name, c.metadata!.annotations?.['temporal-k8s-jobs/keep']])).toEqual([
      ['PersistentVolumeClaim', 'r1-input', undefined],
      ['PersistentVolumeClaim', 'r1-output', 'true'],
    ]);
    const spec = r.job.spec.template.spec as unknown as { volumes: Array<{ persistentVolumeClaim: { claimName: string } }>; initContainers: Array<{ name: string }> };
    expect(spec.volumes.map((v) => v.persistentVolumeClaim.claimName)).toEqual(['r1-input', 'r1-output']);
    expect(spec.initContainers[0]!.name).toBe('stage-in');
  });
});

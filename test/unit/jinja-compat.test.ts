// Ordinary values render byte-for-byte as Jinja2 renders them. The golden files are Jinja2's own output
// for the example templates and the fixture templates in test/fixtures/jinja/templates (regenerate with
// `python3 test/fixtures/jinja/golden.py`).
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from '../../src/render.js';

const fixtures = fileURLToPath(new URL('../fixtures/jinja/', import.meta.url));
const examples = fileURLToPath(new URL('../../examples/templates/', import.meta.url));
const fixtureTemplates = `${fixtures}templates/`;
const cases = JSON.parse(fs.readFileSync(`${fixtures}cases.json`, 'utf8')) as { id: string; template: string; values: Record<string, unknown> }[];

describe('examples render exactly as Jinja2 renders them', () => {
  test.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const golden = fs.readFileSync(`${fixtures}golden/${c.id}.yaml`, 'utf8');
    const { yaml } = renderTemplate(c.template, { templateDirs: [examples, fixtureTemplates], values: c.values });
    // Jinja drops the template's final newline; the renderer ends its YAML with exactly one.
    expect(yaml).toBe(`${golden}\n`);
  });
});

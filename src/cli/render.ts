/** `temporal-k8s-jobs render <template> [flags]`: print the rendered manifests. */
import { renderTemplate } from '../render.js';
import { type Io, UsageError, parse, renderOptions, resolveTemplateArg, valuesFromArgs } from './common.js';

export const renderUsage = `Usage: temporal-k8s-jobs render <template> [--templates DIR]... [--set key=value]...
         [--set-json key=JSON]... [-f|--values FILE]... [--out DIR] [--verbose]

Renders a template (a file path, or a name in the template directories) and prints the manifests.
  --templates DIR     template directory searched before the built-in templates (repeatable, in order)
  --set key=value     a string value; nested keys with dots (a.b=c), '\\.' for a literal dot
  --set-json key=JSON a value parsed as JSON (numbers, lists, mappings)
  -f, --values FILE   YAML values file (repeatable; later files win, --set wins over files)
  --out DIR           also write the rendered YAML to DIR
  -v, --verbose       details and stack traces on errors
`;

export async function renderCommand(args: string[], io: Io): Promise<number> {
  const { values: opts, positionals } = parse(args, { ...renderOptions, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'render');
  if (opts.help) {
    io.out(renderUsage);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`render takes exactly one template, got ${positionals.length}`);
  const { name, templateDirs } = resolveTemplateArg(positionals[0]!, opts.templates ?? []);
  const values = valuesFromArgs(args);
  const result = renderTemplate(name, { templateDirs, values, writeTo: opts.out });
  io.out(result.yaml);
  if (result.writtenTo) io.err(`wrote ${result.writtenTo}\n`);
  return 0;
}

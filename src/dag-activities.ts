/**
 * Worker-side activities that DAGs need besides running Jobs.
 */
import { templateProblem } from './render.js';

/**
 * Creates the DAG helper activities for a worker with these template directories.
 * Registered by {@link createKubernetesJobActivities} (and so by the plugin).
 */
export function createDagActivities(options: { templateDirs?: string[] }) {
  return {
    /**
     * Checks that every template exists in the worker's template directories (names are checked by
     * the same rules as rendering: no `..`, no absolute paths, no links out). Returns the problems.
     */
    async kubernetesJobsCheckTemplates(templates: string[]): Promise<Array<{ template: string; problem: string }>> {
      const problems: Array<{ template: string; problem: string }> = [];
      for (const template of templates) {
        const problem = templateProblem(template, options.templateDirs ?? []);
        if (problem) problems.push({ template, problem });
      }
      return problems;
    },
  };
}

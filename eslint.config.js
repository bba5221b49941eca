import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no Kubernetes client,
// no template engine, no worker package. The bundler would fail at worker start; lint fails first.
const sandboxBanned = {
  paths: [
    { name: '@kubernetes/client-node', message: 'Workflow code must not talk to Kubernetes; call the activity.' },
    { name: 'nunjucks', message: 'Templates render in the activity, not in the workflow sandbox.' },
    { name: 'js-yaml', message: 'Parse YAML outside the workflow sandbox (CLI or activity).' },
    { name: '@temporalio/worker', message: 'Not importable from workflow code.' },
    { name: '@temporalio/activity', message: 'Not importable from workflow code.' },
    { name: '@temporalio/client', message: 'Not importable from workflow code.' },
  ],
  patterns: [
    { group: ['node:*'], message: 'Node built-ins are not available in the workflow sandbox.' },
    { group: ['fs', 'path', 'os', 'child_process', 'http', 'https', 'net', 'crypto', 'url', 'util', 'stream', 'events', 'process', 'timers'], message: 'Node built-ins are not available in the workflow sandbox.' },
    { group: ['../*', '!../failures.js', '!../types.js', '!../duration.js', '!../dag-types.js', '!../cleanup-types.js', '!../rendered-subdir.js'], message: 'Workflow code may import only sandbox-safe modules (failures, types, dag-types, cleanup-types, duration, rendered-subdir).' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.stack/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  { files: ['src/workflow/**/*.ts'], rules: { 'no-restricted-imports': ['error', sandboxBanned] } },
  // Tests read parsed YAML and API objects loosely; control characters are test data there.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-control-regex': 'off' } },
);

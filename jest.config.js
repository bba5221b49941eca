// Jest runs TypeScript as native ESM because @kubernetes/client-node 1.x is ESM-only.
// Run through `npm test` / `npm run test:unit`, which set NODE_OPTIONS=--experimental-vm-modules.
const esm = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  // The local stack's state dir: etcd writes `*.snap` files there, which jest would count as obsolete
  // snapshots (and fail the run) once etcd has taken its first snapshot.
  modulePathIgnorePatterns: ['<rootDir>/.stack/'],
};

export default {
  // Jest applies testTimeout globally (not per project); stack tests run real Jobs.
  testTimeout: 120_000,
  projects: [
    // Pure logic: no servers, seconds to run.
    { ...esm, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    // Real Kubernetes API server + real Temporal dev server (the local stack, brought up on demand).
    {
      ...esm,
      displayName: 'stack',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/global-setup.js',
      slowTestThreshold: 30,
    },
    // The reliability suite (crashes, faults, restarts, load): minutes, so not part of `npm test`.
    // Run it with `npm run test:reliability` (test/reliability/run.mjs), which aggregates its trials.
    {
      ...esm,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/global-setup.js',
      slowTestThreshold: 120,
    },
  ],
};

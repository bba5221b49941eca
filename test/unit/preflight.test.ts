/** How the RBAC preflight names what is missing. */
import { LIFECYCLE_PERMISSIONS, describePermission, preflightMessage } from '../../src/preflight.js';

describe('preflight', () => {
  it.each([
    [{ verb: 'get', group: '', resource: 'pods', subresource: 'log' }, 'get pods/log'],
    [{ verb: 'create', group: 'batch', resource: 'jobs' }, 'create jobs.batch'],
    [{ verb: 'list', group: '', resource: 'events' }, 'list events'],
  ])('%j -> %s', (p, want) => expect(describePermission(p)).toBe(want));

  it('the lifecycle set is rbac/role.yaml without the companion kinds', () => {
    expect(LIFECYCLE_PERMISSIONS.map(describePermission)).toEqual([
      'create jobs.batch', 'get jobs.batch', 'list jobs.batch', 'watch jobs.batch', 'delete jobs.batch', 'patch jobs.batch',
      'get pods', 'list pods', 'watch pods', 'get pods/log', 'list events', 'watch events',
    ]);
  });

  it('one line, grouped by namespace, pointing at rbac/', () => {
    expect(
      preflightMessage([
        { verb: 'get', group: '', resource: 'pods', subresource: 'log', namespace: 'a' },
        { verb: 'patch', group: 'batch', resource: 'jobs', namespace: 'b' },
        { verb: 'watch', group: '', resource: 'events', namespace: 'a' },
      ]),
    ).toBe(
      "the worker's Kubernetes credentials lack permissions the Job lifecycle needs (in namespace 'a': get pods/log, watch events; in namespace 'b': patch jobs.batch): " +
        'apply rbac/ (kubectl apply -n a -k rbac/) or fix the Role bound to them; --skip-preflight starts anyway',
    );
  });
});

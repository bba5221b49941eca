/**
 * The worker's RBAC preflight: before it polls for work, it asks the API server
 * (SelfSubjectAccessReview) whether its credentials allow everything the Job lifecycle does, so
 * that a missing rule stops it at start with one line instead of failing every Job later.
 */
import { AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';

/** One permission: a verb on a resource (with its API group and subresource). */
export interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
}

/**
 * What the lifecycle needs in every namespace it runs Jobs in (rbac/role.yaml). Companion kinds
 * are not here: a template may render none, and the Job that needs one fails naming it.
 */
export const LIFECYCLE_PERMISSIONS: readonly Permission[] = [
  ...['create', 'get', 'list', 'watch', 'delete', 'patch'].map((verb) => ({ verb, group: 'batch', resource: 'jobs' })),
  ...['get', 'list', 'watch'].map((verb) => ({ verb, group: '', resource: 'pods' })),
  { verb: 'get', group: '', resource: 'pods', subresource: 'log' },
  ...['list', 'watch'].map((verb) => ({ verb, group: '', resource: 'events' })),
];

/** `get pods/log`, `create jobs.batch`: as kubectl and RBAC rules name them. */
export function describePermission(p: Permission): string {
  return `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ''}${p.group ? `.${p.group}` : ''}`;
}

/** A permission the credentials lack, in a namespace. */
export interface MissingPermission extends Permission {
  namespace: string;
}

/** Asks the API server about each permission in each namespace; returns the ones refused. */
export async function missingPermissions(kc: KubeConfig, namespaces: readonly string[], permissions: readonly Permission[] = LIFECYCLE_PERMISSIONS): Promise<MissingPermission[]> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  const checks = namespaces.flatMap((namespace) =>
    permissions.map(async (p) => {
      const r = await api.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace, verb: p.verb, group: p.group, resource: p.resource, subresource: p.subresource } } } });
      return r.status?.allowed ? undefined : { ...p, namespace };
    }),
  );
  return (await Promise.all(checks)).filter((m): m is MissingPermission => !!m);
}

/** The one line that stops the worker: every missing permission by namespace, and where the rules are. */
export function preflightMessage(missing: readonly MissingPermission[]): string {
  const byNs = new Map<string, string[]>();
  for (const m of missing) byNs.set(m.namespace, [...(byNs.get(m.namespace) ?? []), describePermission(m)]);
  const parts = [...byNs].map(([ns, perms]) => `in namespace '${ns}': ${perms.join(', ')}`);
  const first = [...byNs.keys()][0];
  return `the worker's Kubernetes credentials lack permissions the Job lifecycle needs (${parts.join('; ')}): apply rbac/ (kubectl apply -n ${first} -k rbac/) or fix the Role bound to them; --skip-preflight starts anyway`;
}

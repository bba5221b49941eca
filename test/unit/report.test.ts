// The heartbeat budget (src/lifecycle/report.ts): a heartbeat when what it carries changes, otherwise
// only a keep-alive, derived from the activity's heartbeat timeout unless the worker sets one.
import type { Context } from '@temporalio/activity';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube.js';
import { planJob } from '../../src/lifecycle/plan.js';
import { Reporter, keepAliveMs } from '../../src/lifecycle/report.js';

const kc = new KubeConfig();
kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'ns' }], currentContext: 'x' });
const kube = new KubeClient(kc);
const owner = { workflowId: 'wf', runId: 'run', activityId: '1' };
const plan = (heartbeatSeconds?: number) =>
  planJob({ template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo hi' } }, heartbeatSeconds === undefined ? {} : { heartbeatSeconds }, kube, owner, false);

/** A Context with only what the Reporter uses: it records the heartbeats. */
function context(heartbeatTimeoutMs?: number): { ctx: Context; beats: unknown[] } {
  const beats: unknown[] = [];
  const ctx = { info: { heartbeatTimeoutMs }, heartbeat: (d: unknown) => beats.push(d) } as unknown as Context;
  return { ctx, beats };
}

test.each([
  ['the worker sets it', 1000, 20_000, 1000],
  ['10% of the heartbeat timeout', undefined, 20_000, 2000],
  ['no heartbeat timeout', undefined, undefined, 30_000],
  ['a tiny timeout stays at least 100 ms', undefined, 100, 100],
] as const)('keep-alive: %s', (_what, configured, timeout, expected) => {
  expect(keepAliveMs(configured, timeout)).toBe(expected);
});

test('a heartbeat goes out when progress changes, not when nothing did', () => {
  const { ctx, beats } = context(20_000);
  const r = new Reporter(ctx, plan(), undefined);
  expect(r.keepAliveMs).toBe(2000);
  r.beat();
  r.beat();
  expect(beats).toHaveLength(1);
  r.update({ phase: 'Running', active: 1 });
  r.beat();
  expect(beats).toHaveLength(2);
  expect(beats[1]).toMatchObject({ progress: { phase: 'Running', active: 1 } });
  r.jobUid = 'uid-1';
  r.beat();
  expect(beats).toHaveLength(3);
  expect(r.sent).toBe(3);
});

test('delivered lines are a change; the keep-alive sends only after half its period without a heartbeat', () => {
  const { ctx, beats } = context(20_000);
  const r = new Reporter(ctx, plan(0.2), undefined);
  let state = { seq: 0, cursors: {} };
  r.logState = () => state;
  r.beat();
  r.keepAlive(); // just sent
  expect(beats).toHaveLength(1);
  state = { seq: 3, cursors: { 'p/c': { time: 't', seen: 1 } } };
  r.beat();
  expect(beats).toHaveLength(2);
  expect(beats[1]).toMatchObject({ logSeq: 3 });
  const until = Date.now() + 150;
  while (Date.now() < until) {
    /* 150 ms pass (over half of the 200 ms keep-alive) */
  }
  r.keepAlive();
  expect(beats).toHaveLength(3);
});

import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import {
  boundFailureDetails,
  boundResult,
  exitCodes,
  failureDetails,
  latestScaleUp,
  unschedulableDeadline,
  RESULT_MAX_BYTES,
  RESULT_PODS,
  SCALE_UP_WAIT_MS,
  firstFailedContainer,
  interpretJob,
  interpretWatchedJob,
  jobOutput,
  summarizePods,
  type ConditionLike,
  type ContainerStatusLike,
  type EventLike,
  type JobLike,
  type JobState,
  type PodLike,
  type ScaleUpInfo,
} from '../../src/job-status.js';
import type { KubernetesJobResult } from '../../src/types.js';

// The client's objects fit the local shapes (compile-time check).
const _pod: PodLike = {} as V1Pod;
const _job: JobLike = {} as V1Job;
const _event: EventLike = {} as CoreV1Event;
void [_pod, _job, _event];

const NOW = Date.parse('2026-01-01T00:10:00Z');
const GRACE = 60_000;
const ago = (ms: number) => new Date(NOW - ms);
const opts = { now: NOW, failFastGraceMs: GRACE };

function job(conditions: ConditionLike[] = [], status: Partial<NonNullable<JobLike['status']>> = {}, activeDeadlineSeconds?: number): JobLike {
  return {
    metadata: { name: 'etl-1', namespace: 'ns' },
    spec: activeDeadlineSeconds === undefined ? {} : { activeDeadlineSeconds },
    status: { ...status, conditions },
  };
}
const cond = (type: string, status: string, reason?: string): ConditionLike => ({ type, status, ...(reason ? { reason } : {}), lastTransitionTime: ago(1000) });

const terminated = (name: string, exitCode: number, extra: { message?: string; reason?: string; finishedAt?: Date } = {}): ContainerStatusLike => ({
  name,
  restartCount: 0,
  state: { terminated: { exitCode, reason: extra.reason ?? (exitCode === 0 ? 'Completed' : 'Error'), ...extra } },
});
const waiting = (name: string, reason: string, message?: string, image = 'team/app:1'): ContainerStatusLike => ({
  name,
  image,
  restartCount: 0,
  state: { waiting: { reason, ...(message ? { message } : {}) } },
});
const running = (name: string): ContainerStatusLike => ({ name, restartCount: 1, state: { running: { startedAt: ago(5000) } } });

function pod(
  name: string,
  phase: string,
  containers: ContainerStatusLike[],
  extra: { created?: Date; init?: ContainerStatusLike[]; conditions?: ConditionLike[]; deleting?: boolean; specNames?: string[]; images?: Record<string, string> } = {},
): PodLike {
  const specNames = extra.specNames ?? containers.map((c) => c.name);
  return {
    metadata: { name, creationTimestamp: extra.created ?? ago(120_000), ...(extra.deleting ? { deletionTimestamp: ago(1) } : {}) },
    spec: {
      containers: specNames.map((n) => ({ name: n, image: extra.images?.[n] ?? `img-${n}` })),
      ...(extra.init ? { initContainers: extra.init.map((c) => ({ name: c.name, image: extra.images?.[c.name] ?? `img-${c.name}` })) } : {}),
    },
    status: {
      phase,
      containerStatuses: containers,
      ...(extra.init ? { initContainerStatuses: extra.init } : {}),
      ...(extra.conditions ? { conditions: extra.conditions } : {}),
    },
  };
}

describe('interpretJob: completion from conditions only, compared with the string True', () => {
  const failedPod = pod('etl-1-a', 'Failed', [terminated('main', 3)]);
  test.each<[string, JobLike, PodLike[], JobState]>([
    ['Complete True', job([cond('Complete', 'True')]), [], { kind: 'succeeded' }],
    ['SuccessCriteriaMet then Complete', job([cond('SuccessCriteriaMet', 'True'), cond('Complete', 'True')]), [], { kind: 'succeeded' }],
    ['Complete False is not completion', job([cond('Complete', 'False')], { active: 1 }), [], { kind: 'running', phase: 'Pending', active: 1, succeeded: 0, failed: 0 }],
    ['SuccessCriteriaMet alone is not completion', job([cond('SuccessCriteriaMet', 'True')], { succeeded: 1 }), [], { kind: 'running', phase: 'Pending', active: 0, succeeded: 1, failed: 0 }],
    ['Complete Unknown is not completion', job([cond('Complete', 'Unknown')]), [], { kind: 'running', phase: 'Pending', active: 0, succeeded: 0, failed: 0 }],
    ['Complete lowercase true is not completion', job([cond('Complete', 'true')]), [], { kind: 'running', phase: 'Pending', active: 0, succeeded: 0, failed: 0 }],
    [
      'Failed True, BackoffLimitExceeded, names the failed container',
      job([cond('Failed', 'True', 'BackoffLimitExceeded')], { failed: 1 }),
      [failedPod],
      { kind: 'failed', type: 'JobFailed', reason: 'BackoffLimitExceeded', message: "Job 'ns/etl-1' failed: BackoffLimitExceeded (container 'main' exit code 3)" },
    ],
    [
      'FailureTarget True counts as failed',
      job([cond('FailureTarget', 'True', 'PodFailurePolicy')]),
      [failedPod],
      { kind: 'failed', type: 'JobFailed', reason: 'PodFailurePolicy', message: "Job 'ns/etl-1' failed: PodFailurePolicy (container 'main' exit code 3)" },
    ],
    ['Failed False is ignored', job([cond('Failed', 'False', 'BackoffLimitExceeded')]), [], { kind: 'running', phase: 'Pending', active: 0, succeeded: 0, failed: 0 }],
    ['FailureTarget False is ignored', job([cond('FailureTarget', 'False', 'X')]), [], { kind: 'running', phase: 'Pending', active: 0, succeeded: 0, failed: 0 }],
    [
      'no failed container known: no parenthesis',
      job([cond('Failed', 'True', 'BackoffLimitExceeded')]),
      [pod('etl-1-a', 'Failed', [terminated('main', 0)])],
      { kind: 'failed', type: 'JobFailed', reason: 'BackoffLimitExceeded', message: "Job 'ns/etl-1' failed: BackoffLimitExceeded" },
    ],
    [
      'DeadlineExceeded',
      job([cond('Failed', 'True', 'DeadlineExceeded')], {}, 30),
      [failedPod],
      { kind: 'failed', type: 'DeadlineExceeded', reason: 'DeadlineExceeded', message: "Job 'ns/etl-1' exceeded its deadline (activeDeadlineSeconds=30)" },
    ],
    [
      'DeadlineExceeded via FailureTarget',
      job([cond('FailureTarget', 'True', 'DeadlineExceeded')], {}, 5),
      [],
      { kind: 'failed', type: 'DeadlineExceeded', reason: 'DeadlineExceeded', message: "Job 'ns/etl-1' exceeded its deadline (activeDeadlineSeconds=5)" },
    ],
    [
      'a Failed condition without reason',
      job([cond('Failed', 'True')]),
      [],
      { kind: 'failed', type: 'JobFailed', reason: 'Failed', message: "Job 'ns/etl-1' failed: Failed" },
    ],
  ])('%s', (_, j, pods, expected) => {
    expect(interpretJob(j, pods, opts)).toEqual(expected);
  });

  test('a completed Job is not failed fast by a lingering image-pull pod', () => {
    const p = pod('p', 'Pending', [waiting('main', 'ImagePullBackOff')], { created: ago(10 * GRACE) });
    expect(interpretJob(job([cond('Complete', 'True')]), [p], opts)).toEqual({ kind: 'succeeded' });
  });
});

describe('interpretJob: which container the failure message names', () => {
  const failed = job([cond('Failed', 'True', 'BackoffLimitExceeded')]);
  test.each<[string, PodLike[], string]>([
    [
      'first pod by creation time, whatever the list order',
      [pod('etl-1-b', 'Failed', [terminated('main', 7)], { created: ago(60_000) }), pod('etl-1-a', 'Failed', [terminated('main', 3)], { created: ago(120_000) })],
      "(container 'main' exit code 3)",
    ],
    ['first failed container in spec order', [pod('p', 'Failed', [terminated('sidecar', 2), terminated('main', 0)], { specNames: ['main', 'sidecar'] })], "(container 'sidecar' exit code 2)"],
    ['spec order, not status order', [pod('p', 'Failed', [terminated('b', 2), terminated('a', 1)], { specNames: ['a', 'b'] })], "(container 'a' exit code 1)"],
    ['an init container that failed', [pod('p', 'Failed', [waiting('main', 'PodInitializing')], { init: [terminated('setup', 9)] })], "(container 'setup' exit code 9)"],
    [
      'restartPolicy OnFailure: the last terminated state of a crash-looping container',
      [pod('p', 'Running', [{ name: 'main', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 4 } } }])],
      "(container 'main' exit code 4)",
    ],
    ['skips pods without a failure', [pod('ok', 'Succeeded', [terminated('main', 0)], { created: ago(500_000) }), pod('bad', 'Failed', [terminated('main', 137)])], "(container 'main' exit code 137)"],
  ])('%s', (_, pods, suffix) => {
    const s = interpretJob(failed, pods, opts);
    expect(s.kind === 'failed' && s.message).toBe(`Job 'ns/etl-1' failed: BackoffLimitExceeded ${suffix}`);
  });

  test('firstFailedContainer reports the pod too', () => {
    expect(firstFailedContainer([pod('p', 'Failed', [terminated('main', 3)])])).toEqual({ pod: 'p', container: 'main', exitCode: 3, reason: 'Error' });
    expect(firstFailedContainer([])).toBeUndefined();
  });
});

describe('interpretJob: fast failures', () => {
  const j = job([], { active: 1 });
  const pending: JobState = { kind: 'running', phase: 'Pending', active: 1, succeeded: 0, failed: 0 };
  test.each<[string, PodLike[], Partial<JobState> | JobState]>([
    [
      'ImagePullBackOff after the grace period',
      [pod('etl-1-x', 'Pending', [waiting('main', 'ImagePullBackOff', 'Back-off pulling image "nope:1"')], { created: ago(GRACE + 1), images: { main: 'nope:1' } })],
      {
        kind: 'failed',
        type: 'ImagePullFailed',
        reason: 'ImagePullBackOff',
        message: `Job 'ns/etl-1': pod 'etl-1-x' cannot pull image 'nope:1' for container 'main': ImagePullBackOff (Back-off pulling image "nope:1")`,
      },
    ],
    ['ImagePullBackOff before the grace period: still pending', [pod('etl-1-x', 'Pending', [waiting('main', 'ImagePullBackOff')], { created: ago(GRACE - 1) })], pending],
    ['exactly at the grace period: still pending', [pod('etl-1-x', 'Pending', [waiting('main', 'ErrImagePull')], { created: ago(GRACE) })], pending],
    [
      'ErrImagePull without message: no parenthesis',
      [pod('p', 'Pending', [waiting('main', 'ErrImagePull')], { images: { main: 'a/b:c' } })],
      { kind: 'failed', type: 'ImagePullFailed', reason: 'ErrImagePull', message: "Job 'ns/etl-1': pod 'p' cannot pull image 'a/b:c' for container 'main': ErrImagePull" },
    ],
    ['InvalidImageName', [pod('p', 'Pending', [waiting('main', 'InvalidImageName', 'bad')])], { type: 'ImagePullFailed', reason: 'InvalidImageName' }],
    ['ErrImageNeverPull', [pod('p', 'Pending', [waiting('main', 'ErrImageNeverPull', 'never')])], { type: 'ImagePullFailed', reason: 'ErrImageNeverPull' }],
    [
      'an init container that cannot pull',
      [pod('p', 'Pending', [waiting('main', 'PodInitializing')], { init: [waiting('setup', 'ImagePullBackOff', 'nope')], images: { setup: 'setup:9' } })],
      { kind: 'failed', type: 'ImagePullFailed', reason: 'ImagePullBackOff', message: "Job 'ns/etl-1': pod 'p' cannot pull image 'setup:9' for container 'setup': ImagePullBackOff (nope)" },
    ],
    ['other waiting reasons do not fail fast', [pod('p', 'Pending', [waiting('main', 'ContainerCreating')])], pending],
    ['CrashLoopBackOff does not fail fast (backoffLimit decides)', [pod('p', 'Running', [waiting('main', 'CrashLoopBackOff')])], { kind: 'running', phase: 'Running' }],
    ['a pod being deleted is ignored', [pod('p', 'Pending', [waiting('main', 'ImagePullBackOff')], { deleting: true })], pending],
    [
      'unschedulable after the grace period (from lastTransitionTime)',
      [
        pod('p', 'Pending', [], {
          created: ago(10 * GRACE),
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.', lastTransitionTime: ago(GRACE + 5) }],
        }),
      ],
      { kind: 'failed', type: 'Unschedulable', reason: 'Unschedulable', message: "Job 'ns/etl-1': pod 'p' cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu." },
    ],
    [
      'unschedulable, transition recent although the pod is old: still pending',
      [pod('p', 'Pending', [], { created: ago(10 * GRACE), conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'm', lastTransitionTime: ago(GRACE - 5) }] })],
      pending,
    ],
    [
      'unschedulable without lastTransitionTime: pod creation decides',
      [pod('p', 'Pending', [], { created: ago(GRACE + 1), conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'm' }] })],
      { type: 'Unschedulable' },
    ],
    [
      'PodScheduled True is fine',
      [pod('p', 'Pending', [], { created: ago(10 * GRACE), conditions: [{ type: 'PodScheduled', status: 'True', reason: 'Unschedulable', lastTransitionTime: ago(10 * GRACE) }] })],
      pending,
    ],
    [
      'PodScheduled False with another reason is fine',
      [pod('p', 'Pending', [], { created: ago(10 * GRACE), conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', lastTransitionTime: ago(10 * GRACE) }] })],
      pending,
    ],
    ['a running pod: phase Running', [pod('p', 'Running', [running('main')])], { kind: 'running', phase: 'Running', active: 1, succeeded: 0, failed: 0 }],
    ['no pods: Pending', [], pending],
  ])('%s', (_, pods, expected) => {
    const state = interpretJob(j, pods, opts);
    if ('message' in expected || Object.keys(expected).length === 5) expect(state).toEqual(expected);
    else expect(state).toMatchObject(expected);
  });

  test('timestamps given as ISO strings work too', () => {
    const p = pod('p', 'Pending', [waiting('main', 'ImagePullBackOff')]);
    p.metadata!.creationTimestamp = new Date(NOW - GRACE - 1000).toISOString();
    expect(interpretJob(j, [p], opts)).toMatchObject({ kind: 'failed', type: 'ImagePullFailed' });
  });

  test('counts default to 0 without a status', () => {
    expect(interpretJob({ metadata: { name: 'x', namespace: 'n' } }, [], opts)).toEqual({ kind: 'running', phase: 'Pending', active: 0, succeeded: 0, failed: 0 });
  });
});

describe('summarizePods', () => {
  test('containers in spec order with states; init containers excluded by default', () => {
    const p = pod('p', 'Running', [running('b'), terminated('a', 2, { message: 'bye', reason: 'Error' }), waiting('c', 'ImagePullBackOff', 'nope')], {
      specNames: ['a', 'b', 'c', 'd'],
      init: [terminated('setup', 0)],
    });
    expect(summarizePods([p])).toEqual([
      {
        name: 'p',
        phase: 'Running',
        containers: [
          { name: 'a', state: 'terminated', reason: 'Error', exitCode: 2, message: 'bye', restartCount: 0 },
          { name: 'b', state: 'running', restartCount: 1 },
          { name: 'c', state: 'waiting', reason: 'ImagePullBackOff', message: 'nope', restartCount: 0 },
          { name: 'd', state: 'unknown', restartCount: 0 },
        ],
      },
    ]);
    const withInit = summarizePods([p], { initContainers: true })[0]!.containers;
    expect(withInit.map((c) => c.name)).toEqual(['init:setup', 'a', 'b', 'c', 'd']);
    expect(withInit[0]).toEqual({ name: 'init:setup', state: 'terminated', reason: 'Completed', exitCode: 0, restartCount: 0 });
  });

  test('pods ordered by creation time, then name; missing status tolerated', () => {
    const pods: PodLike[] = [
      { metadata: { name: 'z', creationTimestamp: ago(10) } },
      { metadata: { name: 'b', creationTimestamp: ago(20) }, status: { phase: 'Pending' } },
      { metadata: { name: 'a', creationTimestamp: ago(20) }, status: { phase: 'Pending' } },
    ];
    expect(summarizePods(pods)).toEqual([
      { name: 'a', phase: 'Pending', containers: [] },
      { name: 'b', phase: 'Pending', containers: [] },
      { name: 'z', phase: 'Unknown', containers: [] },
    ]);
  });
});

describe('exitCodes', () => {
  test('keyed pod/container, terminated containers only, init containers included', () => {
    const pods = [
      pod('p1', 'Failed', [terminated('main', 3), running('side')], { init: [terminated('setup', 0)] }),
      pod('p2', 'Succeeded', [terminated('main', 0)]),
      pod('p3', 'Running', [{ name: 'main', restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } }]),
      pod('p4', 'Running', [{ name: 'main', restartCount: 2, state: { running: {} }, lastState: { terminated: { exitCode: 1 } } }]),
    ];
    expect(exitCodes(pods)).toEqual({ 'p1/setup': 0, 'p1/main': 3, 'p2/main': 0, 'p3/main': 1 });
  });
});

describe('jobOutput', () => {
  const at = (s: number) => new Date(NOW - s * 1000);
  test.each<[string, PodLike[], unknown]>([
    ['JSON object', [pod('p', 'Succeeded', [terminated('main', 0, { message: '{"rows": 12, "ok": true}' })])], { rows: 12, ok: true }],
    ['JSON with surrounding whitespace', [pod('p', 'Succeeded', [terminated('main', 0, { message: '\n [1,2]\n' })])], [1, 2]],
    ['JSON scalar', [pod('p', 'Succeeded', [terminated('main', 0, { message: '42' })])], 42],
    ['plain text is trimmed', [pod('p', 'Succeeded', [terminated('main', 0, { message: '  done: 12 rows\n' })])], 'done: 12 rows'],
    ['not quite JSON stays text', [pod('p', 'Succeeded', [terminated('main', 0, { message: '{rows: 12}' })])], '{rows: 12}'],
    ['no message', [pod('p', 'Succeeded', [terminated('main', 0)])], undefined],
    ['whitespace-only message', [pod('p', 'Succeeded', [terminated('main', 0, { message: ' \n' })])], undefined],
    ['no pods', [], undefined],
    [
      'first container (spec order) with a message',
      [pod('p', 'Succeeded', [terminated('side', 0, { message: 'side' }), terminated('main', 0), terminated('last', 0, { message: 'last' })], { specNames: ['main', 'last', 'side'] })],
      'last',
    ],
    [
      'succeeded pod preferred over a later failed one',
      [
        pod('ok', 'Succeeded', [terminated('main', 0, { message: '"good"', finishedAt: at(100) })]),
        pod('bad', 'Failed', [terminated('main', 1, { message: 'partial', finishedAt: at(10) })]),
      ],
      'good',
    ],
    [
      'latest succeeded pod',
      [
        pod('old', 'Succeeded', [terminated('main', 0, { message: 'old', finishedAt: at(100) })]),
        pod('new', 'Succeeded', [terminated('main', 0, { message: 'new', finishedAt: at(10) })]),
        pod('mid', 'Succeeded', [terminated('main', 0, { message: 'mid', finishedAt: at(50) })]),
      ],
      'new',
    ],
    ['only a failed pod: its message', [pod('bad', 'Failed', [terminated('main', 1, { message: '{"error":"x"}' })])], { error: 'x' }],
  ])('%s', (_, pods, expected) => {
    expect(jobOutput(pods)).toEqual(expected);
  });
});

describe('failureDetails', () => {
  const j = job([cond('Failed', 'True', 'BackoffLimitExceeded')], { failed: 2 });
  const pods = [
    pod('etl-1-a', 'Failed', [terminated('main', 3, { message: 'boom' })], { init: [terminated('setup', 0)], created: ago(200_000) }),
    pod('etl-1-b', 'Failed', [terminated('main', 3, { message: 'x'.repeat(5000) })], { created: ago(100_000) }),
  ];
  const events: EventLike[] = Array.from({ length: 15 }, (_, i) => ({
    type: i === 14 ? 'Warning' : 'Normal',
    reason: `R${i}`,
    message: `event ${i}`,
    involvedObject: { kind: 'Pod', name: 'etl-1-a' },
    lastTimestamp: ago((15 - i) * 1000),
    count: 1,
  })).reverse(); // unordered input

  const d = failureDetails(j, pods, events, ['etl-1-a/main hello', 'etl-1-a/main ' + 'y'.repeat(3000)]);

  test('job, pods and exit codes', () => {
    expect(d.job).toEqual({
      namespace: 'ns',
      name: 'etl-1',
      active: 0,
      succeeded: 0,
      failed: 2,
      conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }],
    });
    expect(d.pods.map((p) => [p.name, p.phase])).toEqual([
      ['etl-1-a', 'Failed'],
      ['etl-1-b', 'Failed'],
    ]);
    expect(d.pods[0]!.containers).toEqual([
      { name: 'setup', state: 'terminated', reason: 'Completed', exitCode: 0, restartCount: 0, init: true },
      { name: 'main', state: 'terminated', reason: 'Error', exitCode: 3, message: 'boom', restartCount: 0 },
    ]);
    expect(d.exitCodes).toEqual({ 'etl-1-a/setup': 0, 'etl-1-a/main': 3, 'etl-1-b/main': 3 });
  });

  test('the last 10 events, oldest first', () => {
    expect(d.events).toHaveLength(10);
    expect(d.events.map((e) => e.reason)).toEqual(['R5', 'R6', 'R7', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14']);
    expect(d.events[9]).toEqual({ type: 'Warning', reason: 'R14', message: 'event 14', object: 'Pod/etl-1-a', time: ago(1000).toISOString(), count: 1 });
  });

  test('bounded and JSON-serialisable', () => {
    expect(Buffer.byteLength(d.pods[1]!.containers[0]!.message!)).toBeLessThanOrEqual(1024);
    expect(d.logTail[0]).toBe('etl-1-a/main hello');
    expect(Buffer.byteLength(d.logTail[1]!)).toBeLessThanOrEqual(1024);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    expect(JSON.stringify(d).length).toBeLessThan(8000);
  });

  test('many pods: the most recent 20, the rest counted', () => {
    const many = Array.from({ length: 25 }, (_, i) => pod(`p${String(i).padStart(2, '0')}`, 'Failed', [terminated('main', 1)], { created: ago((25 - i) * 1000) }));
    const dd = failureDetails(j, many, [], []);
    expect(dd.pods).toHaveLength(20);
    expect(dd.pods[0]!.name).toBe('p05');
    expect(dd.podsOmitted).toBe(5);
  });

  test('events with only eventTime or creationTimestamp', () => {
    const dd = failureDetails(j, [], [{ reason: 'A', eventTime: ago(5000) }, { reason: 'B', metadata: { creationTimestamp: ago(9000) } }], []);
    expect(dd.events.map((e) => e.reason)).toEqual(['B', 'A']);
    expect(dd.events[1]!.time).toBe(ago(5000).toISOString());
  });
});

// The watch's conclusion: a final condition wins over deletion (re-attaching to a completed Job that
// ttlSecondsAfterFinished is deleting reports its outcome, not "deleted while it ran").
describe('interpretWatchedJob', () => {
  const deleting = { deletionTimestamp: '2026-01-01T00:00:10Z' };
  const cond = (type: string, reason = '') => ({ status: { conditions: [{ type, status: 'True', reason }] } });
  test.each([
    ['gone', undefined, 'deleted'],
    ['being deleted while running', { metadata: { name: 'j', ...deleting }, status: { active: 1 } }, 'deleted'],
    ['Complete and being deleted', { metadata: { name: 'j', ...deleting }, ...cond('Complete') }, 'succeeded'],
    ['Failed and being deleted', { metadata: { name: 'j', ...deleting }, ...cond('Failed', 'BackoffLimitExceeded') }, 'failed'],
    ['running', { metadata: { name: 'j' }, status: { active: 1 } }, 'running'],
  ] as const)('%s', (_what, job, expected) => {
    const s = interpretWatchedJob(job as never, [], { now: Date.parse('2026-01-01T00:01:00Z'), failFastGraceMs: 60_000 });
    expect(s === 'deleted' ? 'deleted' : s.kind).toBe(expected);
  });
});

// Unschedulable is a matter of capacity until proven otherwise: a separate (longer) grace, a longer
// wait after a cluster-autoscaler scale-up, a look at the pod's events after the deadline before
// failing, and never while a sibling pod runs or has succeeded.
describe('interpretJob: unschedulable pods', () => {
  const UNSCHED = 600_000;
  const unschedulable = (name: string, sinceMs: number, extra: { phase?: string } = {}) =>
    pod(name, extra.phase ?? 'Pending', [], {
      created: ago(sinceMs + 1000),
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available', lastTransitionTime: ago(sinceMs) }],
    });
  const j = job([], { active: 2 });
  const checked = (at?: number): ((p: string) => ScaleUpInfo | undefined) => () => ({ checkedAt: NOW - 1, ...(at === undefined ? {} : { at }) });
  const o = (extra: Record<string, unknown> = {}) => ({ now: NOW, failFastGraceMs: GRACE, unschedulableGraceMs: UNSCHED, ...extra });
  test.each<[string, PodLike[], Record<string, unknown>, 'failed' | 'running']>([
    ['past the image-pull grace but not the unschedulable one: waits', [unschedulable('p', GRACE + 5_000)], {}, 'running'],
    ['past the unschedulable grace, no scale-up tracking: fails', [unschedulable('p', UNSCHED + 5_000)], {}, 'failed'],
    ['past the grace, events looked at after the deadline, no scale-up: fails', [unschedulable('p', UNSCHED + 5_000)], { scaleUp: checked() }, 'failed'],
    ['past the grace, events not looked at yet: waits', [unschedulable('p', UNSCHED + 5_000)], { scaleUp: () => undefined }, 'running'],
    ['past the grace, events looked at before the deadline only: waits', [unschedulable('p', UNSCHED + 5_000)], { scaleUp: () => ({ checkedAt: NOW - 10_000 }) }, 'running'],
    ['a scale-up triggered since it became unschedulable: waits', [unschedulable('p', UNSCHED + 5_000)], { scaleUp: checked(NOW - UNSCHED) }, 'running'],
    ['a scale-up, then the scale-up wait passed too: fails', [unschedulable('p', 3 * SCALE_UP_WAIT_MS)], { scaleUp: checked(NOW - SCALE_UP_WAIT_MS - 5_000) }, 'failed'],
    ['a scale-up older than the unschedulable spell does not count', [unschedulable('p', UNSCHED + 5_000)], { scaleUp: checked(NOW - UNSCHED - 60_000) }, 'failed'],
    ['a sibling pod runs: capacity, never fails', [unschedulable('p', 10 * UNSCHED), pod('q', 'Running', [running('main')])], {}, 'running'],
    ['a sibling pod succeeded: never fails', [unschedulable('p', 10 * UNSCHED), pod('q', 'Succeeded', [terminated('main', 0)])], {}, 'running'],
    ['a sibling pod failed: still fails (no pod made progress)', [unschedulable('p', UNSCHED + 5_000), pod('q', 'Failed', [terminated('main', 1)])], {}, 'failed'],
    ['without unschedulableGraceMs the fail-fast grace applies (compatibility)', [unschedulable('p', GRACE + 5_000)], { unschedulableGraceMs: undefined }, 'failed'],
  ])('%s', (_, pods, extra, expected) => {
    expect(interpretJob(j, pods, o(extra)).kind).toBe(expected);
  });

  test('counted succeeded pods in the Job status also mean capacity (the pods may be gone)', () => {
    expect(interpretJob(job([], { active: 1, succeeded: 3 }), [unschedulable('p', 10 * UNSCHED)], o()).kind).toBe('running');
  });

  test('the failure message says when a scale-up brought no room', () => {
    const s = interpretJob(j, [unschedulable('p', 3 * SCALE_UP_WAIT_MS)], o({ scaleUp: checked(NOW - SCALE_UP_WAIT_MS - 5_000) }));
    expect(s).toMatchObject({ kind: 'failed', type: 'Unschedulable', message: "Job 'ns/etl-1': pod 'p' cannot be scheduled: 0/2 nodes are available (a cluster-autoscaler scale-up it triggered brought no room)" });
  });

  test('unschedulableDeadline', () => {
    expect(unschedulableDeadline(1000, 60_000, undefined)).toBe(61_000);
    expect(unschedulableDeadline(1000, 60_000, 500)).toBe(500 + SCALE_UP_WAIT_MS); // within the skew
    expect(unschedulableDeadline(100_000, 60_000, 1000)).toBe(160_000); // before the spell: ignored
    expect(unschedulableDeadline(0, 3_600_000, 10)).toBe(3_600_010); // a grace longer than the scale-up wait
  });

  test('latestScaleUp: TriggeredScaleUp events about the pod only, latest first', () => {
    const ev = (reason: string, name: string, secondsAgo: number, uid?: string): EventLike =>
      ({ reason, involvedObject: { kind: 'Pod', name, ...(uid ? { uid } : {}) }, lastTimestamp: ago(secondsAgo * 1000) }) as EventLike;
    const events = [ev('TriggeredScaleUp', 'p', 30), ev('TriggeredScaleUp', 'p', 10), ev('NotTriggerScaleUp', 'p', 1), ev('TriggeredScaleUp', 'other', 0), ev('TriggeredScaleUp', 'p', 0, 'old-uid')];
    expect(latestScaleUp(events, { name: 'p', uid: 'uid-1' })).toBe(NOW - 10_000);
    expect(latestScaleUp(events, { name: 'p' })).toBe(NOW);
    expect(latestScaleUp([], { name: 'p' })).toBeUndefined();
  });
});

describe('boundResult: the success result stays far below Temporal\'s 2 MB payload limit', () => {
  const base: KubernetesJobResult = { jobName: 'j', namespace: 'ns', status: 'Succeeded', pods: [], exitCodes: {}, logTail: [], logLines: 0, reattached: false, deleted: true };
  const bytes = (r: unknown) => Buffer.byteLength(JSON.stringify(r));

  test('a small result is unchanged and has no marker', () => {
    const r = { ...base, pods: [{ name: 'p', phase: 'Succeeded', containers: [] }], exitCodes: { 'p/main': 0 }, output: { rows: 1 }, logTail: ['p/main hi'] };
    expect(boundResult(r)).toEqual(r);
  });

  test('an indexed Job with 5,000 pods: the most recent pods and their exit codes, counted', () => {
    const pods = Array.from({ length: 5000 }, (_, i) => ({ name: `j-${i}`, phase: 'Succeeded', containers: [{ name: 'main', state: 'terminated' as const, exitCode: 0, message: 'm'.repeat(4000), restartCount: 0 }] }));
    const exitCodes = Object.fromEntries(pods.map((p) => [`${p.name}/main`, 0]));
    const r = boundResult({ ...base, pods, exitCodes, logTail: Array.from({ length: 50 }, (_, i) => `line ${i} ${'x'.repeat(1300)}`) });
    expect(bytes(r)).toBeLessThanOrEqual(RESULT_MAX_BYTES);
    expect(r.pods.length).toBeLessThanOrEqual(RESULT_PODS);
    expect(r.pods.at(-1)!.name).toBe('j-4999');
    expect(Object.keys(r.exitCodes)).toEqual(r.pods.map((p) => `${p.name}/main`));
    expect(r.truncated!.pods).toBe(5000 - r.pods.length);
    expect(r.truncated!.exitCodes).toBe(5000 - r.pods.length);
    expect(r.truncated!.messages).toBe(r.pods.length + (r.truncated!.pods! - (5000 - RESULT_PODS)));
    for (const p of r.pods) expect(Buffer.byteLength(p.containers[0]!.message!)).toBeLessThanOrEqual(512);
    // The newest log lines are kept.
    expect(r.logTail.at(-1)).toMatch(/^line 49 /);
    expect((r.truncated!.logTail ?? 0) + r.logTail.length).toBe(50);
  });

  test('a large output becomes its text, cut, with its original size', () => {
    const output = { blob: 'z'.repeat(100_000) };
    const r = boundResult({ ...base, output });
    expect(typeof r.output).toBe('string');
    expect(Buffer.byteLength(r.output as string)).toBeLessThanOrEqual(16 * 1024);
    expect((r.output as string).startsWith('{"blob":"zzz')).toBe(true);
    expect(r.truncated).toEqual({ output: bytes(output) });
  });

  test('a long log tail loses its oldest lines only', () => {
    const logTail = Array.from({ length: 3000 }, (_, i) => `p/main line ${i} ${'y'.repeat(60)}`);
    const r = boundResult({ ...base, logTail }, 64 * 1024);
    expect(bytes(r)).toBeLessThanOrEqual(64 * 1024);
    expect(r.logTail).toEqual(logTail.slice(r.truncated!.logTail));
    expect(r.logTail.length).toBeGreaterThan(500);
  });

  test('multi-byte text is never cut inside a character', () => {
    const r = boundResult({ ...base, output: 'é'.repeat(20_000) });
    expect(r.output as string).toMatch(/^é+…$/);
  });
});

describe('boundFailureDetails', () => {
  test('oldest log lines, then events, then pods go, counted', () => {
    const d = failureDetails(job([cond('Failed', 'True', 'BackoffLimitExceeded')]), Array.from({ length: 20 }, (_, i) => pod(`p${i}`, 'Failed', [terminated('main', 1, { message: 'e'.repeat(1000) })], { created: ago((20 - i) * 1000) })), [], Array.from({ length: 200 }, (_, i) => `l${i} ${'q'.repeat(900)}`));
    const b = boundFailureDetails(d, 16 * 1024);
    expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThanOrEqual(16 * 1024);
    expect(b.logTail).toEqual([]);
    expect(b.truncated).toEqual({ logTail: 200 });
    expect(b.podsOmitted).toBeGreaterThan(0);
    expect(b.pods.at(-1)!.name).toBe('p19');
    expect(boundFailureDetails(failureDetails(job(), [], [], ['x']))).toEqual(failureDetails(job(), [], [], ['x']));
  });
});

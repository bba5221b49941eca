// Types of counting-proxy.js (plain JavaScript, shared by bench/ and the tests' fault proxy).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One request as the proxy saw it. */
export interface SeenRequest {
  client: string;
  method: string;
  path: string;
  /** Date.now() when it arrived. */
  at: number;
  /** Response body bytes forwarded so far. */
  bytes: number;
  /** The upstream's status, once it answered. */
  status?: number;
  /** Milliseconds from the request's arrival to the upstream's response headers. */
  answerMs?: number;
  /** The status the proxy answered itself (a fault), or undefined when forwarded. */
  injected?: number;
}

export interface CountingProxyOptions {
  upstream: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  upstreamClientCert?: { cert: Buffer; key: Buffer };
  /** Answers a request itself (returns true); `forward` sends it on (e.g. later). */
  intercept?: (seen: SeenRequest, req: IncomingMessage, res: ServerResponse, forward: (body?: Buffer) => void) => boolean;
}

export interface ProxyMark {
  index: number;
  connections: number;
}

export interface ProxyCounts {
  requests: number;
  byKind: Record<string, number>;
  bytes: number;
  connections: number;
  /** answerMs of every answered request that is not a watch or followed log. */
  answerMs: number[];
}

export declare function clientOf(authorization: string | undefined): string;
export declare function isStream(r: SeenRequest): boolean;
export declare function requestKind(r: SeenRequest): string;

export declare class CountingProxy {
  static start(o: CountingProxyOptions): Promise<CountingProxy>;
  readonly requests: SeenRequest[];
  readonly open: Set<SeenRequest>;
  readonly connections: number;
  readonly url: string;
  countByClient(filter?: (r: SeenRequest) => boolean): Map<string, number>;
  openStreams(): number;
  cut(filter: (r: SeenRequest) => boolean): void;
  hold(): void;
  release(): void;
  mark(): ProxyMark;
  since(mark: ProxyMark): ProxyCounts;
  close(): Promise<void>;
}
export declare function proxyKubeconfig(url: string, ca: Buffer, token: string, namespace: string): string;

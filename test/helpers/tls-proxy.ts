/**
 * A TLS-terminating gRPC proxy in front of the stack's plaintext Temporal dev server, as a
 * Temporal behind an mTLS ingress (or Temporal Cloud) looks to a client: HTTP/2 over TLS, client
 * certificates required and checked against a CA, every request's headers recorded (to see the
 * `authorization` header an API key sends). Certificates are made with openssl.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';

/** A CA and what it signed, as PEM files in `dir`. */
export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here (a client trusting it must refuse the server). */
  otherCa: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes a CA, a server certificate for localhost/127.0.0.1, a client certificate and an unrelated CA. */
export function makePki(dir: string): Pki {
  const p = (f: string) => path.join(dir, f);
  const ca = (name: string) => openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  ca('test-ca');
  ca('other-ca');
  const leaf = (name: string, ext: string) => {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    fs.writeFileSync(p(`${name}.ext`), ext);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  };
  leaf('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  leaf('client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  return { dir, ca: p('test-ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key'), otherCa: p('other-ca.pem') };
}

export interface TlsProxy {
  address: string;
  /** Headers of every request that reached the upstream, with the client certificate's CN. */
  requests: { path: string; authorization?: string; clientCn?: string }[];
  close: () => Promise<void>;
}

/** Starts the proxy on 127.0.0.1 (a free port), forwarding to the plaintext `upstream` (host:port). */
export async function startTlsProxy(pki: Pki, upstream: string): Promise<TlsProxy> {
  const up = http2.connect(`http://${upstream}`);
  up.on('error', () => undefined);
  const requests: TlsProxy['requests'] = [];
  const server = http2.createSecureServer({
    cert: fs.readFileSync(pki.serverCert),
    key: fs.readFileSync(pki.serverKey),
    ca: fs.readFileSync(pki.ca),
    requestCert: true,
    rejectUnauthorized: true,
    allowHTTP1: false,
  });
  server.on('stream', (stream, headers) => {
    const socket = stream.session?.socket as TLSSocket | undefined;
    const cn = socket?.getPeerCertificate()?.subject?.CN;
    const auth = headers.authorization;
    requests.push({ path: String(headers[':path']), authorization: Array.isArray(auth) ? auth[0] : auth, clientCn: typeof cn === 'string' ? cn : undefined });
    const out: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (k !== ':authority' && k !== ':scheme' && k !== 'connection') out[k] = v;
    const req = up.request(out, { endStream: false });
    req.on('response', (h) => {
      if (stream.closed) return;
      // A trailers-only answer (an error status at once) stays one HEADERS frame that ends the stream.
      if (h['grpc-status'] !== undefined) stream.respond({ ...h }, { endStream: true });
      else stream.respond({ ...h }, { waitForTrailers: true });
    });
    let trailers: http2.OutgoingHttpHeaders = {};
    req.on('trailers', (t) => (trailers = { ...t }));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    req.on('data', (d: Buffer) => stream.closed || stream.write(d));
    req.on('end', () => stream.closed || stream.end());
    req.on('error', () => stream.closed || stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('data', (d: Buffer) => req.write(d));
    stream.on('end', () => req.end());
    stream.on('close', () => req.closed || req.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('error', () => undefined);
  });
  server.on('sessionError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      up.destroy();
    },
  };
}

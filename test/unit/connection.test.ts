/** How the Temporal connection is resolved from flags, TEMPORAL_* variables and the config file. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../../src/cli/common.js';
import { resolveTemporal, type TemporalFlagValues } from '../../src/cli/connection.js';
import { tempDir } from '../helpers/tmp.js';

const t = tempDir();
afterAll(() => t.cleanup());
const file = (name: string, text: string) => {
  const p = path.join(t.dir, name);
  fs.writeFileSync(p, text);
  return p;
};

describe('resolveTemporal', () => {
  let cert: string, key: string, ca: string, toml: string;
  // A config file per test run, so that the user's own ~/.config/temporalio/temporal.toml plays no part.
  const base = () => ({ TEMPORAL_CONFIG_FILE: toml });
  beforeAll(() => {
    cert = file('client.pem', 'CERT');
    key = file('client.key', 'KEY');
    ca = file('ca.pem', 'CA');
    toml = file(
      'temporal.toml',
      `[profile.default]\naddress = "default-profile:7233"\n\n[profile.prod]\naddress = "prod:7233"\nnamespace = "prod-ns"\napi_key = "k-prod"\n\n[profile.mtls]\naddress = "m:7233"\n[profile.mtls.tls]\nclient_cert_path = "${cert}"\nclient_key_path = "${key}"\nserver_name = "temporal.internal"\n`,
    );
  });

  it.each<[string, TemporalFlagValues, Record<string, string>, { address: string; namespace: string; security: string }]>([
    ['default profile of the config file', {}, {}, { address: 'default-profile:7233', namespace: 'default', security: 'plaintext' }],
    ['TEMPORAL_ADDRESS over the profile', {}, { TEMPORAL_ADDRESS: 'env:1' }, { address: 'env:1', namespace: 'default', security: 'plaintext' }],
    ['--address over TEMPORAL_ADDRESS', { address: 'flag:1' }, { TEMPORAL_ADDRESS: 'env:1' }, { address: 'flag:1', namespace: 'default', security: 'plaintext' }],
    ['--temporal-namespace over TEMPORAL_NAMESPACE', { 'temporal-namespace': 'x' }, { TEMPORAL_NAMESPACE: 'prod' }, { address: 'default-profile:7233', namespace: 'x', security: 'plaintext' }],
    ['--profile: address, namespace, API key (TLS on)', { profile: 'prod' }, {}, { address: 'prod:7233', namespace: 'prod-ns', security: 'TLS, API key' }],
    ['TEMPORAL_PROFILE', {}, { TEMPORAL_PROFILE: 'prod' }, { address: 'prod:7233', namespace: 'prod-ns', security: 'TLS, API key' }],
    ['--api-key', { 'api-key': 'k' }, {}, { address: 'default-profile:7233', namespace: 'default', security: 'TLS, API key' }],
    ['TEMPORAL_API_KEY', {}, { TEMPORAL_API_KEY: 'k' }, { address: 'default-profile:7233', namespace: 'default', security: 'TLS, API key' }],
    ['profile with mTLS', { profile: 'mtls' }, {}, { address: 'm:7233', namespace: 'default', security: 'mTLS' }],
  ])('%s', (_n, flags, env, want) => {
    const r = resolveTemporal(flags, { ...base(), ...env });
    expect({ address: r.address, namespace: r.namespace, security: r.security }).toEqual(want);
    expect(r.options.address).toBe(want.address);
  });

  it('no config file and no variables: 127.0.0.1:7233, namespace default, plaintext', () => {
    const r = resolveTemporal({}, { TEMPORAL_CONFIG_FILE: path.join(t.dir, 'missing.toml') });
    expect([r.address, r.namespace, r.security]).toEqual(['127.0.0.1:7233', 'default', 'plaintext']);
  });

  it('TLS flags become the client cert pair, the CA and the server name', () => {
    const r = resolveTemporal({ 'tls-cert': cert, 'tls-key': key, 'tls-ca': ca, 'tls-server-name': 'srv' }, base());
    expect(r.security).toBe('mTLS');
    expect(r.options.tls).toEqual({
      serverNameOverride: 'srv',
      serverRootCACertificate: Buffer.from('CA'),
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
    expect(r.options.apiKey).toBeUndefined();
  });

  it('the TLS variables do the same', () => {
    const r = resolveTemporal({}, { ...base(), TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key, TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca });
    expect(r.security).toBe('mTLS');
    expect((r.options.tls as { serverRootCACertificate: Buffer }).serverRootCACertificate).toEqual(Buffer.from('CA'));
  });

  it('--api-key is the connection api key', () => {
    expect(resolveTemporal({ 'api-key': 'secret' }, base()).options.apiKey).toBe('secret');
  });

  it('a flag replaces the _DATA form of its variable', () => {
    const r = resolveTemporal({ 'tls-ca': ca }, { ...base(), TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'OTHER' });
    expect((r.options.tls as { serverRootCACertificate: Buffer }).serverRootCACertificate).toEqual(Buffer.from('CA'));
  });

  it.each<[string, TemporalFlagValues, Record<string, string>, RegExp]>([
    ['cert without key', { 'tls-cert': 'CERT' }, {}, /client certificate .* was given without its key: add --tls-key/],
    ['key without cert', {}, { TEMPORAL_TLS_CLIENT_KEY_PATH: 'KEY' }, /client key .* was given without its certificate: add --tls-cert/],
    ['unreadable CA', { 'tls-ca': 'missing-ca.pem' }, {}, /cannot read --tls-ca .*missing-ca\.pem \(flag\): ENOENT/],
    ['unreadable cert from the variable', {}, { TEMPORAL_TLS_CLIENT_CERT_PATH: 'nope.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: 'KEY' }, /cannot read --tls-cert nope\.pem \(TEMPORAL_TLS_CLIENT_CERT_PATH\): ENOENT/],
    ['unknown profile', { profile: 'nope' }, {}, /cannot load the Temporal connection settings \(profile 'nope'\): Profile 'nope' not found/],
  ])('%s: one clear error', (_n, flags, env, want) => {
    const fix = (v: string) => (v === 'CERT' ? cert : v === 'KEY' ? key : v.startsWith('missing') ? path.join(t.dir, v) : v);
    const f = Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, fix(v!)]));
    const e = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, fix(v)]));
    expect(() => resolveTemporal(f, { ...base(), ...e })).toThrow(want);
  });

  it('an empty flag is a usage error', () => {
    expect(() => resolveTemporal({ address: ' ' }, base())).toThrow(UsageError);
  });
});

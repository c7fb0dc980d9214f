// Debian's pebble (a real ACME CA for tests) on free loopback ports, its VA resolving every name through a
// test DNS server and dialling our HTTP-01 / TLS-ALPN-01 listeners on the given ports. Deterministic:
// no validation sleep, no bad-nonce injection, no authorization reuse (every order is really validated).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createSelfSigned } from '../../server/config/tls.js';
import { freePorts } from './ports.js';

export interface Pebble {
  /** The ACME directory URL. */
  readonly directoryUrl: string;
  /** PEM file of the certificate pebble's own HTTPS API uses (SEALPOST_ACME_CA_FILE). */
  readonly caFile: string;
  /** pebble's output so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export async function startPebble(options: { readonly dir: string; readonly dnsAddress: string; readonly httpPort: number; readonly tlsPort: number }): Promise<Pebble> {
  const [apiPort, managementPort] = await freePorts(2);
  const api = createSelfSigned('localhost');
  const certFile = path.join(options.dir, 'pebble-api-cert.pem');
  const keyFile = path.join(options.dir, 'pebble-api-key.pem');
  fs.writeFileSync(certFile, api.cert);
  fs.writeFileSync(keyFile, api.key, { mode: 0o600 });
  const configFile = path.join(options.dir, 'pebble-config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${apiPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: certFile,
        privateKey: keyFile,
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let output = '';
  const child: ChildProcess = spawn('pebble', ['-config', configFile, '-dnsserver', options.dnsAddress], {
    env: { PATH: process.env.PATH, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const directoryUrl = `https://127.0.0.1:${apiPort}/dir`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`pebble exited: ${output}`);
    if (await answers(directoryUrl, api.cert)) return { directoryUrl, caFile: certFile, output: () => output, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`pebble did not start: ${output}`);
}

function answers(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = https.get(url, { ca, agent: false, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.once('error', () => resolve(false));
    request.once('timeout', () => request.destroy());
  });
}

// `amqp-spy certs DIR`: a local CA, a server certificate for this machine's names, and a client
// certificate, for trying --listen-tls (and mutual TLS) without a PKI. Made by the openssl
// command, not by hand: X.509 is not this project's to write.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AmqpSpyError, UsageError } from '../errors.js';
import { describeFsError } from '../source/errno.js';

export interface CertsOptions {
  readonly dir: string;
  /** more names or IP addresses the server certificate is valid for (localhost, 127.0.0.1, ::1 always) */
  readonly hosts: readonly string[];
  /** replace files that exist */
  readonly force: boolean;
}

/** openssl failed or is missing: one line, exit 1. */
export class CertsError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(reason: string) {
    super(`certs: ${reason}`);
    this.name = 'CertsError';
  }
}

const FILES = ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem', 'client.pem', 'client-key.pem'] as const;
/** Days the certificates are valid: 825, the most Apple's clients accept for a server certificate. */
const DAYS = '825';
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$/;

/** Writes the six PEM files into `dir`; returns the lines to print. */
export function makeCerts(options: CertsOptions): string[] {
  for (const host of options.hosts)
    if (net.isIP(host) === 0 && !HOST_NAME.test(host)) throw new UsageError(`certs --host "${host}": not a host name or IP address`);
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0)
    throw new CertsError('the openssl command is not installed (Debian: apt-get install openssl)');
  const dir = path.resolve(options.dir);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`certs ${options.dir}: ${describeFsError(error)}`);
  }
  const existing = FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (existing.length > 0 && !options.force) throw new UsageError(`certs ${options.dir}: ${existing.join(', ')} already there (--force replaces them)`);

  const names = ['localhost', ...options.hosts.filter((h) => net.isIP(h) === 0)];
  const ips = ['127.0.0.1', '::1', ...options.hosts.filter((h) => net.isIP(h) !== 0)];
  const san = [...new Set(names)].map((n) => `DNS:${n}`).concat([...new Set(ips)].map((ip) => `IP:${ip}`));
  const file = (name: string) => path.join(dir, name);
  const work = fs.mkdtempSync(path.join(dir, '.certs-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca-key.pem'),
      '-out',
      file('ca.pem'),
      '-days',
      DAYS,
      '-subj',
      '/CN=amqp-spy test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    const sign = (name: string, subject: string, extensions: string[]) => {
      const csr = path.join(work, `${name}.csr`);
      const ext = path.join(work, `${name}.ext`);
      fs.writeFileSync(ext, `${extensions.join('\n')}\n`);
      openssl(['req', ...ec, '-keyout', file(`${name}-key.pem`), '-out', csr, '-subj', subject]);
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        file('ca.pem'),
        '-CAkey',
        file('ca-key.pem'),
        '-CAcreateserial',
        '-out',
        file(`${name}.pem`),
        '-days',
        DAYS,
        '-extfile',
        ext,
      ]);
    };
    sign('server', '/CN=localhost', [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${san.join(',')}`,
    ]);
    sign('client', '/CN=amqp-spy-client', ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(file('ca.srl'), { force: true });
  }
  for (const key of ['ca-key.pem', 'server-key.pem', 'client-key.pem']) fs.chmodSync(file(key), 0o600);
  const shown = options.dir;
  const at = (name: string) => path.join(shown, name);
  return [
    `wrote ${FILES.join(', ')} to ${shown} (server certificate for ${san.map((s) => s.replace(/^(DNS|IP):/, '')).join(', ')}; valid ${DAYS} days)`,
    `serve TLS: amqp-spy --standalone --listen-tls 5671 --cert ${at('server.pem')} --key ${at('server-key.pem')}`,
    `clients trust ${at('ca.pem')} (amqps://localhost:5671); for mutual TLS add --client-ca ${at('ca.pem')} and give clients ${at('client.pem')} and ${at('client-key.pem')}`,
  ];
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '')
      .trim()
      .split('\n')[0];
    throw new CertsError(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

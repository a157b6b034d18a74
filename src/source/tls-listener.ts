// A TLS listener for clients (`--listen-tls`), as the proxy and the built-in broker both offer
// it: the server's certificate and key read once (one clear line when they are not usable),
// optionally client certificates required (`--client-ca`), and failed handshakes reported
// without flooding (a port scanner makes one per probe).

import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { UsageError } from '../errors.js';
import type { ListenAddress } from './address.js';
import { describeFsError } from './errno.js';
import { ListenError } from './listen-error.js';

/** What a TLS listener needs: where, and its PEM credentials (file contents). */
export interface TlsListen {
  readonly listen: ListenAddress;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** require a client certificate signed by this CA (mutual TLS) */
  readonly clientCa?: Buffer;
}

/** Reads the PEM files of `--cert`, `--key` and `--client-ca`; a file that is not usable is one line, exit 2. */
export function readTlsListen(listen: ListenAddress, files: { cert: string; key: string; clientCa?: string }): TlsListen {
  const { cert, key } = readCertificatePair(files, ['--cert', '--key']);
  const clientCa = files.clientCa !== undefined ? readPem('--client-ca', files.clientCa, 'CERTIFICATE') : undefined;
  return { listen, cert, key, ...(clientCa ? { clientCa } : {}) };
}

/**
 * A certificate and its private key from PEM files, checked as a pair now rather than at the
 * first handshake; `options` name them in errors (`--cert`, `--key`). One line, exit 2.
 */
export function readCertificatePair(files: { cert: string; key: string }, options: readonly [string, string]): { cert: Buffer; key: Buffer } {
  const cert = readPem(options[0], files.cert, 'CERTIFICATE');
  const key = readPem(options[1], files.key, 'PRIVATE KEY');
  try {
    tls.createSecureContext({ cert, key });
  } catch (error) {
    throw new UsageError(`${options[0]} ${files.cert} and ${options[1]} ${files.key} do not make a usable pair: ${(error as Error).message}`);
  }
  return { cert, key };
}

function readPem(option: string, file: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (error) {
    throw new UsageError(`${option} ${file}: ${describeFsError(error)}`);
  }
  // "BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY", "BEGIN EC PRIVATE KEY" all end in PRIVATE KEY
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(pem.toString('latin1')))
    throw new UsageError(`${option} ${file}: not a PEM ${kind === 'CERTIFICATE' ? 'certificate' : 'private key'}`);
  return pem;
}

/** After this many failed handshakes are reported one by one, only every power of ten is. */
const REPORTED_HANDSHAKE_FAILURES = 5;

/**
 * Listens for TLS clients; `onClient` gets each socket once its handshake is done (its reads
 * not started: the caller reads when it is ready). Rejects with ListenError when the address
 * cannot be bound.
 */
export async function listenTls(
  options: TlsListen,
  onClient: (socket: tls.TLSSocket) => void,
  notice: (line: string) => void,
  handshakeTimeoutMs = 10_000,
): Promise<{ server: tls.Server; address: { address: string; port: number } }> {
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ...(options.clientCa ? { ca: options.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    allowHalfOpen: true,
    noDelay: true,
    // 0 would mean no limit for us, but tls takes 0 as "time out at once"
    handshakeTimeout: handshakeTimeoutMs > 0 ? handshakeTimeoutMs : 2_147_483_647,
    minVersion: 'TLSv1.2',
  });
  let failures = 0;
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    failures++;
    if (failures > REPORTED_HANDSHAKE_FAILURES && !Number.isInteger(Math.log10(failures))) return;
    const who =
      socket.remoteAddress !== undefined
        ? `${net.isIPv6(socket.remoteAddress) ? `[${socket.remoteAddress}]` : socket.remoteAddress}:${socket.remotePort}`
        : 'a client';
    const count = failures > REPORTED_HANDSHAKE_FAILURES ? ` (${failures} failed handshakes so far)` : '';
    // openssl's message is a stack line (80EC...:error:0A00009C:SSL routines:...): its reason reads better
    const reason = (error as { reason?: string }).reason ?? error.message.split('\n')[0];
    notice(`TLS handshake with ${who} failed: ${reason}${error.code !== undefined ? ` (${error.code})` : ''}${count}`);
  });
  server.on('secureConnection', onClient);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => reject(ListenError.fromErrno(options.listen.host, options.listen.port, e));
    server.once('error', onError);
    server.listen({ host: options.listen.host, port: options.listen.port, exclusive: true }, () => {
      server.off('error', onError);
      server.on('error', () => {}); // accept errors are per connection
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  return { server, address: { address: bound.address, port: bound.port } };
}

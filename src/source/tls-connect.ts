// TLS to a broker, as every source that connects to one does it: the certificate checked, and
// the host's name sent (SNI) and matched, unless told otherwise.

import net from 'node:net';
import tls from 'node:tls';

export interface UpstreamTlsOptions {
  /** PEM CA certificate(s) to trust instead of the system store (file contents) */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** default true; false accepts any certificate (for debugging only) */
  readonly rejectUnauthorized?: boolean;
  /** SNI / certificate name; defaults to the upstream host when it is a name, not an IP */
  readonly servername?: string;
  /** a client certificate and its private key (PEM), for a broker that requires one */
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** Opens a TLS connection; `socket` holds the address and socket options (allowHalfOpen, ...). */
export function connectTls(socket: tls.ConnectionOptions & { readonly host: string; readonly port: number }, options: UpstreamTlsOptions = {}): tls.TLSSocket {
  const tlsOptions: tls.ConnectionOptions = { ...socket, rejectUnauthorized: options.rejectUnauthorized ?? true };
  if (options.ca !== undefined) tlsOptions.ca = options.ca as tls.ConnectionOptions['ca'];
  if (options.cert !== undefined && options.key !== undefined) {
    tlsOptions.cert = options.cert;
    tlsOptions.key = options.key;
  }
  // an IP address is not a valid SNI name; its certificate is matched by IP instead
  const servername = options.servername ?? (net.isIP(socket.host) === 0 ? socket.host : undefined);
  if (servername !== undefined) tlsOptions.servername = servername;
  return tls.connect(tlsOptions);
}

// The small HTTP servers a session can open beside its AMQP port (--metrics, --management,
// --control) listen, time out and close the same way: one place says how.

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListenError } from './listen-error.js';

export interface RunningHttp {
  readonly address: { readonly host: string; readonly port: number };
  /** stops listening and drops open connections; resolves once closed (the same promise each call) */
  close(): Promise<void>;
}

/**
 * Binds `server` to `listen`; rejects with ListenError when the address cannot be bound.
 * Idle keep-alive connections go after 5 s, and a client that trickles its request (headers
 * within 10 s, the whole of it within 30 s) is dropped rather than held open.
 */
export async function listenHttp(server: http.Server, listen: { readonly host: string; readonly port: number }): Promise<RunningHttp> {
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => reject(ListenError.fromErrno(listen.host, listen.port, e));
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    address: { host: address.address, port: address.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// The one error every listening source (the proxy, the built-in broker) gives when it cannot bind.

import { formatHostPort } from './address.js';
import { describeSocketError } from './errno.js';
import { AmqpSpyError } from '../errors.js';

/** The listen port cannot be bound; the message is one line. */
export class ListenError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(
    readonly host: string,
    readonly port: number,
    /** errno code, e.g. EADDRINUSE */
    readonly code: string | undefined,
    reason: string,
  ) {
    super(`cannot listen on ${formatHostPort(host, port)}: ${reason}`);
    this.name = new.target.name;
  }

  /** From a listen 'error' event: `cannot listen on 127.0.0.1:5673: address already in use`. */
  static fromErrno(host: string, port: number, err: NodeJS.ErrnoException): ListenError {
    return new ListenError(host, port, err.code, describeSocketError(err));
  }
}

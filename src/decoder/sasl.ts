// The credentials in a connection.start-ok response, for the two mechanisms AMQP 0-9-1
// brokers speak: PLAIN (`[authzid] NUL user NUL password`) and AMQPLAIN (a field table
// without its length prefix, holding LOGIN and PASSWORD). The broker checks them; the TUI and
// `replay --to` read the user (from responses whose password may be masked).

import { decodeFieldTableEntries, tableGet } from './field-table.js';
import type { AmqpString, ArgumentValue } from './types.js';

export interface SaslCredentials {
  readonly user: string;
  /** undefined when an AMQPLAIN response has no PASSWORD */
  readonly password: string | undefined;
}

function text(s: AmqpString): string {
  return typeof s === 'string' ? s : Buffer.from(s.buffer, s.byteOffset, s.length).toString('utf8');
}

/** The user and password of a PLAIN or AMQPLAIN response; undefined for other mechanisms or a malformed response. */
export function saslCredentials(mechanism: ArgumentValue | undefined, response: ArgumentValue | undefined): SaslCredentials | undefined {
  let bytes: Uint8Array;
  if (typeof response === 'string') bytes = Buffer.from(response, 'utf8');
  else if (response instanceof Uint8Array) bytes = response;
  else return undefined;
  const name = typeof mechanism === 'string' || mechanism instanceof Uint8Array ? text(mechanism) : undefined;
  if (name === 'PLAIN') {
    const first = bytes.indexOf(0);
    const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
    if (second < 0) return undefined;
    return { user: text(bytes.subarray(first + 1, second)), password: text(bytes.subarray(second + 1)) };
  }
  if (name === 'AMQPLAIN') {
    try {
      const table = decodeFieldTableEntries(bytes);
      const login = tableGet(table, 'LOGIN');
      const password = tableGet(table, 'PASSWORD');
      if (login?.type !== 'S') return undefined;
      return { user: text(login.value), password: password?.type === 'S' ? text(password.value) : undefined };
    } catch {
      return undefined; // not a field table
    }
  }
  return undefined;
}

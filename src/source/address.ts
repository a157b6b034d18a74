// Addresses every source shares: --listen (the proxy, the built-in broker), --upstream and
// replay --to as host/port pairs, and which addresses are this machine's only.

import { isIPv6 } from 'node:net';
import { AmqpSpyError } from '../errors.js';

/** Where the proxy accepts client connections. */
export interface ListenAddress {
  readonly host: string;
  /** 0 asks the OS for a free port */
  readonly port: number;
}

/** The broker the proxy connects to for each client. */
export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
  /** true for amqps:// */
  readonly tls: boolean;
}

export const DEFAULT_LISTEN_HOST = '127.0.0.1';
export const AMQP_PORT = 5672;
export const AMQPS_PORT = 5671;

/** Bad --listen / --upstream input; the message is one line naming the option and the input. */
export class AddressError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    /** the option as the user typed it, e.g. `--upstream` */
    readonly option: string,
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${option} ${JSON.stringify(input)}: ${reason}`);
    this.name = new.target.name;
  }
}

/** `host:port` with IPv6 literals in brackets, for messages and logs. */
/**
 * Whether an address (a socket's peer, or a host to listen on) is this machine only:
 * 127.0.0.0/8, ::1 (IPv4-mapped too), `localhost`. RabbitMQ's loopback_users accept the same.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1' || address === 'localhost';
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * `--listen`: `5673`, `host:5673`, `[::1]:5673`, or a host alone (then `defaultPort`).
 * The host defaults to 127.0.0.1 so the proxy is not exposed unless asked. Port 0 is allowed
 * (the OS picks one).
 */
export function parseListenAddress(input: string, defaultPort: number, option = '--listen'): ListenAddress {
  const text = input.trim();
  if (text === '') throw new AddressError(option, input, 'expected a port, host:port or [ipv6]:port');
  if (/^\d+$/.test(text)) return { host: DEFAULT_LISTEN_HOST, port: parsePort(option, input, text, 0) };
  const { host, port } = splitHostPort(option, input, text);
  return {
    host: host === '' ? DEFAULT_LISTEN_HOST : host,
    port: port === undefined ? defaultPort : parsePort(option, input, port, 0),
  };
}

/**
 * `--upstream`: `host:port`, `host`, `amqp://host[:port][/vhost]` or `amqps://...` (TLS).
 * Default ports are 5672, and 5671 for amqps. Credentials and vhost in a URL are accepted
 * and ignored: the proxy forwards the client's own handshake.
 */
export function parseUpstreamAddress(input: string, option = '--upstream'): UpstreamAddress {
  let text = input.trim();
  let tls = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'amqp' && name !== 'amqps') {
      throw new AddressError(option, input, `unsupported scheme "${name}://" (use amqp:// or amqps://)`);
    }
    tls = name === 'amqps';
    text = text.slice(scheme[0].length);
    const slash = text.search(/[/?#]/);
    if (slash >= 0) text = text.slice(0, slash);
    const at = text.lastIndexOf('@');
    if (at >= 0) text = text.slice(at + 1);
  }
  if (text === '') throw new AddressError(option, input, 'missing host');
  const { host, port } = splitHostPort(option, input, text);
  if (host === '') throw new AddressError(option, input, 'missing host');
  return {
    host,
    port: port === undefined ? (tls ? AMQPS_PORT : AMQP_PORT) : parsePort(option, input, port, 1),
    tls,
  };
}

function splitHostPort(option: string, input: string, text: string): { host: string; port: string | undefined } {
  let host: string;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new AddressError(option, input, 'missing "]" after IPv6 address');
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new AddressError(option, input, 'expected ":port" after "]"');
      port = rest.slice(1);
    }
    if (!isIPv6(host)) throw new AddressError(option, input, `"${host}" is not an IPv6 address`);
  } else if (isIPv6(text)) {
    // A bare IPv6 literal has no port: `::1` rather than `[::1]:5672`.
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      port = text.slice(colon + 1);
      if (host.includes(':')) throw new AddressError(option, input, 'put IPv6 addresses in brackets: [::1]:5672');
    } else {
      host = text;
    }
    if (host !== '' && !/^[A-Za-z0-9._-]+$/.test(host)) {
      throw new AddressError(option, input, `"${host}" is not a valid host name`);
    }
  }
  return { host, port };
}

function parsePort(option: string, input: string, text: string, min: 0 | 1): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= min && port <= 65535)) throw new AddressError(option, input, `port must be a number ${min}-65535`);
  return port;
}

// startBroker() and startProxy(): the live sessions of the CLI (src/session/), started from
// code, with their events kept for assertions instead of drawn on a terminal.

import { MAX_MESSAGE_SIZE_LIMIT } from '../broker/broker.js';
import type { DefinitionsJson } from '../broker/definitions.js';
import { AmqpSpyError } from '../errors.js';
import type { SpyEvent } from '../events.js';
import { startLiveSession, type LiveSession, type LiveSource } from '../session/live-session.js';
import { amqpUrl, upstreamLogin, type UrlLogin } from '../session/session-url.js';
import { DEFAULT_LISTEN_HOST, parseListenAddress, parseUpstreamAddress } from '../source/address.js';
import { VERSION } from '../version.js';
import { sessionFaults, type SessionFaults } from './session-faults.js';
import { DEFAULT_HISTORY_EVENTS, SessionEventStream, type EventPredicate, type SessionEvents, type WaitForOptions } from './session-events.js';

/** An option of startBroker / startProxy that is wrong: its name and why, on one line. */
export class ApiOptionError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`${option}: ${reason}`);
    this.name = 'ApiOptionError';
  }
}

export interface BrokerUserOption {
  readonly name: string;
  readonly password: string;
  /** the vhosts this user may open; absent: every vhost */
  readonly vhosts?: readonly string[];
}

/** What startBroker and startProxy share. */
interface SessionOptions {
  /** record every event to this file (the recording format; `openRecording` reads it back) */
  readonly record?: string;
  /** keep credentials in the recording (masked by default) */
  readonly recordSecrets?: boolean;
  /** show credentials in events (masked by default) */
  readonly showSecrets?: boolean;
  /** events kept for waitFor's look into the past (default 10,000; at most 64 MiB of them); 0 keeps none */
  readonly history?: number;
  /** one-line notices (a refused login, a listener that threw); default: stderr */
  readonly onNotice?: (line: string) => void;
}

export interface StartBrokerOptions extends SessionOptions {
  /** default 0: a free port the OS picks, so parallel test files never clash */
  readonly port?: number;
  /** default 127.0.0.1 */
  readonly host?: string;
  /** default guest/guest */
  readonly users?: readonly BrokerUserOption[];
  /** default ['/'] */
  readonly vhosts?: readonly string[];
  /** the largest message body accepted, bytes (default 128 MiB) */
  readonly maxMessageSize?: number;
  /** client connections allowed at once (default no limit) */
  readonly maxConnections?: number;
  /** ms a client may take to open its connection (default 10000; 0: no limit) */
  readonly handshakeTimeout?: number;
  /**
   * RabbitMQ's definitions export to load at start (vhosts, users, permissions, exchanges,
   * queues, bindings): its parsed JSON, or the path of a file. What the broker cannot apply is
   * told to onNotice, one line each; invalid definitions reject with DefinitionsError.
   */
  readonly definitions?: string | object;
  /**
   * Fault rules, as `--fault` takes them (docs/faults.md), acted out by the broker itself:
   * e.g. `'nack when method:basic.publish rk:orders.* times=1'`. A bad rule throws
   * FaultRuleError naming it, and none is armed.
   */
  readonly faults?: readonly string[];
}

export interface StartProxyOptions extends SessionOptions {
  /** the broker: `host:port`, `amqp://user:pass@host:port/vhost` or `amqps://...` (TLS) */
  readonly upstream: string;
  /** where clients connect: a port, `host:port` (default 127.0.0.1:0, a free port) */
  readonly listen?: string | number;
  /** a PEM CA file to trust for an amqps:// upstream */
  readonly upstreamCa?: string;
  /** accept any certificate from an amqps:// upstream */
  readonly insecure?: boolean;
  /** ms a client may take to send its protocol header (default 10000; 0: no limit) */
  readonly handshakeTimeout?: number;
  /**
   * Fault rules, as `--fault` takes them (docs/faults.md): e.g.
   * `'close-channel=404 when method:basic.publish exchange:orders times=1'`. A bad rule throws
   * FaultRuleError naming it, and none is armed. Given (even `[]`), rules armed later with
   * `session.faults.add` act on connections already open too; without it they act on
   * connections opened after the first one is added (until then the proxy relays bytes
   * without looking at them).
   */
  readonly faults?: readonly string[];
}

/** A running broker or proxy. */
export interface SpySession {
  /** what a client connects with: `amqp://guest:guest@127.0.0.1:PORT` (the first user's login and vhost) */
  readonly url: string;
  /** the port bound (a free one when 0 was asked for) */
  readonly port: number;
  readonly host: string;
  readonly events: SessionEvents;
  /**
   * The first event that matches a filter (the TUI's language: `method:basic.publish
   * rk:order.*`) or a predicate: from the kept history first, else the next to come.
   * Rejects with WaitForError (listing the nearest events) on timeout (default 3000 ms).
   */
  waitFor<E extends SpyEvent>(wanted: (event: SpyEvent) => event is E, options?: WaitForOptions): Promise<E>;
  waitFor(wanted: string | EventPredicate, options?: WaitForOptions): Promise<SpyEvent>;
  /**
   * Stops accepting, closes every connection (the broker sends connection.close 320
   * CONNECTION_FORCED, as RabbitMQ does when it stops), flushes the recording, and resolves
   * when the port is free. Later calls return the same promise.
   */
  close(): Promise<void>;
}

/** The proxy's session: a SpySession, and fault rules armed while it runs. */
export interface ProxySession extends SpySession {
  readonly faults: SessionFaults;
}

/** The built-in broker's session: a SpySession, its topology, and fault rules armed while it runs (as the proxy's). */
export interface BrokerSession extends SpySession {
  /** everything the broker holds now (of one vhost, if named) in RabbitMQ's definitions format */
  definitions(vhost?: string): DefinitionsJson;
  /** the same as startProxy's `session.faults`: the broker acts the rules and actions out itself */
  readonly faults: SessionFaults;
}

const BROKER_OPTIONS = [
  'port',
  'host',
  'users',
  'vhosts',
  'maxMessageSize',
  'maxConnections',
  'handshakeTimeout',
  'definitions',
  'faults',
  'record',
  'recordSecrets',
  'showSecrets',
  'history',
  'onNotice',
] as const satisfies readonly (keyof StartBrokerOptions)[];
const PROXY_OPTIONS = [
  'upstream',
  'faults',
  'listen',
  'upstreamCa',
  'insecure',
  'handshakeTimeout',
  'record',
  'recordSecrets',
  'showSecrets',
  'history',
  'onNotice',
] as const satisfies readonly (keyof StartProxyOptions)[];

/** Starts the built-in broker; rejects with an AmqpSpyError (ApiOptionError, ListenError, ...) when it cannot. */
export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerSession> {
  checkKnown('startBroker', options, BROKER_OPTIONS);
  const port = integerOption('port', options.port, 0, 65535) ?? 0;
  const host = stringOption('host', options.host) ?? DEFAULT_LISTEN_HOST;
  const users = usersOption(options.users);
  const vhosts = stringListOption('vhosts', options.vhosts);
  // definitions may add vhosts: the broker checks users against those itself
  for (const [i, user] of options.definitions === undefined ? (users ?? []).entries() : []) {
    const missing = user.vhosts?.find((v) => !(vhosts ?? ['/']).includes(v));
    if (missing !== undefined) throw new ApiOptionError(`users[${i}].vhosts`, `"${missing}" is not one of the broker's vhosts (add it to vhosts)`);
  }
  const maxMessageSize = integerOption('maxMessageSize', options.maxMessageSize, 1, MAX_MESSAGE_SIZE_LIMIT);
  const maxConnections = integerOption('maxConnections', options.maxConnections, 1, 0xffffffff);
  const handshakeTimeoutMs = integerOption('handshakeTimeout', options.handshakeTimeout, 0, 2_147_483_647);
  const definitions: unknown = options.definitions;
  if (definitions !== undefined && (definitions === null || (typeof definitions !== 'string' && typeof definitions !== 'object') || definitions === ''))
    throw new ApiOptionError('definitions', `expected the definitions' JSON (an object) or a file path, got ${describe(definitions)}`);
  const faultRules = stringListOption('faults', options.faults);
  const { parseFaultRule } = await import('../fault/fault-rule.js');
  const faults = (faultRules ?? []).map((rule, i) => parseFaultRule(rule, `faults[${i}]`));
  const source: LiveSource = {
    kind: 'standalone',
    ...(faults.length > 0 ? { faults } : {}),
    listen: { host, port },
    ...(users ? { users } : {}),
    ...(vhosts ? { vhosts } : {}),
    ...(maxMessageSize !== undefined ? { maxMessageSize } : {}),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
    ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
    ...(typeof definitions === 'string' ? { definitionsFile: definitions } : definitions !== undefined ? { definitions } : {}),
  };
  const { session, live } = await startSpySession(source, options, (address, standalone) => amqpUrl(address, standalone?.login ?? {}));
  const standalone = live.standalone!;
  const control = live.faultControl;
  if (control === undefined) throw new Error('a broker session has a fault control');
  return {
    ...session,
    definitions: (vhost) => standalone.definitions(vhost),
    faults: sessionFaults(() => control),
  };
}

/** Starts the proxy in front of `upstream`; rejects with an AmqpSpyError when it cannot. */
export async function startProxy(options: StartProxyOptions): Promise<ProxySession> {
  if (typeof options !== 'object' || options === null) throw new ApiOptionError('startProxy', 'takes options: { upstream: "host:port", ... }');
  checkKnown('startProxy', options, PROXY_OPTIONS);
  const upstreamText = stringOption('upstream', options.upstream);
  if (upstreamText === undefined)
    throw new ApiOptionError('upstream', 'required: the broker to proxy, e.g. "127.0.0.1:5672" or "amqp://guest:guest@host:5672"');
  const upstream = parseUpstreamAddress(upstreamText, 'upstream');
  const listenOption = options.listen;
  if (listenOption !== undefined && typeof listenOption !== 'string' && typeof listenOption !== 'number')
    throw new ApiOptionError('listen', `expected a port or "host:port", got ${describe(listenOption)}`);
  const listen = parseListenAddress(listenOption === undefined ? '0' : String(listenOption), 0, 'listen');
  const upstreamCaFile = stringOption('upstreamCa', options.upstreamCa);
  if (upstreamCaFile !== undefined && !upstream.tls) throw new ApiOptionError('upstreamCa', 'applies to an amqps:// upstream only');
  const handshakeTimeoutMs = integerOption('handshakeTimeout', options.handshakeTimeout, 0, 2_147_483_647);
  const faultRules = stringListOption('faults', options.faults);
  const { parseFaultRule } = await import('../fault/fault-rule.js');
  const faults = (faultRules ?? []).map((rule, i) => parseFaultRule(rule, `faults[${i}]`));
  const source: LiveSource = {
    kind: 'proxy',
    ...(faults.length > 0 ? { faults } : {}),
    ...(faultRules !== undefined ? { liveFaults: true } : {}),
    listen,
    upstream,
    ...(upstreamCaFile !== undefined ? { upstreamCaFile } : {}),
    insecure: booleanOption('insecure', options.insecure) ?? false,
    ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
  };
  const login = upstreamLogin(upstreamText);
  const { session, live } = await startSpySession(source, options, (address) => amqpUrl(address, login));
  const engine = live.faultEngine;
  if (engine === undefined) throw new Error('a proxy session has a fault engine');
  return { ...session, faults: sessionFaults(engine) };
}

async function startSpySession(
  source: LiveSource,
  options: SessionOptions,
  url: (address: { host: string; port: number }, standalone: { readonly login: UrlLogin } | undefined) => string,
): Promise<{ session: SpySession; live: LiveSession }> {
  const record = stringOption('record', options.record);
  const recordSecrets = booleanOption('recordSecrets', options.recordSecrets) ?? false;
  if (recordSecrets && record === undefined) throw new ApiOptionError('recordSecrets', 'applies with record only');
  const history = integerOption('history', options.history, 0, 10_000_000) ?? DEFAULT_HISTORY_EVENTS;
  if (options.onNotice !== undefined && typeof options.onNotice !== 'function') throw new ApiOptionError('onNotice', 'expected a function');
  const notice = options.onNotice ?? ((line: string) => process.stderr.write(`amqp-spy: ${line}\n`));
  const events = new SessionEventStream(history, (error) => notice(`an events listener threw: ${error instanceof Error ? error.message : String(error)}`));
  const session: LiveSession = await startLiveSession({
    source,
    ...(record !== undefined ? { record: { path: record, keepSecrets: recordSecrets, tool: `amqp-spy ${VERSION}` } } : {}),
    showSecrets: booleanOption('showSecrets', options.showSecrets) ?? false,
    sinks: [events.sink],
    sinkNames: ['the events'],
    notice,
  });
  const address = { host: session.address.address, port: session.address.port };
  let closing: Promise<void> | undefined;
  const spySession: SpySession = {
    url: url(address, session.standalone),
    port: address.port,
    host: address.host,
    events,
    waitFor: ((wanted: string | EventPredicate, waitOptions?: WaitForOptions) => events.waitFor(wanted, waitOptions)) as SpySession['waitFor'],
    close: () =>
      (closing ??= (async () => {
        try {
          await session.stop();
        } finally {
          events.close();
        }
        // the recording failed on the way: the test should hear it, not find a short file later
        if (session.recorder?.error) throw session.recorder.error;
      })()),
  };
  return { session: spySession, live: session };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** A misspelt option is an error, not a silently ignored one. */
function checkKnown(fn: string, options: object, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ApiOptionError(fn, `takes an options object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ApiOptionError(key, `unknown option of ${fn} (it takes ${known.join(', ')})`);
  }
}

function integerOption(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new ApiOptionError(name, `expected an integer from ${min} to ${max}, got ${describe(value)}`);
  return value;
}

function stringOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new ApiOptionError(name, `expected a non-empty string, got ${describe(value)}`);
  return value;
}

function booleanOption(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ApiOptionError(name, `expected true or false, got ${describe(value)}`);
  return value;
}

function stringListOption(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ApiOptionError(name, `expected an array of names, got ${describe(value)}`);
  return value.map((v, i) => stringOption(`${name}[${i}]`, v)!);
}

function usersOption(value: unknown): BrokerUserOption[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0)
    throw new ApiOptionError('users', `expected a non-empty array of { name, password, vhosts? }, got ${describe(value)}`);
  return value.map((user: unknown, i) => {
    if (typeof user !== 'object' || user === null) throw new ApiOptionError(`users[${i}]`, `expected { name, password, vhosts? }, got ${describe(user)}`);
    const u = user as Record<string, unknown>;
    checkKnown(`users[${i}]`, u, ['name', 'password', 'vhosts']);
    const name = stringOption(`users[${i}].name`, u['name']);
    if (name === undefined) throw new ApiOptionError(`users[${i}].name`, 'required');
    if (typeof u['password'] !== 'string') throw new ApiOptionError(`users[${i}].password`, `expected a string, got ${describe(u['password'])}`);
    const vhosts = stringListOption(`users[${i}].vhosts`, u['vhosts']);
    return { name, password: u['password'], ...(vhosts ? { vhosts } : {}) };
  });
}

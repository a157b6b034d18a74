// Wires one source to its sinks and owns the session's life: start, signals, stop.

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import type { BrokerUser } from '../broker/broker.js';
import { EventBus, sinkFailureNotices, type EventSink } from '../events.js';
import type { ListenAddress, UpstreamAddress } from '../source/address.js';
import { ProxyServer, type Endpoint } from '../proxy/proxy-server.js';
import { describeFsError } from '../source/errno.js';
import type { ByteObserver } from '../source/byte-observer.js';
import { anyOverloaded, createTapObserver, teeObservers, type OverloadableSink } from '../tap/tap-observer.js';
import { AmqpSpyError } from '../errors.js';
import { FaultEngine } from '../fault/fault-engine.js';
import type { FaultRule } from '../fault/fault-rule.js';

export interface ProxySessionOptions {
  readonly listen: ListenAddress;
  readonly upstream: UpstreamAddress;
  readonly upstreamCaFile?: string;
  readonly insecure?: boolean;
  /** see ProxyServerOptions.handshakeTimeoutMs */
  readonly handshakeTimeoutMs?: number;
  readonly showSecrets?: boolean;
  /** give frame events the unmasked bytes of credential frames as `secretRaw` (`--record-secrets`) */
  readonly keepSecrets?: boolean;
  /** every sink of the session, attached before the first connection is accepted */
  readonly sinks: readonly EventSink[];
  /** the sinks' names for notices when one fails on an event ("the recorder"), in order */
  readonly sinkNames?: readonly string[];
  /** a sink that may fall behind (the recorder): while it is overloaded, the sockets are not read */
  readonly recorder?: OverloadableSink;
  /** one-line notices for people (upstream unreachable, sink failures) */
  readonly notice: (line: string) => void;
  /** observers of the same bytes beside the session's taps (the terminal UI's thread) */
  readonly watchers?: readonly ByteObserver[];
  /** fault rules (--fault, --faults), checked; none: bytes pass unchanged */
  readonly faults?: readonly FaultRule[];
}

/** What every live source shares: the bus with its sinks, and taps fed by the source. */
function tapSource(
  options: {
    readonly sinks: readonly EventSink[];
    readonly sinkNames?: readonly string[];
    readonly notice: (line: string) => void;
    readonly showSecrets?: boolean;
    readonly keepSecrets?: boolean;
    readonly recorder?: OverloadableSink;
    readonly watchers?: readonly ByteObserver[];
  },
  hold: (held: boolean) => void,
): { bus: EventBus; observer: ByteObserver } {
  const bus = new EventBus(options.sinks, sinkFailureNotices(options.notice, options.sinkNames));
  const tapOptions = { showSecrets: options.showSecrets ?? false, keepSecrets: options.keepSecrets ?? false, keepUndecoded: true };
  const taps = createTapObserver(bus, tapOptions, options.recorder ? { sink: options.recorder, hold } : undefined, options.notice);
  return { bus, observer: teeObservers([taps, ...(options.watchers ?? [])]) };
}

export interface RunningSession {
  readonly address: Endpoint;
  /** events some sink failed on so far (each is missing from that sink only) */
  readonly sinkFailures: () => number;
  /** stop accepting, close every connection, emit their close events */
  stop(): Promise<void>;
  /** the fault engine, when rules are armed */
  readonly faults?: FaultEngine;
}

export async function startProxySession(options: ProxySessionOptions): Promise<RunningSession> {
  // the proxy exists by the time a connection reports data
  const { bus, observer } = tapSource(options, (held) => proxy.holdReading(held));
  const ca = options.upstreamCaFile !== undefined ? readCaFile(options.upstreamCaFile) : undefined;
  // with no rule armed the proxy gets no interposer: its forwarding path stays as it is
  const faults = options.faults !== undefined && options.faults.length > 0 ? new FaultEngine(options.faults, { notice: options.notice }) : undefined;
  const proxy = new ProxyServer({
    ...(faults ? { interposer: faults } : {}),
    listen: options.listen,
    upstream: options.upstream,
    tls: { ...(ca ? { ca } : {}), rejectUnauthorized: !options.insecure },
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
    onObserverError: (callback, error) => options.notice(`internal error in ${callback}: ${error instanceof Error ? error.message : String(error)}`),
    // an upstream failure is told (by the taps, at the close) only when it lost something
    observer,
  });
  const address = await proxy.listen();
  return {
    address,
    sinkFailures: () => bus.failures,
    stop: () => proxy.close(),
    ...(faults ? { faults } : {}),
  };
}

/** A CA file the user named; unreadable → one clear line. */
export class CaFileError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`--upstream-ca ${path}: ${reason}`);
    this.name = 'CaFileError';
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The file's bytes, once every certificate in it parses: a wrong file fails at start, not at the first connection. */
function readCaFile(path: string): Buffer {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(path);
  } catch (error) {
    throw new CaFileError(path, describeFsError(error));
  }
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    const der = pem[0] === 0x30;
    throw new CaFileError(
      path,
      `no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----"${der ? '; it looks like DER: convert it with openssl x509 -inform der -in FILE -out ca.pem' : ''})`,
    );
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new CaFileError(path, `certificate ${i + 1} of ${blocks.length} does not parse: ${(error as Error).message}`);
    }
  });
  return pem;
}

export interface StandaloneSessionOptions {
  readonly listen: ListenAddress;
  readonly users?: readonly BrokerUser[];
  readonly allowRemoteGuest?: boolean;
  readonly vhosts?: readonly string[];
  readonly maxMessageSize?: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly maxMemory?: number;
  readonly showSecrets?: boolean;
  readonly keepSecrets?: boolean;
  readonly sinks: readonly EventSink[];
  readonly sinkNames?: readonly string[];
  readonly notice: (line: string) => void;
  readonly watchers?: readonly ByteObserver[];
  /** a sink that may fall behind (the recorder): while it is overloaded, clients are not read */
  readonly recorder?: OverloadableSink;
  /** the headless output: while its reader is behind, clients are not read either */
  readonly output?: OverloadableSink;
}

export interface StandaloneSession extends RunningSession {
  /** the users by name (never their passwords) and the virtual hosts, for banners */
  readonly users: readonly string[];
  readonly vhosts: readonly string[];
}

/** The built-in broker, its traffic fed to the same taps as proxied traffic. */
export async function startStandaloneSession(options: StandaloneSessionOptions): Promise<StandaloneSession> {
  const { startBroker } = await import('../broker/broker-server.js');
  const slow = [options.recorder, options.output].filter((s) => s !== undefined);
  const recorder = slow.length > 1 ? anyOverloaded(slow) : slow[0];
  // the broker exists by the time a connection reports data
  const { bus, observer } = tapSource({ ...options, ...(recorder ? { recorder } : {}) }, (held) => broker.holdReading(held));
  const broker = await startBroker({
    listen: options.listen,
    ...(options.users && options.users.length > 0 ? { users: options.users } : {}),
    ...(options.allowRemoteGuest === true ? { allowRemoteGuest: true } : {}),
    ...(options.vhosts && options.vhosts.length > 0 ? { vhosts: options.vhosts } : {}),
    ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeout: options.handshakeTimeoutMs } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.maxMemory !== undefined ? { maxMemory: options.maxMemory } : {}),
    observer,
    onWarning: (message) => options.notice(`warning: ${message}`),
    onNotice: options.notice,
  });
  return {
    address: { address: broker.address.host, port: broker.address.port },
    sinkFailures: () => bus.failures,
    stop: () => broker.close(),
    users: [...broker.broker.users.keys()],
    vhosts: [...broker.broker.vhosts()].map((v) => v.name),
  };
}

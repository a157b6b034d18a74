// Wires one source (the proxy or the built-in broker) to its sinks and its recording, and owns
// the session's life: start, stop, what was lost. The CLI's live command and the package API
// (src/api/) both start sessions here, so they share one path.

import { readCertificatePair, type TlsListen } from '../source/tls-listener.js';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import type { Broker, BrokerUser } from '../broker/broker.js';
import type { DefinitionsJson } from '../broker/definitions.js';
import { EventBus, sinkFailureNotices, type EventSink } from '../events.js';
import type { RunningManagement } from '../management/management-server.js';
import { isLoopbackAddress, type ListenAddress, type UpstreamAddress } from '../source/address.js';
import { ProxyServer, type Endpoint } from '../proxy/proxy-server.js';
import { describeFsError } from '../source/errno.js';
import type { ByteObserver } from '../source/byte-observer.js';
import { anyOverloaded, createTapObserver, teeObservers, type OverloadableSink } from '../tap/tap-observer.js';
import { AmqpSpyError } from '../errors.js';
import { createSessionRecorder, type Recorder } from '../record/recorder.js';
import { describeBodies, selectForRecording, type RecordSelection } from '../record/record-selection.js';
import { formatHostPort } from '../source/address.js';
import { FaultEngine } from '../fault/fault-engine.js';
import type { FaultRule } from '../fault/fault-rule.js';
import type { FaultControl } from '../fault/fault-control.js';
import type { FaultStats } from '../fault/fault-set.js';
import type { UrlLogin } from './session-url.js';

export interface ProxySessionOptions {
  readonly listen: ListenAddress;
  readonly upstream: UpstreamAddress;
  /** more brokers after `upstream`; see ProxyServerOptions.alternates */
  readonly alternates?: readonly UpstreamAddress[];
  readonly balance?: 'failover' | 'round-robin';
  readonly upstreamCaFile?: string;
  /** a client certificate and its key (PEM files) for an upstream that requires one (mutual TLS) */
  readonly upstreamClientCertFiles?: { readonly cert: string; readonly key: string };
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
  /**
   * Rules may be armed while the session runs (--control): the fault engine follows every
   * connection from its start, even while no rule is armed, so a rule armed later acts on
   * connections already open.
   */
  readonly liveFaults?: boolean;
  /** also accept TLS clients (--listen-tls) */
  readonly tlsListen?: TlsListen;
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
  /** where TLS clients connect (--listen-tls), when they may */
  readonly tlsAddress?: Endpoint;
  /** events some sink failed on so far (each is missing from that sink only) */
  readonly sinkFailures: () => number;
  /** stop accepting, close every connection, emit their close events */
  stop(): Promise<void>;
  /** the rules' counts, when rules are armed (the proxy's fault engine, the broker's rules) */
  readonly faults?: FaultStats;
  /**
   * The live control of fault rules (--control, the TUI's fault panel, session.faults): the
   * proxy's fault engine, when it may act, or the built-in broker itself (always).
   */
  readonly faultControl?: FaultControl;
  /**
   * The fault engine, made now if there is none yet: it acts on connections opened from now on
   * (the package API's `session.faults` before its first rule). Proxy only.
   */
  readonly faultEngine?: () => FaultEngine;
}

export async function startProxySession(options: ProxySessionOptions): Promise<RunningSession> {
  // the proxy exists by the time a connection reports data
  const { bus, observer } = tapSource(options, (held) => proxy.holdReading(held));
  const ca = options.upstreamCaFile !== undefined ? readCaFile(options.upstreamCaFile) : undefined;
  const clientCert = options.upstreamClientCertFiles !== undefined ? readClientCertificate(options.upstreamClientCertFiles) : undefined;
  // with no rule armed the proxy gets no interposer: its forwarding path stays as it is
  let faults =
    (options.faults !== undefined && options.faults.length > 0) || options.liveFaults === true
      ? new FaultEngine(options.faults ?? [], { notice: options.notice })
      : undefined;
  const proxy = new ProxyServer({
    ...(faults ? { interposer: faults } : {}),
    listen: options.listen,
    upstream: options.upstream,
    ...(options.alternates ? { alternates: options.alternates, balance: options.balance ?? 'failover' } : {}),
    tls: { ...(ca ? { ca } : {}), ...(clientCert ?? {}), rejectUnauthorized: !options.insecure },
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
    onObserverError: (callback, error) => options.notice(`internal error in ${callback}: ${error instanceof Error ? error.message : String(error)}`),
    // an upstream failure is told (by the taps, at the close) only when it lost something
    observer,
  });
  const address = await proxy.listen();
  let tlsAddress: Endpoint | undefined;
  if (options.tlsListen) {
    try {
      tlsAddress = await proxy.listenTls(options.tlsListen, options.notice);
    } catch (error) {
      await proxy.close();
      throw error;
    }
  }
  return {
    address,
    ...(tlsAddress ? { tlsAddress } : {}),
    sinkFailures: () => bus.failures,
    stop: () => proxy.close(),
    ...(faults ? { faults, faultControl: faults } : {}),
    faultEngine: () => {
      if (faults === undefined) {
        faults = new FaultEngine([], { notice: options.notice });
        proxy.setInterposer(faults);
      }
      return faults;
    },
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

/** --upstream-cert and --upstream-key, read and checked as a pair before the proxy listens. */
function readClientCertificate(files: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  return readCertificatePair(files, ['--upstream-cert', '--upstream-key']);
}

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
  /** a RabbitMQ definitions file to load at start (--definitions) */
  readonly definitionsFile?: string;
  /** RabbitMQ definitions, as parsed JSON, to load at start (the package API's `definitions`) */
  readonly definitions?: unknown;
  /** serve the management HTTP API there (--management) */
  readonly management?: ListenAddress;
  /** also accept TLS clients (--listen-tls) */
  readonly tlsListen?: TlsListen;
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
  /** fault rules (--fault, --faults), checked; the broker acts them out itself */
  readonly faults?: readonly FaultRule[];
}

export interface StandaloneSession extends RunningSession {
  /** the users by name (never their passwords) and the virtual hosts, for banners */
  readonly users: readonly string[];
  readonly vhosts: readonly string[];
  /** where the management API listens, when asked for */
  readonly management?: { readonly host: string; readonly port: number };
  /** what a client logs in with: the first user given, else guest if guest/guest logs in; the vhost it opens */
  readonly login: UrlLogin;
  /** everything the broker holds now, in RabbitMQ's definitions format */
  definitions(vhost?: string): DefinitionsJson;
}

/** The built-in broker, its traffic fed to the same taps as proxied traffic. */
export async function startStandaloneSession(options: StandaloneSessionOptions): Promise<StandaloneSession> {
  const { startBroker } = await import('../broker/broker-server.js');
  // read before anything listens: a bad file fails the start with one line
  const definitions = options.definitionsFile !== undefined ? await readDefinitionsFile(options.definitionsFile) : options.definitions;
  const slow = [options.recorder, options.output].filter((s) => s !== undefined);
  const recorder = slow.length > 1 ? anyOverloaded(slow) : slow[0];
  // the broker exists by the time a connection reports data
  const { bus, observer } = tapSource({ ...options, ...(recorder ? { recorder } : {}) }, (held) => broker.holdReading(held));
  const broker = await startBroker({
    listen: options.listen,
    ...(options.tlsListen ? { tlsListen: options.tlsListen } : {}),
    ...(options.users && options.users.length > 0 ? { users: options.users } : {}),
    ...(options.allowRemoteGuest === true ? { allowRemoteGuest: true } : {}),
    ...(options.vhosts && options.vhosts.length > 0 ? { vhosts: options.vhosts } : {}),
    ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeout: options.handshakeTimeoutMs } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.maxMemory !== undefined ? { maxMemory: options.maxMemory } : {}),
    ...(definitions !== undefined ? { definitions, definitionsSource: options.definitionsFile ?? 'definitions' } : {}),
    ...(options.faults !== undefined && options.faults.length > 0 ? { faults: options.faults } : {}),
    observer,
    onWarning: (message) => options.notice(`warning: ${message}`),
    onNotice: options.notice,
  });
  let management: RunningManagement | undefined;
  if (options.management !== undefined) {
    const { startManagement } = await import('../management/management-server.js');
    try {
      management = await startManagement({ listen: options.management, broker, notice: options.notice });
    } catch (error) {
      await broker.close();
      throw error;
    }
    if (!isLoopbackAddress(options.management.host))
      options.notice(`warning: the management API listens on ${options.management.host}: its basic auth crosses the network in clear (no TLS)`);
  }
  return {
    address: { address: broker.address.host, port: broker.address.port },
    ...(broker.tlsAddress ? { tlsAddress: { address: broker.tlsAddress.host, port: broker.tlsAddress.port } } : {}),
    sinkFailures: () => bus.failures,
    stop: async () => {
      await management?.close();
      await broker.close();
    },
    users: [...broker.broker.users.keys()],
    vhosts: [...broker.broker.vhosts()].map((v) => v.name),
    ...(management !== undefined ? { management: management.address } : {}),
    login: brokerLogin(broker.broker, options.users),
    faults: broker.broker.faults,
    faultControl: broker,
    definitions: (vhost) => broker.broker.definitions(vhost),
  };
}

/**
 * The login a URL for the built-in broker carries: the first user given (its password is known),
 * else guest if guest/guest logs in (definitions may replace it with users known by hash only:
 * then no login), into that user's first vhost, else `/`, else the broker's first.
 */
function brokerLogin(broker: Broker, users: readonly BrokerUser[] | undefined): UrlLogin {
  const first = users?.[0];
  const user = first ?? (broker.authenticate('guest', 'guest') ? { name: 'guest', password: 'guest', vhosts: undefined } : undefined);
  const names = [...broker.vhosts()].map((v) => v.name);
  const vhost = user?.vhosts?.[0] ?? (names.includes('/') ? '/' : names[0]);
  return { ...(user ? { name: user.name, password: user.password } : {}), ...(vhost !== undefined ? { vhost } : {}) };
}

/** The parsed JSON of a definitions file; unreadable or not JSON → DefinitionsError (exit 2). */
async function readDefinitionsFile(path: string): Promise<unknown> {
  const { DefinitionsError } = await import('../broker/definitions.js');
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new DefinitionsError(`--definitions ${path}`, 'the file', describeFsError(error));
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DefinitionsError(path, 'the file', `is not JSON (${(error as Error).message})`);
  }
}

/** What a live session's sinks and recording share, whatever its source. */
export interface LiveSessionOptions {
  readonly source: LiveSource;
  /** record every event to this file, FIFO or `-` (stdout) */
  readonly record?: { readonly path: string; readonly keepSecrets: boolean; readonly tool: string } & RecordSelection;
  readonly showSecrets?: boolean;
  readonly sinks: readonly EventSink[];
  readonly sinkNames?: readonly string[];
  readonly notice: (line: string) => void;
  readonly watchers?: readonly ByteObserver[];
  /** the headless output of a standalone session: while its reader is behind, clients are not read */
  readonly output?: OverloadableSink;
}

type SessionShared = 'sinks' | 'sinkNames' | 'notice' | 'watchers' | 'recorder' | 'output' | 'showSecrets' | 'keepSecrets';
export type LiveSource =
  | ({ readonly kind: 'proxy' } & Omit<ProxySessionOptions, SessionShared>)
  | ({ readonly kind: 'standalone' } & Omit<StandaloneSessionOptions, SessionShared>);

export interface LiveSession {
  /** where clients connect (the port bound when 0 was asked for) */
  readonly address: Endpoint;
  /** where TLS clients connect (--listen-tls), when they may */
  readonly tlsAddress?: Endpoint;
  /** the built-in broker's users (names only), vhosts, and where its management API listens; absent for the proxy */
  readonly standalone?: Pick<StandaloneSession, 'users' | 'vhosts' | 'management' | 'login' | 'definitions'>;
  readonly recorder?: Recorder;
  /** the rules' counts, when rules are armed */
  readonly faults?: FaultStats;
  /** see RunningSession.faultControl */
  readonly faultControl?: FaultControl;
  /** see RunningSession.faultEngine (proxy) */
  readonly faultEngine?: () => FaultEngine;
  /** stops accepting, closes every connection, then flushes and closes the recording; once */
  stop(): Promise<void>;
  /** what the session failed to keep, as one line, or undefined when nothing was lost */
  lossReport(): string | undefined;
}

/** `upstream` as the recording's header names it: `host:port`, or `amqps://host:port`. */
export function describeUpstream(upstream: UpstreamAddress): string {
  return `${upstream.tls ? 'amqps://' : ''}${formatHostPort(upstream.host, upstream.port)}`;
}

/**
 * Starts the source with every sink attached, then opens the recording: a session that cannot
 * listen leaves an existing recording file as it was.
 */
export async function startLiveSession(options: LiveSessionOptions): Promise<LiveSession> {
  const { source, notice } = options;
  let address: Endpoint | undefined;
  const recorder = options.record
    ? createSessionRecorder({
        path: options.record.path,
        keepSecrets: options.record.keepSecrets,
        mode: source.kind,
        tool: options.record.tool,
        notice,
        listen: () => (address ? formatHostPort(address.address, address.port) : formatHostPort(source.listen.host, source.listen.port)),
        ...(source.kind === 'proxy' ? { upstream: [source.upstream, ...(source.alternates ?? [])].map(describeUpstream).join(',') } : {}),
        ...(options.record.filter !== undefined ? { recordFilter: options.record.filter.source } : {}),
        ...(options.record.bodyHead !== undefined ? { bodies: describeBodies(options.record.bodyHead) } : {}),
      })
    : undefined;
  // with --record-filter or --record-bodies, what the recorder gets is chosen first
  const selecting = options.record !== undefined && (options.record.filter !== undefined || options.record.bodyHead !== undefined);
  const recordSink = recorder && selecting ? selectForRecording(options.record!, recorder.sink) : recorder?.sink;
  const sinks = [...options.sinks, ...(recordSink ? [recordSink] : [])];
  const shared = {
    sinks,
    sinkNames: [...(options.sinkNames ?? []), ...(recorder ? ['the recorder'] : [])],
    notice,
    showSecrets: options.showSecrets ?? false,
    keepSecrets: options.record?.keepSecrets ?? false,
    ...(options.watchers ? { watchers: options.watchers } : {}),
    ...(recorder ? { recorder } : {}),
  };
  let standalone: StandaloneSession | undefined;
  const session =
    source.kind === 'proxy'
      ? await startProxySession({ ...source, ...shared })
      : (standalone = await startStandaloneSession({ ...source, ...shared, ...(options.output ? { output: options.output } : {}) }));
  address = session.address;
  if (recorder) {
    try {
      recorder.open();
    } catch (error) {
      await session.stop();
      throw error;
    }
  }
  let stopping: Promise<void> | undefined;
  return {
    address,
    ...(session.tlsAddress ? { tlsAddress: session.tlsAddress } : {}),
    ...(standalone
      ? {
          standalone: {
            users: standalone.users,
            vhosts: standalone.vhosts,
            ...(standalone.management ? { management: standalone.management } : {}),
            login: standalone.login,
            definitions: standalone.definitions,
          },
        }
      : {}),
    ...(recorder ? { recorder } : {}),
    ...(session.faults ? { faults: session.faults } : {}),
    ...(session.faultControl ? { faultControl: session.faultControl } : {}),
    ...(session.faultEngine ? { faultEngine: session.faultEngine } : {}),
    // every forwarded frame is in the recording before it closes
    stop: () =>
      (stopping ??= (async () => {
        await session.stop();
        await recorder?.close();
      })()),
    lossReport: () => lossReport(session.sinkFailures(), recorder),
  };
}

/** What the session failed to keep, as one line, or undefined when nothing was lost. */
function lossReport(sinkFailures: number, recorder: Recorder | undefined): string | undefined {
  const parts: string[] = [];
  if (recorder?.error) parts.push(`${recorder.error.message}: ${recorder.eventsLost} event${recorder.eventsLost === 1 ? ' was' : 's were'} not recorded`);
  if (sinkFailures > 0) parts.push(`${sinkFailures} event${sinkFailures === 1 ? '' : 's'} failed to reach every view or the recording (see the notices above)`);
  return parts.length > 0 ? `incomplete: ${parts.join('; ')}` : undefined;
}

// The built-in broker's shared state: users, virtual hosts, limits and the resource alarm.
// Connections (broker-connection.ts) look things up here; the TCP listener is broker-server.ts.

import type { FaultRule } from '../fault/fault-rule.js';
import { FaultSet } from '../fault/fault-set.js';
import type { TlsListen } from '../source/tls-listener.js';
import type { ContentProperties } from '../decoder/types.js';
import type { ByteObserver } from '../source/byte-observer.js';
import { AmqpSpyError } from '../errors.js';
import { applyDefinitions, exportDefinitions, parseDefinitions, type DefinitionsJson } from './definitions.js';
import { MemoryMonitor } from './memory-monitor.js';
import { checkPasswordHash, type HashingAlgorithm } from './password-hash.js';
import { VirtualHost } from './vhost.js';

export interface BrokerUser {
  readonly name: string;
  readonly password: string;
  /** the vhosts it may open; absent: every vhost */
  readonly vhosts?: readonly string[];
  /** RabbitMQ's user tags; absent: `administrator` (see UserEntry.tags) */
  readonly tags?: readonly string[];
}

export interface BrokerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** also accept TLS clients here (--listen-tls) */
  readonly tlsListen?: TlsListen;
  /** default guest/guest */
  readonly users?: readonly BrokerUser[];
  /**
   * let `guest` log in from other hosts than this one; RabbitMQ's loopback_users refuses it
   * (default false)
   */
  readonly allowRemoteGuest?: boolean;
  /** default ['/'] */
  readonly vhosts?: readonly string[];
  /** largest message body accepted (bytes); default 128 MiB, RabbitMQ's default */
  readonly maxMessageSize?: number;
  /** heartbeat proposed in connection.tune (seconds); default 60 */
  readonly heartbeat?: number;
  /** frame-max proposed in connection.tune (bytes); default 131072 */
  readonly frameMax?: number;
  /** channel-max proposed in connection.tune; default 2047 */
  readonly channelMax?: number;
  /**
   * how long a client may take from connecting to connection.open (ms) before its socket is
   * closed, RabbitMQ's handshake_timeout; 0: no limit; default 10000
   */
  readonly handshakeTimeout?: number;
  /**
   * client sockets beyond which connection.open is refused (530, RabbitMQ's connection_max);
   * default no limit
   */
  readonly maxConnections?: number;
  /**
   * V8 heap + ArrayBuffer memory (bytes) above which publishers are blocked, RabbitMQ's
   * vm_memory_high_watermark; default 0.4 × RAM (or the cgroup limit). The heap above 0.6 of
   * V8's old generation limit blocks them too, whatever this says.
   */
  readonly maxMemory?: number;
  /**
   * RabbitMQ's definitions export (the parsed JSON of `rabbitmqctl export_definitions`): its
   * vhosts, users, permissions, exchanges, queues and bindings are loaded at start; what the
   * broker does not support is listed in `Broker.definitionsReport`. Invalid: DefinitionsError.
   * Users and vhosts in it replace the default guest and `/` unless `users`/`vhosts` are given too.
   */
  readonly definitions?: unknown;
  /** names the definitions in error lines and reports (a file path); default `definitions` */
  readonly definitionsSource?: string;
  /**
   * Fault rules (docs/faults.md) the broker acts out itself, checked (parseFaultRule); more
   * may be armed and disarmed while it runs (`Broker.faults`)
   */
  readonly faults?: readonly FaultRule[];
  /** sees every byte received and sent, like the proxy's observer */
  readonly observer?: ByteObserver;
  /** ms clock for TTLs (tests may pass a fake one); default Date.now */
  readonly now?: () => number;
  /** one-line warnings (default guest account on a public interface); default stderr */
  readonly onWarning?: (message: string) => void;
  /**
   * One-line notices about clients the broker turned away (a refused login, an unknown vhost):
   * the client hears only the reply text, the person running the broker hears this.
   */
  readonly onNotice?: (message: string) => void;
}

export const DEFAULT_USER: BrokerUser = { name: 'guest', password: 'guest' };
export const DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024;
export const DEFAULT_HEARTBEAT = 60;
export const DEFAULT_FRAME_MAX = 131072;
export const DEFAULT_CHANNEL_MAX = 2047;
/** RabbitMQ's default handshake_timeout. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** The longest timer Node can arm (ms). */
const MAX_TIMER_MS = 2_147_483_647;
/** RabbitMQ's minimum frame size; tune-ok below it is refused. */
export const FRAME_MIN_SIZE = 4096;
/** RabbitMQ's largest accepted max message size (512 MiB). */
export const MAX_MESSAGE_SIZE_LIMIT = 512 * 1024 * 1024;

/** A channel consuming direct reply-to replies. */
export interface ReplyTarget {
  deliverReply(routingKey: string, properties: ContentProperties, body: Uint8Array): void;
}

/** Whatever a connection must do when the memory alarm changes. */
export interface AlarmListener {
  memoryAlarm(on: boolean): void;
}

/** Invalid broker options (one line, names the option). */
export class BrokerOptionError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
    this.name = new.target.name;
  }
}

/**
 * `--user name:password[@vhost,vhost2]`: the name may not be empty; the password may contain
 * ':'; the vhosts follow the last '@' (`*` or none: every vhost), so a password containing '@'
 * is written with a vhost list after it (`ann:p@ss@*`).
 */
export function parseUserOption(text: string): BrokerUser {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new BrokerOptionError('--user', `expected name:password[@vhost,...], got ${JSON.stringify(text)}`);
  const name = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  const at = rest.lastIndexOf('@');
  if (at < 0) return { name, password: rest };
  const list = rest.slice(at + 1);
  const password = rest.slice(0, at);
  if (list === '*') return { name, password };
  const vhosts = list.split(',');
  if (vhosts.some((v) => v === ''))
    throw new BrokerOptionError('--user', `an empty vhost name in ${JSON.stringify(text)} (the vhosts follow the last '@', separated by ',')`);
  return { name, password, vhosts };
}

function checkInteger(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BrokerOptionError(option, `expected an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export interface UserEntry {
  /** the plain password (users given as options) */
  readonly password?: string;
  /** a stored hash instead (users from definitions): RabbitMQ's `password_hash`, decoded */
  readonly hash?: { readonly algorithm: HashingAlgorithm; readonly bytes: Uint8Array; readonly text: string };
  /** undefined: every vhost */
  readonly vhosts: ReadonlySet<string> | undefined;
  /**
   * RabbitMQ's tags. Users given as options have no tag model on the command line, so they
   * count as `administrator` (as RabbitMQ's guest); users from definitions keep theirs.
   */
  readonly tags: readonly string[];
}

export class Broker {
  readonly users: ReadonlyMap<string, UserEntry>;
  /** what the definitions asked for that the broker did not apply, one line each */
  readonly definitionsReport: readonly string[];
  private readonly userMap: Map<string, UserEntry>;
  private readonly vhostDescriptions = new Map<string, string>();
  readonly allowRemoteGuest: boolean;
  readonly maxMessageSize: number;
  readonly heartbeat: number;
  readonly frameMax: number;
  readonly channelMax: number;
  /** ms from accept to connection.open; 0: no limit */
  readonly handshakeTimeout: number;
  /** client sockets allowed at once (Infinity: no limit) */
  readonly maxConnections: number;
  readonly now: () => number;
  /** told about faults caught outside any connection (timers) */
  onInternalError: ((e: unknown) => void) | undefined = undefined;
  /** told about clients turned away (see BrokerOptions.onNotice) */
  onNotice: ((message: string) => void) | undefined = undefined;
  /** the fault rules armed on the broker (none: connections take their usual paths) */
  readonly faults: FaultSet;
  /** direct reply-to: `amq.rabbitmq.reply-to.<key>` → the channel consuming its replies */
  readonly replyTargets = new Map<string, ReplyTarget>();
  private readonly memory: MemoryMonitor;
  private readonly vhostMap = new Map<string, VirtualHost>();
  private readonly listeners = new Set<AlarmListener>();
  /** client sockets open now, handshake or not (what RabbitMQ's connection_max counts) */
  private sockets = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = Infinity;
  private expiryCheckScheduled = false;

  constructor(options: Omit<BrokerOptions, 'listen' | 'observer'> = {}) {
    this.faults = new FaultSet(options.faults ?? []);
    const source = options.definitionsSource ?? 'definitions';
    const defs = options.definitions === undefined ? undefined : parseDefinitions(options.definitions, source);
    // as RabbitMQ: definitions loaded at boot replace the default user and vhost
    const users = options.users ?? (defs !== undefined && defs.users.length > 0 ? [] : [DEFAULT_USER]);
    const vhostNames = [...(options.vhosts ?? (defs !== undefined && defs.vhosts.length > 0 ? [] : ['/']))];
    for (const v of defs?.vhosts ?? []) if (!vhostNames.includes(v.name)) vhostNames.push(v.name);
    const map = new Map<string, UserEntry>();
    for (const u of users) {
      if (u.name === '') throw new BrokerOptionError('--user', 'the user name is empty');
      for (const v of u.vhosts ?? []) {
        if (!vhostNames.includes(v))
          throw new BrokerOptionError('--user', `user '${u.name}' is given vhost '${v}', which the broker does not have (add --vhost ${v})`);
      }
      map.set(u.name, { password: u.password, vhosts: u.vhosts === undefined ? undefined : new Set(u.vhosts), tags: u.tags ?? ['administrator'] });
    }
    this.userMap = map;
    this.users = map;
    this.allowRemoteGuest = options.allowRemoteGuest ?? false;
    this.maxMessageSize = checkInteger('--max-message-size', options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, 1, MAX_MESSAGE_SIZE_LIMIT);
    this.heartbeat = checkInteger('heartbeat', options.heartbeat ?? DEFAULT_HEARTBEAT, 0, 0xffff);
    this.frameMax = checkInteger('frameMax', options.frameMax ?? DEFAULT_FRAME_MAX, FRAME_MIN_SIZE, 0xffffffff);
    this.channelMax = checkInteger('channelMax', options.channelMax ?? DEFAULT_CHANNEL_MAX, 1, 0xffff);
    this.handshakeTimeout = checkInteger('--handshake-timeout', options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, 0, MAX_TIMER_MS);
    this.maxConnections = options.maxConnections === undefined ? Infinity : checkInteger('--max-connections', options.maxConnections, 1, 0xffffffff);
    this.memory = new MemoryMonitor(options.maxMemory === undefined ? undefined : checkInteger('--max-memory', options.maxMemory, 1, Number.MAX_SAFE_INTEGER));
    this.now = options.now ?? Date.now;
    for (const name of vhostNames) {
      this.vhostMap.set(name, new VirtualHost({ name, now: this.now }));
    }
    this.definitionsReport = defs === undefined ? [] : applyDefinitions(this, defs, source);
  }

  vhost(name: string): VirtualHost | undefined {
    return this.vhostMap.get(name);
  }

  /** Adds a virtual host (definitions, the management API); an existing one is kept as it is. */
  addVhost(name: string, description?: string): VirtualHost {
    let v = this.vhostMap.get(name);
    if (v === undefined) {
      v = new VirtualHost({ name, now: this.now });
      this.vhostMap.set(name, v);
    }
    if (description !== undefined) this.vhostDescriptions.set(name, description);
    return v;
  }

  vhostDescription(name: string): string {
    return this.vhostDescriptions.get(name) ?? (name === '/' ? 'Default virtual host' : '');
  }

  /** Adds or replaces a user (definitions). */
  setUser(name: string, entry: UserEntry): void {
    this.userMap.set(name, entry);
  }

  /** Loads more definitions into the running broker (POST /api/definitions); returns the report lines. */
  importDefinitions(json: unknown, source = 'definitions', vhost?: string): string[] {
    return applyDefinitions(this, parseDefinitions(json, source, vhost), source);
  }

  /** Everything the broker holds in RabbitMQ's definitions format (what `rabbitmqctl import_definitions` reads). */
  definitions(vhost?: string): DefinitionsJson {
    return exportDefinitions(this, vhost);
  }

  vhosts(): IterableIterator<VirtualHost> {
    return this.vhostMap.values();
  }

  // ---- connection limit ----

  /** A client socket was accepted (BrokerConnection's constructor). */
  socketOpened(): void {
    this.sockets++;
  }

  socketClosed(): void {
    this.sockets--;
  }

  /** RabbitMQ counts every accepted socket, this one included, and refuses when over the limit. */
  get overConnectionLimit(): boolean {
    return this.sockets > this.maxConnections;
  }

  /** PLAIN / AMQPLAIN credential check. */
  authenticate(user: string, password: string): boolean {
    return this.refusal(user, password) === undefined;
  }

  /** Why a login is refused, for people ("no user 'bob'"), or undefined when it is let in. */
  refusal(user: string, password: string): string | undefined {
    const expected = this.users.get(user);
    if (expected === undefined) return `no user '${user}' on this broker`;
    if (expected.password !== undefined) return expected.password === password ? undefined : `wrong password for user '${user}'`;
    if (expected.hash === undefined || expected.hash.bytes.length === 0) return `user '${user}' has no password (an empty password_hash)`;
    return checkPasswordHash(expected.hash.algorithm, expected.hash.bytes, password) ? undefined : `wrong password for user '${user}'`;
  }

  /** `guest`, `ann, bob`: the users by name (never their passwords), for notices and banners. */
  get userNames(): string {
    return [...this.users.keys()].join(', ');
  }

  /** `/`, `/, dev`: the virtual hosts by name. */
  get vhostNames(): string {
    return [...this.vhostMap.keys()].join(', ');
  }

  /** Whether an authenticated user may open this (existing) vhost. */
  mayOpen(user: string, vhost: string): boolean {
    const vhosts = this.users.get(user)?.vhosts;
    return vhosts === undefined || vhosts.has(vhost);
  }

  // ---- memory alarm ----

  get memoryAlarm(): boolean {
    return this.memory.on;
  }

  /** heap + ArrayBuffer memory allowed (bytes) */
  get maxMemory(): number {
    return this.memory.maxMemory;
  }

  /** the V8 heap allowed: a fraction of its old generation limit */
  get maxHeap(): number {
    return this.memory.maxHeap;
  }

  /** Changes --max-memory and re-checks at once. */
  setMaxMemory(bytes: number): void {
    this.memory.maxMemory = checkInteger('--max-memory', bytes, 1, Number.MAX_SAFE_INTEGER);
    this.checkMemory();
  }

  addAlarmListener(l: AlarmListener): void {
    this.listeners.add(l);
  }

  removeAlarmListener(l: AlarmListener): void {
    this.listeners.delete(l);
  }

  /** Bytes arrived from a client (cheap: a measurement every so many bytes); returns the alarm state. */
  noteBytesIn(n: number): boolean {
    const was = this.memory.on;
    const on = this.memory.noteBytes(n);
    if (on !== was) this.alarmChanged(on);
    return on;
  }

  /** Measures memory now; returns the alarm state. */
  checkMemory(): boolean {
    const was = this.memory.on;
    const on = this.memory.check();
    if (on !== was) this.alarmChanged(on);
    return on;
  }

  private alarmChanged(on: boolean): void {
    for (const l of [...this.listeners]) l.memoryAlarm(on);
  }

  // ---- TTL timers ----

  /** Asks for the expiry timer to be re-planned after the current turn (cheap to call often). */
  scheduleExpiry(): void {
    if (this.expiryCheckScheduled) return;
    this.expiryCheckScheduled = true;
    setImmediate(() => {
      this.expiryCheckScheduled = false;
      this.planExpiry();
    });
  }

  private planExpiry(): void {
    let next = Infinity;
    for (const v of this.vhostMap.values()) {
      const t = v.nextExpiry();
      if (t < next) next = t;
    }
    if (next === this.expiryAt && this.expiryTimer !== undefined) return;
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAt = next;
    if (next === Infinity) return;
    const delay = Math.max(0, Math.min(next - this.now(), 2_147_000_000));
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.expiryAt = Infinity;
      const now = this.now();
      try {
        for (const v of this.vhostMap.values()) v.expire(now);
      } catch (e) {
        // a fault in one expiry must not stop the broker (or its timers)
        this.onInternalError?.(e);
      }
      this.planExpiry();
    }, delay);
    this.expiryTimer.unref();
  }

  /** Stops timers (the server calls it on close). */
  dispose(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.listeners.clear();
  }
}

// The proxy's socket layer: accepts AMQP clients, opens one upstream connection for each,
// and forwards bytes unchanged in both directions while reporting them to an observer.
// No decoding here: the decoder reads the same chunks through ByteObserver.onData.

import net from 'node:net';
import tls from 'node:tls';
import { formatHostPort, type ListenAddress, type UpstreamAddress } from '../source/address.js';

import type { ConnectionInfo, Direction, Endpoint, FaultMark, SocketEnd } from '../events.js';
import type { ByteObserver } from '../source/byte-observer.js';
import type { InterposedConnection, InterposedSide, Interposer, RelayControl } from './interposer.js';
import { describeSocketError } from '../source/errno.js';
import { ListenError } from '../source/listen-error.js';
import { connectTls, type UpstreamTlsOptions } from '../source/tls-connect.js';
import { listenTls, type TlsListen } from '../source/tls-listener.js';

export type { Direction, Endpoint, SocketEnd };
/** id: 1, 2, 3, ... in accept order; client as seen by the proxy; server: the upstream */
export type ProxyConnectionInfo = ConnectionInfo;

export interface ProxyServerOptions {
  readonly listen: ListenAddress;
  readonly upstream: UpstreamAddress;
  /**
   * More brokers after `upstream` (`--upstream a,b,c`): a connection whose broker cannot be
   * reached (refused, unreachable, timed out) goes on to the next, in order, before the client
   * is told anything; it is given up only when none can be reached.
   */
  readonly alternates?: readonly UpstreamAddress[];
  /** failover (default): each connection tries the brokers in order; round-robin: each starts at the next one */
  readonly balance?: 'failover' | 'round-robin';
  /** used when upstream.tls is true */
  readonly tls?: UpstreamTlsOptions;
  readonly observer?: ByteObserver;
  /**
   * Sits in the forwarding path of the connections it takes (the fault engine, while a rule
   * is armed); without it bytes are relayed unchanged, at no cost.
   */
  readonly interposer?: Interposer;
  /** give up connecting upstream after this long (default 10 s) */
  readonly connectTimeoutMs?: number;
  /**
   * Once the upstream is connected, the client must send at least a protocol header's 8 bytes
   * within this long, or both sides are closed: a client that sends nothing must not hold an
   * upstream connection (default 10 s, RabbitMQ's handshake_timeout; 0: no limit). The rest
   * of the handshake is the broker's to time, as it does.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * Told about the first exception thrown by each observer callback (later ones are only
   * counted). Default: one line on stderr.
   */
  readonly onObserverError?: (callback: keyof ByteObserver, error: unknown) => void;
}

// Per-socket buffer limit: write() returns false above it and the source is paused until
// 'drain'. Measured: 16 KiB to 1 MiB made no difference to throughput on loopback; 256 KiB
// keeps a backpressured connection to roughly 1 MiB in the proxy.
const SOCKET_HIGH_WATER_MARK = 256 * 1024;
// After one side failed or the proxy is closing, how long the other side may take to close.
const LINGER_MS = 2000;

/**
 * A transparent TCP relay between AMQP clients and one upstream broker.
 *
 *   const proxy = new ProxyServer({ listen, upstream, observer });
 *   const { port } = await proxy.listen();
 *   ...
 *   await proxy.close();
 */
export class ProxyServer {
  readonly #options: ProxyServerOptions;
  readonly #server: net.Server;
  #tlsServer: tls.Server | undefined;
  readonly #relays = new Map<number, Relay>();
  readonly #reportedObserverErrors = new Set<string>();
  #nextId = 1;
  /** where the next connection starts in the upstream list (round-robin) */
  #nextUpstream = 0;
  #closing: Promise<void> | undefined;
  #allClosed: (() => void) | undefined;
  #observerErrors = 0;
  #held = false;
  #interposer: Interposer | undefined;
  readonly #hooks: RelayHooks = {
    closed: (id) => {
      this.#relays.delete(id);
      if (this.#relays.size === 0 && this.#allClosed) this.#allClosed();
    },
    observerFailed: (callback, error) => this.#observerFailed(callback, error),
    slabs: new SlabBudget(SLAB_BUDGET),
    interposer: () => this.#interposer,
  };

  constructor(options: ProxyServerOptions) {
    this.#options = options;
    this.#interposer = options.interposer;
    this.#server = net.createServer({
      allowHalfOpen: true,
      // The client is not read until its upstream is connected: its early bytes wait in the
      // kernel, bounded by the socket buffer, and are forwarded in order afterwards.
      pauseOnConnect: true,
      noDelay: true,
      highWaterMark: SOCKET_HIGH_WATER_MARK,
    });
    this.#server.on('connection', (socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with the bound address (the real port when 0 was asked). */
  listen(): Promise<Endpoint> {
    const { host, port } = this.#options.listen;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.#server.off('listening', onListening);
        reject(ListenError.fromErrno(host, port, err));
      };
      const onListening = (): void => {
        this.#server.off('error', onError);
        this.#server.on('error', () => {}); // accept errors (EMFILE...) are per connection
        const bound = this.#server.address() as net.AddressInfo;
        resolve({ address: bound.address, port: bound.port });
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      this.#server.listen({ host, port, exclusive: true });
    });
  }

  /**
   * Also accepts TLS clients (`--listen-tls`): each is relayed like a plain one once its
   * handshake is done, so the traffic is decoded whatever the upstream leg is. `notice` hears
   * of failed handshakes. Resolves with the address bound.
   */
  async listenTls(options: TlsListen, notice: (line: string) => void): Promise<Endpoint> {
    const { server, address } = await listenTls(options, (socket) => this.#accept(socket), notice, this.#options.handshakeTimeoutMs ?? 10_000);
    this.#tlsServer = server;
    return address;
  }

  /** The bound address, once listening. */
  get address(): Endpoint | undefined {
    const bound = this.#server.address();
    return bound !== null && typeof bound === 'object' ? { address: bound.address, port: bound.port } : undefined;
  }

  /** Exceptions thrown by observer callbacks so far. */
  get observerErrors(): number {
    return this.#observerErrors;
  }

  /** Connections whose onClose has not been emitted yet. */
  get connectionCount(): number {
    return this.#relays.size;
  }

  /** Bytes of the read slabs the connections hold now (bounded by a budget they share). */
  readSlabBytes(): number {
    let total = 0;
    for (const relay of this.#relays.values()) total += relay.readSlabBytes();
    return total;
  }

  /** Bytes held in the proxy's socket buffers (both directions, all connections). */
  bufferedBytes(): number {
    let total = 0;
    for (const relay of this.#relays.values()) total += relay.bufferedBytes();
    return total;
  }

  /**
   * Puts an interposer in the path of connections whose upstream connects from now on (the
   * fault engine, once a first rule is armed); connections already relayed stay as they are.
   */
  setInterposer(interposer: Interposer | undefined): void {
    this.#interposer = interposer;
  }

  /**
   * Holds (or releases) reading on every connection, new ones included: for a sink that fell
   * behind (the recorder on a slow disk), so the proxy slows down instead of growing memory.
   * Releasing never resumes a socket whose destination is still full.
   */
  holdReading(held: boolean): void {
    if (this.#held === held) return;
    this.#held = held;
    for (const relay of this.#relays.values()) relay.hold(held);
  }

  /**
   * Stops accepting, closes every connection (ended by the proxy, `stopped`) and resolves once
   * every onClose has been emitted.
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const tlsServer = this.#tlsServer;
      let pending = tlsServer ? 3 : 2;
      const done = (): void => {
        if (--pending === 0) resolve();
      };
      this.#server.close(() => done());
      tlsServer?.close(() => done());
      if (this.#relays.size === 0) done();
      else {
        this.#allClosed = done;
        for (const relay of [...this.#relays.values()]) relay.shutdown();
      }
    });
    return this.#closing;
  }

  #accept(client: net.Socket): void {
    if (this.#closing) {
      client.destroy();
      return;
    }
    const id = this.#nextId++;
    const all = [this.#options.upstream, ...(this.#options.alternates ?? [])];
    const first = this.#options.balance === 'round-robin' ? this.#nextUpstream++ % all.length : 0;
    const candidates = [...all.slice(first), ...all.slice(0, first)];
    const relay = new Relay(id, client, candidates, this.#options, this.#hooks);
    this.#relays.set(id, relay);
    relay.start();
    if (this.#held) relay.hold(true);
  }

  #observerFailed(callback: keyof ByteObserver, error: unknown): void {
    this.#observerErrors++;
    if (this.#reportedObserverErrors.has(callback)) return;
    this.#reportedObserverErrors.add(callback);
    const report = this.#options.onObserverError;
    if (report) {
      try {
        report(callback, error);
      } catch {
        // a failing reporter must not break forwarding either
      }
    } else {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`amqp-spy: proxy observer ${callback} threw (forwarding continues): ${message}\n`);
    }
  }
}

/** What a Relay tells its ProxyServer. */
interface RelayHooks {
  /** both sockets are closed and onClose was emitted */
  closed(id: number): void;
  observerFailed(callback: keyof ByteObserver, error: unknown): void;
  /** what the connections' read slabs may hold together */
  readonly slabs: SlabBudget;
  /** the interposer a connection gets when its upstream connects */
  interposer(): Interposer | undefined;
}

/** One client connection and its upstream connection. */
class Relay {
  readonly #id: number;
  readonly #client: net.Socket;
  #upstream: net.Socket;
  readonly #owner: RelayHooks;
  readonly #observer: ByteObserver | undefined;
  /** the brokers this connection may use, in the order it tries them */
  readonly #candidates: readonly UpstreamAddress[];
  #candidate = 0;
  /** the broker being connected to, or connected */
  get #current(): UpstreamAddress {
    return this.#candidates[this.#candidate]!;
  }
  readonly #tlsOptions: UpstreamTlsOptions | undefined;
  readonly #connectTimeoutMs: number;
  /** onOpen was emitted: with several brokers, once one answers (it names the one used) */
  #opened = false;
  /** set for a plain TCP upstream, read with `onread` */
  #upstreamReader: ReadSlab | undefined;
  /** where upstream bytes go while both sides are up (onread path) */
  #s2cForward: ((chunk: Buffer) => void) | undefined;
  #connected = false;
  /** a TLS broker sent something after the handshake (its silence then a reset hints at mutual TLS) */
  #upstreamSpoke = false;
  /** reading held by ProxyServer.holdReading */
  #held = false;
  /** who ended the connection and how: the first socket to end says */
  #end: SocketEnd | undefined;
  #openSockets = 2;
  #lingerTimer: NodeJS.Timeout | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  readonly #handshakeTimeoutMs: number;
  /** the interposer holds reading of a direction's sender */
  readonly #stageHeld = { c2s: false, s2c: false };
  /** the interposer cut the connection: nothing more is read into it */
  #cut = false;

  constructor(id: number, client: net.Socket, candidates: readonly UpstreamAddress[], options: ProxyServerOptions, owner: RelayHooks) {
    this.#id = id;
    this.#client = client;
    this.#owner = owner;
    this.#observer = options.observer;
    this.#candidates = candidates;
    this.#tlsOptions = options.tls;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#upstream = this.#connectUpstream(candidates[0]!);
  }

  /** Opens the connection to one broker, and times it. */
  #connectUpstream(address: UpstreamAddress): net.Socket {
    const { host, port } = address;
    this.#connectTimer = setTimeout(() => this.#connectTimedOut(), this.#connectTimeoutMs);
    this.#connectTimer.unref();
    const base = { host, port, allowHalfOpen: true, noDelay: true, highWaterMark: SOCKET_HIGH_WATER_MARK };
    if (address.tls) {
      this.#upstreamReader = undefined;
      return connectTls(base, this.#tlsOptions);
    }
    // Plain TCP upstream: read straight into slabs (see ReadSlab) instead of letting Node
    // allocate a buffer per read and run it through the Readable machinery.
    const slab = new ReadSlab(this.#owner.slabs);
    this.#upstreamReader = slab;
    return net.connect({
      ...base,
      onread: {
        buffer: () => slab.next(),
        callback: (nread: number): boolean => {
          const chunk = slab.take(nread);
          const forward = this.#s2cForward;
          if (forward !== undefined) forward(chunk);
          return true; // backpressure pauses the socket in forward()
        },
      },
    });
  }

  #watchUpstream(): void {
    const upstream = this.#upstream;
    upstream.on('error', (err: NodeJS.ErrnoException) => this.#sideFailed('upstream', err));
    upstream.on('close', () => this.#socketClosed(this.#client));
    upstream.once(upstream instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => this.#upstreamConnected());
    if (upstream instanceof tls.TLSSocket) upstream.once('data', () => (this.#upstreamSpoke = true));
  }

  /**
   * A broker that requires a client certificate accepts the TLS handshake without one (TLS 1.3
   * checks it after) and then resets the connection, often before its alert can be read: say
   * what that usually means instead of a bare "connection reset".
   */
  #certificateHint(err: NodeJS.ErrnoException): string {
    if (!(this.#upstream instanceof tls.TLSSocket) || this.#upstreamSpoke || this.#tlsOptions?.cert !== undefined) return '';
    if (/CERTIFICATE_REQUIRED/.test(err.code ?? '')) return ': the broker requires a client certificate (--upstream-cert and --upstream-key)';
    if (err.code !== 'ECONNRESET') return '';
    return ' right after the TLS handshake: the broker may require a client certificate (--upstream-cert and --upstream-key)';
  }

  /**
   * This broker could not be reached and another is left: drop the attempt without a word to
   * the client (it is not read yet) and try the next. False when none is left.
   */
  #tryNextUpstream(): boolean {
    if (this.#connected || this.#end !== undefined || this.#candidate + 1 >= this.#candidates.length) return false;
    clearTimeout(this.#connectTimer);
    const failed = this.#upstream;
    failed.removeAllListeners();
    failed.on('error', discard);
    failed.destroy();
    this.#upstreamReader?.close();
    this.#upstream = this.#connectUpstream(this.#candidates[++this.#candidate]!);
    this.#watchUpstream();
    return true;
  }

  start(): void {
    const client = this.#client;
    client.setNoDelay(true);
    // one broker: the connection is shown at once; several: once it is known which one answers
    if (this.#candidates.length === 1) this.#emitOpen();

    client.on('error', (err: NodeJS.ErrnoException) => this.#sideFailed('client', err));
    client.on('close', () => this.#socketClosed(this.#upstream));
    this.#watchUpstream();
  }

  bufferedBytes(): number {
    const c = this.#client;
    const u = this.#upstream;
    return c.writableLength + c.readableLength + u.writableLength + u.readableLength;
  }

  readSlabBytes(): number {
    return this.#upstreamReader?.size ?? 0;
  }

  /** Holds or releases reading on both sockets (see ProxyServer.holdReading). */
  hold(held: boolean): void {
    this.#held = held;
    if (!this.#connected) return; // the client is resumed on connect, if not held then
    if (held) {
      this.#client.pause();
      this.#upstream.pause();
    } else {
      if (!this.#upstream.writableNeedDrain && !this.#stageHeld.c2s) this.#client.resume();
      if (!this.#client.writableNeedDrain && !this.#stageHeld.s2c) this.#upstream.resume();
    }
  }

  /** Close both sides (proxy shutting down). */
  shutdown(): void {
    this.#end ??= { by: 'proxy', how: 'stopped' };
    this.#client.destroy();
    this.#upstream.destroy();
  }

  #upstreamConnected(): void {
    clearTimeout(this.#connectTimer);
    this.#connected = true;
    this.#emitOpen();
    const client = this.#client;
    const upstream = this.#upstream;
    upstream.setNoDelay(true);
    const stage = this.#owner.interposer()?.open(this.#control());
    if (stage !== undefined) this.#interpose(stage);
    else {
      this.#pipe(client, upstream, 'c2s');
      const s2c = this.#pipe(upstream, client, 's2c');
      if (this.#upstreamReader !== undefined) this.#s2cForward = s2c;
      else upstream.on('data', s2c);
    }
    if (this.#held) upstream.pause();
    else client.resume(); // paused since accept (pauseOnConnect)
    if (this.#handshakeTimeoutMs > 0) this.#armHandshakeTimer();
  }

  #armHandshakeTimer(): void {
    this.#handshakeTimer = setTimeout(() => this.#handshakeExpired(), this.#handshakeTimeoutMs);
    this.#handshakeTimer.unref();
  }

  /** Bytes only: the socket's counter says whether a handshake began, at no cost per chunk. */
  #handshakeExpired(): void {
    this.#handshakeTimer = undefined;
    if (this.#end !== undefined) return;
    // reading was held (the recorder fell behind): the client could not go on meanwhile
    if (this.#held) {
      this.#armHandshakeTimer();
      return;
    }
    const fromClient = this.#client.bytesRead;
    if (fromClient >= 8) return;
    const sent = fromClient === 0 ? 'nothing' : `${fromClient} bytes, not a whole protocol header,`;
    this.#end = { by: 'proxy', how: 'closed', detail: `handshake timeout: the client sent ${sent} in ${this.#handshakeTimeoutMs} ms` };
    this.#client.destroy();
    this.#upstream.destroy();
  }

  /** Forward `from` to `to`: write first, then report; pause `from` while `to` is full. */
  #pipe(from: net.Socket, to: net.Socket, dir: Direction): (chunk: Buffer) => void {
    const id = this.#id;
    const observer = this.#observer;
    const onData = observer?.onData;
    const owner = this.#owner;
    const forward = (chunk: Buffer): void => {
      if (!to.write(chunk)) from.pause();
      if (onData !== undefined) {
        try {
          onData.call(observer, id, dir, chunk);
        } catch (err) {
          owner.observerFailed('onData', err);
        }
      }
    };
    to.on('drain', () => {
      if (!this.#held) from.resume();
    });
    from.on('end', () => {
      this.#end ??= { by: dir === 'c2s' ? 'client' : 'server', how: 'closed' };
      // Half-close: pass the FIN on once everything before it is written.
      to.end();
    });
    if (dir === 'c2s') from.on('data', forward);
    return forward;
  }

  /**
   * The forwarding path through an interposer: every byte read goes to it, and it writes,
   * injects, swallows or holds through the RelayControl it was given.
   */
  #interpose(stage: InterposedConnection): void {
    const client = this.#client;
    const upstream = this.#upstream;
    for (const dir of ['c2s', 's2c'] as const) {
      const from = dir === 'c2s' ? client : upstream;
      const to = dir === 'c2s' ? upstream : client;
      to.on('drain', () => {
        if (!this.#held && !this.#stageHeld[dir]) from.resume();
      });
      from.on('end', () => {
        this.#end ??= { by: dir === 'c2s' ? 'client' : 'server', how: 'closed' };
        if (!this.#cut) stage.ended(dir);
      });
    }
    const c2s = (chunk: Buffer): void => {
      if (!this.#cut) stage.data('c2s', chunk);
    };
    const s2c = (chunk: Buffer): void => {
      if (!this.#cut) stage.data('s2c', chunk);
    };
    client.on('data', c2s);
    if (this.#upstreamReader !== undefined) this.#s2cForward = s2c;
    else upstream.on('data', s2c);
    this.#stage = stage;
  }

  #stage: InterposedConnection | undefined;

  #control(): RelayControl {
    const side = (dir: Direction): InterposedSide => {
      const from = dir === 'c2s' ? this.#client : this.#upstream;
      const to = dir === 'c2s' ? this.#upstream : this.#client;
      const write = (bytes: Uint8Array): void => {
        if (to.writable && !to.write(bytes)) from.pause();
      };
      return {
        forward: (bytes) => {
          write(bytes);
          this.#report(dir, bytes);
        },
        inject: (frame) => {
          write(frame);
          this.#reportMarked(dir, frame, 'injected');
        },
        suppress: (frame) => this.#reportMarked(dir, frame, 'suppressed'),
        holdSender: (held) => {
          this.#stageHeld[dir] = held;
          if (held) from.pause();
          else if (!this.#held && !to.writableNeedDrain) from.resume();
        },
        end: () => {
          if (!to.writableEnded) to.end();
        },
      };
    };
    return {
      id: this.#id,
      c2s: side('c2s'),
      s2c: side('s2c'),
      cut: (how, detail) => this.#cutBoth(how, detail),
    };
  }

  /** A fault rule ends the connection: FIN to both (after what was written), or a reset. */
  #cutBoth(how: 'fin' | 'reset', detail: string): void {
    if (this.#cut) return;
    this.#cut = true;
    this.#end ??= { by: 'proxy', how: how === 'fin' ? 'closed' : 'reset', detail };
    for (const socket of [this.#client, this.#upstream]) {
      if (how === 'reset') socket.resetAndDestroy();
      else {
        // read what still comes (unread bytes would turn the FIN into a reset), forward none
        socket.resume();
        socket.end();
      }
    }
    if (how === 'fin' && this.#lingerTimer === undefined) {
      this.#lingerTimer = setTimeout(() => {
        this.#client.destroy();
        this.#upstream.destroy();
      }, LINGER_MS);
      this.#lingerTimer.unref();
    }
  }

  #report(dir: Direction, bytes: Uint8Array): void {
    const observer = this.#observer;
    if (observer?.onData === undefined) return;
    try {
      observer.onData(this.#id, dir, bytes as Buffer);
    } catch (err) {
      this.#owner.observerFailed('onData', err);
    }
  }

  #reportMarked(dir: Direction, frame: Uint8Array, mark: FaultMark): void {
    const observer = this.#observer;
    if (observer?.onFrameMarked === undefined) return;
    try {
      observer.onFrameMarked(this.#id, dir, frame, mark);
    } catch (err) {
      this.#owner.observerFailed('onFrameMarked', err);
    }
  }

  /** Reports bytes of `dir` to the observer without forwarding them (their peer is gone). */
  #reportOnly(dir: Direction): (chunk: Buffer) => void {
    const onData = this.#observer?.onData;
    if (onData === undefined) return discard;
    return (chunk) => {
      try {
        onData.call(this.#observer, this.#id, dir, chunk);
      } catch (err) {
        this.#owner.observerFailed('onData', err);
      }
    };
  }

  #sideFailed(side: 'client' | 'upstream', err: NodeJS.ErrnoException): void {
    const other = side === 'client' ? this.#upstream : this.#client;
    const what = describeSocketError(err);
    if (side === 'upstream') {
      if (!this.#connected) {
        if (this.#tryNextUpstream()) return;
        clearTimeout(this.#connectTimer);
        this.#end ??= { by: 'server', how: 'unreachable', detail: what };
      } else {
        this.#end ??= err.code === 'ECONNRESET' ? { by: 'server', how: 'reset' } : { by: 'server', how: 'error', detail: what };
      }
      const hint = this.#connected ? this.#certificateHint(err) : '';
      this.#emitUpstreamError(`upstream ${formatHostPort(this.#current.host, this.#current.port)}: ${what}${hint}`, this.#upstream.writableLength);
    } else {
      this.#end ??= err.code === 'ECONNRESET' ? { by: 'client', how: 'reset' } : { by: 'client', how: 'error', detail: what };
    }
    this.#closeOther(other);
  }

  #connectTimedOut(): void {
    if (this.#connected || this.#end !== undefined) return;
    if (this.#tryNextUpstream()) return;
    this.#end = { by: 'server', how: 'unreachable', detail: 'connection timed out' };
    this.#emitUpstreamError(`upstream ${formatHostPort(this.#current.host, this.#current.port)}: connection timed out`, 0);
    this.#upstream.destroy();
    this.#closeOther(this.#client);
  }

  /** The other side of a failed socket: end it after what it holds is written, then drop it. */
  #closeOther(other: net.Socket): void {
    if (other.destroyed) return;
    // Its peer is gone: read what it still sends, so that it sees our FIN and closes (unread
    // bytes would also turn our FIN into a reset). Those bytes cannot be forwarded, but once
    // the two were talking they are reported all the same: a client's close-ok to a server's
    // close is the end of the conversation, not something lost.
    const read = this.#connected ? this.#reportOnly(other === this.#client ? 'c2s' : 's2c') : discard;
    other.removeAllListeners('data');
    other.on('data', read);
    if (other === this.#upstream) this.#s2cForward = read;
    other.resume();
    other.end();
    if (this.#lingerTimer === undefined) {
      this.#lingerTimer = setTimeout(() => other.destroy(), LINGER_MS);
      this.#lingerTimer.unref();
    }
  }

  #socketClosed(other: net.Socket): void {
    // a socket gone without an end or an error (destroyed): the first one to go ended it
    this.#end ??= { by: other === this.#upstream ? 'client' : 'server', how: 'closed' };
    if (--this.#openSockets > 0) {
      // After a clean close both FINs were passed on and the other socket is flushing what
      // it still holds: let it finish, however long its peer takes to read. Otherwise (a
      // socket destroyed without an error) make sure the other one goes away too.
      if (!other.writableEnded) this.#closeOther(other);
      return;
    }
    clearTimeout(this.#lingerTimer);
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#handshakeTimer);
    this.#stage?.closed();
    this.#upstreamReader?.close();
    this.#emitClose(this.#end);
    this.#owner.closed(this.#id);
  }

  #emitOpen(): void {
    if (this.#opened) return;
    this.#opened = true;
    const observer = this.#observer;
    if (observer?.onOpen === undefined) return;
    const c = this.#client;
    const info: ProxyConnectionInfo = {
      id: this.#id,
      client: { address: c.remoteAddress ?? '', port: c.remotePort ?? 0 },
      server: { address: this.#current.host, port: this.#current.port },
    };
    try {
      observer.onOpen(info);
    } catch (err) {
      this.#owner.observerFailed('onOpen', err);
    }
  }

  #emitUpstreamError(text: string, unforwarded: number): void {
    this.#emitOpen();
    const observer = this.#observer;
    if (observer?.onUpstreamError === undefined) return;
    try {
      observer.onUpstreamError(this.#id, text, unforwarded);
    } catch (err) {
      this.#owner.observerFailed('onUpstreamError', err);
    }
  }

  #emitClose(end: SocketEnd): void {
    this.#emitOpen(); // a client gone before any broker answered was never shown
    const observer = this.#observer;
    if (observer?.onClose === undefined) return;
    try {
      observer.onClose(this.#id, end);
    } catch (err) {
      this.#owner.observerFailed('onClose', err);
    }
  }
}

function discard(): void {}

// Reads go into a slab; each chunk is its own slice of it and is never overwritten, so a
// chunk may sit in a socket's write queue or be kept by the observer. A read may fill what
// is left of the slab (at least READ_MIN): when data is queued up, one syscall takes it all.
// Slabs start small so that idle connections hold little, and grow while reads fill them.
const SLAB_MIN = 64 * 1024;
const SLAB_MAX = 1024 * 1024;
const READ_MIN = 16 * 1024;
/**
 * What the read slabs of all connections may take together (each at least SLAB_MIN). 16 MiB:
 * at 32 MiB, 300 connections × 200 messages of 16 B–64 KB peaked at 212 MB RSS (glibc keeps
 * the arena the slabs grew); at 16 MiB 172–173 MB, and the run was no slower (16–17.5 s vs
 * 18 s). One connection still reads into slabs of up to SLAB_MAX.
 */
const SLAB_BUDGET = 16 * 1024 * 1024;

class ReadSlab {
  #slab: Buffer = NO_SLAB;
  // No release of an idle connection's slab: Node registers the next read's buffer (a view of
  // this slab) with the socket right after each read, so the slab stays in use until then.
  #offset = 0;
  /** largest read into the current slab */
  #largest = 0;

  constructor(private readonly budget: SlabBudget) {}

  /** The buffer for the next read: the free rest of the slab. */
  next(): Buffer {
    if (this.#slab.length - this.#offset < READ_MIN) {
      const size = this.budget.resize(this.#slab.length, Math.min(SLAB_MAX, Math.max(SLAB_MIN, 4 * this.#largest)));
      this.#slab = Buffer.allocUnsafeSlow(size);
      this.#offset = 0;
      this.#largest = 0;
    }
    return this.#slab.subarray(this.#offset);
  }

  /** Bytes of the slab being filled. */
  get size(): number {
    return this.#slab.length;
  }

  /** The connection closed: its slab no longer counts against the budget. */
  close(): void {
    this.budget.resize(this.#slab.length, 0);
    this.#slab = NO_SLAB;
  }

  /** The `nread` bytes just read into the buffer from next(). */
  take(nread: number): Buffer {
    const start = this.#offset;
    this.#offset = start + nread;
    if (nread > this.#largest) this.#largest = nread;
    return this.#slab.subarray(start, start + nread);
  }
}

const NO_SLAB = Buffer.alloc(0);

/**
 * The read slabs of all connections share one budget: a connection swapping its slab gets
 * what it asks for while the others leave room, never less than SLAB_MIN. So 300 connections
 * reading at once hold about the budget, not 300 MiB.
 */
class SlabBudget {
  #held = 0;
  constructor(private readonly budget: number) {}

  /** Replaces a slab of `previous` bytes by one of up to `wanted` (0 to give it back); returns the size granted. */
  resize(previous: number, wanted: number): number {
    this.#held -= previous;
    const granted = wanted === 0 ? 0 : Math.max(SLAB_MIN, Math.min(wanted, this.budget - this.#held));
    this.#held += granted;
    return granted;
  }
}

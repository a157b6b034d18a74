// The built-in broker's TCP listener (`amqp-spy --standalone`): accepts AMQP 0-9-1 clients
// and gives each a BrokerConnection. The observer sees every byte in and out, exactly as the
// proxy reports its traffic, so the spy shows the broker's sessions like proxied ones.

import net from 'node:net';
import type tls from 'node:tls';
import { listenTls } from '../source/tls-listener.js';
import { ListenError } from '../source/listen-error.js';
import { Broker, type BrokerOptions } from './broker.js';
import { BrokerConnection } from './broker-connection.js';
import { ConnectionActionError, type FaultControl } from '../fault/fault-control.js';

/**
 * The running broker. As a FaultControl (the same as the proxy's fault engine) it lists, arms,
 * disarms and removes fault rules while clients are connected (a rule armed later applies from
 * the next frame of every connection), and acts on one connection at once.
 */
export interface RunningBroker extends FaultControl {
  /** where it listens (the real port when 0 was asked for) */
  readonly address: { readonly host: string; readonly port: number };
  readonly broker: Broker;
  /** where TLS clients connect (--listen-tls), when they may */
  readonly tlsAddress?: { readonly host: string; readonly port: number };
  /** open client connections */
  readonly connectionCount: number;
  /** the open client connections (the management API lists them) */
  connections(): IterableIterator<BrokerConnection>;
  /** Stops listening, closes every connection (CONNECTION_FORCED) and resolves when done. */
  close(): Promise<void>;
  /**
   * Holds (or releases) reading from every client, new ones included: for a sink that fell
   * behind (the recorder on a slow disk), so clients slow down instead of memory growing.
   */
  holdReading(held: boolean): void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Starts the broker; rejects with ListenError when the address cannot be bound. */
export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const broker = new Broker(options);
  const observer = options.observer;
  const connections = new Set<BrokerConnection>();
  // the first rule armed while clients are connected: they start watching their frames
  broker.faults.onArmed = () => {
    for (const c of connections) c.watchFaults();
  };
  broker.faults.onReleased = (rule) => {
    for (const c of connections) c.releaseFault(rule);
  };
  let nextId = 1;
  let held = false;
  const server = net.createServer({ noDelay: true });
  const warn = options.onWarning ?? ((m: string) => process.stderr.write(`amqp-spy: warning: ${m}\n`));
  broker.onInternalError = (e) => warn(`broker internal error: ${e instanceof Error ? e.message : String(e)}`);
  broker.onNotice = options.onNotice ?? ((m: string) => process.stderr.write(`amqp-spy: ${m}\n`));
  for (const line of broker.definitionsReport) warn(line);

  const accept = (socket: net.Socket): void => {
    const id = nextId++;
    const conn = new BrokerConnection(id, socket, broker, observer, (c, end) => {
      if (!connections.delete(c)) return;
      try {
        observer?.onClose?.(id, end);
      } catch {
        // observer faults never reach the broker
      }
    });
    connections.add(conn);
    if (held) conn.holdReading(true);
    try {
      observer?.onOpen?.({
        id,
        client: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
        server: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      });
    } catch {
      // ignore
    }
  };
  server.on('connection', accept);

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(ListenError.fromErrno(options.listen.host, options.listen.port, e));
    };
    server.once('error', onError);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (e) => warn(`listener error: ${e.message}`));
  // TLS clients (--listen-tls) are served like plain ones once their handshake is done
  let tlsListener: { server: tls.Server; address: { address: string; port: number } } | undefined;
  if (options.tlsListen) {
    try {
      tlsListener = await listenTls(options.tlsListen, accept, broker.onNotice, broker.handshakeTimeout);
    } catch (error) {
      server.close();
      throw error;
    }
  }

  if (!LOOPBACK.has(options.listen.host) && broker.authenticate('guest', 'guest')) {
    warn(
      broker.allowRemoteGuest
        ? `listening on ${options.listen.host}, reachable from other machines, with guest/guest accepted from anywhere (--allow-remote-guest); ` +
            'add --user name:password to replace it'
        : `listening on ${options.listen.host}, but guest/guest logs in from this machine only, as in RabbitMQ; ` +
            'add --user name:password for other machines (or --allow-remote-guest)',
    );
  }

  // Publishers blocked by the memory alarm send nothing, so the alarm's end is noticed here.
  const memoryTimer = setInterval(() => {
    if (broker.memoryAlarm) broker.checkMemory();
  }, 500);
  memoryTimer.unref();

  const bound = server.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    holdReading(hold: boolean) {
      if (held === hold) return;
      held = hold;
      for (const c of connections) c.holdReading(hold);
    },
    address: { host: bound.address, port: bound.port },
    ...(tlsListener ? { tlsAddress: { host: tlsListener.address.address, port: tlsListener.address.port } } : {}),
    broker,
    get connectionCount() {
      return connections.size;
    },
    connections: () => connections.values(),
    list: () => broker.faults.list(),
    add: (rules) => broker.faults.add(rules),
    remove: (id) => broker.faults.remove(id),
    removeAll: () => broker.faults.removeAll(),
    setArmed: (id, armed) => broker.faults.setArmed(id, armed),
    act(id, action) {
      let target: BrokerConnection | undefined;
      for (const c of connections) if (c.id === id) target = c;
      if (target === undefined) throw new ConnectionActionError(`no connection ${id} is open (on the built-in broker)`, 404);
      return target.actFault(action);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(memoryTimer);
        tlsListener?.server.close();
        server.close(() => resolve());
        for (const c of [...connections]) {
          c.shutdown();
          // don't wait for clients that never answer close
          setTimeout(() => c.socket.destroy(), 1000).unref();
        }
        broker.dispose();
      });
      return closing;
    },
  };
}

// Wires one source to its sinks and owns the session's life: start, signals, stop.

import fs from 'node:fs';
import { EventBus, nowMicros, type EventSink } from './events.js';
import type { ListenAddress, UpstreamAddress } from './proxy/address.js';
import { ProxyServer, type Endpoint } from './proxy/proxy-server.js';
import { ConnectionTap } from './tap/connection-tap.js';

export interface ProxySessionOptions {
  readonly listen: ListenAddress;
  readonly upstream: UpstreamAddress;
  readonly upstreamCaFile?: string;
  readonly insecure?: boolean;
  readonly showSecrets?: boolean;
  readonly sinks: readonly EventSink[];
  /** one-line notices for people (upstream unreachable, sink failures) */
  readonly notice: (line: string) => void;
}

export interface RunningSession {
  readonly address: Endpoint;
  readonly bus: EventBus;
  /** stop accepting, close every connection, emit their close events */
  stop(): Promise<void>;
}

export async function startProxySession(options: ProxySessionOptions): Promise<RunningSession> {
  const bus = new EventBus((error) => options.notice(`a sink failed and was dropped: ${error instanceof Error ? error.message : String(error)}`));
  for (const sink of options.sinks) bus.subscribe(sink);
  const taps = new Map<number, ConnectionTap>();
  const ca = options.upstreamCaFile !== undefined ? fs.readFileSync(options.upstreamCaFile) : undefined;
  const proxy = new ProxyServer({
    listen: options.listen,
    upstream: options.upstream,
    tls: { ...(ca ? { ca } : {}), rejectUnauthorized: !options.insecure },
    onObserverError: (callback, error) => options.notice(`internal error in ${callback}: ${error instanceof Error ? error.message : String(error)}`),
    observer: {
      onOpen(conn) {
        const tap = new ConnectionTap(conn.id, bus, { showSecrets: options.showSecrets ?? false, keepUndecoded: true });
        taps.set(conn.id, tap);
        bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts: nowMicros(), conn: conn.id, client: conn.client, server: conn.server });
      },
      onData(connId, dir, chunk) {
        taps.get(connId)?.feed(dir, chunk);
      },
      onClose(connId, reason) {
        taps.get(connId)?.close(reason);
        taps.delete(connId);
      },
      onUpstreamError(_connId, message) {
        options.notice(message);
      },
    },
  });
  const address = await proxy.listen();
  return {
    address,
    bus,
    stop: () => proxy.close(),
  };
}

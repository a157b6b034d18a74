// The live modes: the proxy (--upstream) or the built-in broker (--standalone), with every
// sink the options ask for, from the start of the session until a signal or the TUI's quit.

import type { BodyOptions } from '../body/shared-decoder.js';
import type { BrokerUser } from '../broker/broker.js';
import { UsageError } from '../errors.js';
import type { EventSink } from '../events.js';
import type { Filter } from '../view/filter.js';
import type { FaultRule } from '../fault/fault-rule.js';
import { formatHostPort, isLoopbackAddress, type ListenAddress, type UpstreamAddress } from '../source/address.js';
import { readTlsListen } from '../source/tls-listener.js';
import { VERSION } from '../version.js';
import { type RunningMetrics, startMetricsServer } from '../metrics/metrics-server.js';
import type { RunningControl } from '../control/control-server.js';
import { createHeadlessPrinter, streamOutput } from '../view/headless-printer.js';
import { createSummary } from '../view/summary.js';
import { describeUpstream, startLiveSession } from '../session/live-session.js';
import { amqpUrl, upstreamLogin } from '../session/session-url.js';
import { clearReadyFile, formatReadyLine, removeReadyFile, writeReadyFile } from './ready-line.js';
import { wantsColor, writeStdout } from './stdio.js';
import { NoticeRouter, prepareLiveTui, wantsTui } from './tui-launch.js';

/** The live command's options, parsed and checked against each other (cli.ts). */
export interface LiveOptions {
  readonly listen: ListenAddress;
  /** --proto and --proto-type, for the TUI's thread (the session's thread is configured already) */
  readonly bodies?: BodyOptions;
  /** the broker to proxy; without it, the built-in broker runs */
  readonly upstream?: UpstreamAddress;
  /** more brokers after `upstream` (--upstream a,b,c), and how connections are spread over them */
  readonly alternates?: readonly UpstreamAddress[];
  readonly balance?: 'failover' | 'round-robin';
  /** --upstream as given: a URL's login and vhost go into the --ready line's url */
  readonly upstreamText?: string;
  readonly upstreamCa?: string;
  /** a client certificate and key (PEM files) for an upstream that requires one */
  readonly upstreamClientCert?: { readonly cert: string; readonly key: string };
  readonly insecure: boolean;
  /** the built-in broker's: its users (none: guest), vhosts (none: /) and limits */
  readonly users: readonly BrokerUser[];
  readonly vhosts: readonly string[];
  readonly allowRemoteGuest: boolean;
  readonly maxMessageSize?: number;
  readonly maxConnections?: number;
  readonly maxMemory?: number;
  readonly handshakeTimeoutMs?: number;
  /** a RabbitMQ definitions file the built-in broker loads at start */
  readonly definitions?: string;
  /** where the built-in broker serves its management HTTP API (--management) */
  readonly management?: ListenAddress;
  /** events the TUI keeps (--buffer) */
  readonly bufferSize: number;
  /** also accept TLS clients (--listen-tls, its --cert, --key, --client-ca files) */
  readonly tlsListen?: { readonly listen: ListenAddress; readonly cert: string; readonly key: string; readonly clientCa?: string };
  /** where Prometheus metrics are served (--metrics) */
  readonly metrics?: ListenAddress;
  /** a file, a FIFO, or - for stdout */
  readonly record?: string;
  readonly recordSecrets: boolean;
  /** --filter: the output, the terminal UI and the recording show only matching events */
  readonly filter?: Filter;
  /** --record-filter: the recording keeps only these (instead of --filter) */
  readonly recordFilter?: Filter;
  /** --record-bodies: body bytes kept per message (0: none) */
  readonly recordBodies?: number;
  readonly showSecrets: boolean;
  readonly json: boolean;
  readonly frames: boolean;
  /** false with --no-tui */
  readonly tui: boolean;
  /** fault rules (--fault, --faults), checked: the proxy's engine or the built-in broker acts them out */
  readonly faults: readonly FaultRule[];
  /** where the fault control API listens (--control), for the proxy and the built-in broker */
  readonly control?: ListenAddress;
  /** print the ready line first on stdout once listening (--ready); no TUI then */
  readonly ready: boolean;
  /** write the ready line to this file once listening (--ready-file) */
  readonly readyFile?: string;
}

/** Runs the session until it is stopped; resolves with the exit code (1: something was lost). */
export async function runLive(options: LiveOptions): Promise<number> {
  const { listen, upstream, bufferSize, users, maxMessageSize, maxConnections, maxMemory, handshakeTimeoutMs } = options;
  const notices = new NoticeRouter((line) => process.stderr.write(`amqp-spy: ${line}\n`));
  const notice = notices.notice;
  if (upstream?.tls) {
    if (options.insecure)
      notice('warning: --insecure accepts any certificate from the upstream: whoever can intercept that connection sees the credentials and the traffic');
    if (!isLoopbackAddress(listen.host))
      notice(
        `warning: clients connect to ${formatHostPort(listen.host, listen.port)} in plain text: their credentials cross the network in clear before the proxy encrypts them to the upstream`,
      );
  }
  // `--record -`: stdout carries the recording, so nothing else is printed there
  const recordToStdout = options.record === '-';
  if (recordToStdout && process.stdout.isTTY)
    throw new UsageError('--record - writes the recording to stdout: pipe it into a program or a file (amqp-spy ... --record - | gzip > session.jsonl.gz)');
  if (recordToStdout && (options.json || options.frames))
    throw new UsageError(`--record - puts the recording on stdout, so ${options.json ? '--json' : '--frames'} has nowhere to print`);
  if (options.readyFile !== undefined) clearReadyFile(options.readyFile);
  // every sink exists before the source starts: the TUI's store too (its ink loads later);
  // --ready's line comes first on stdout, so the TUI does not draw there
  const tui =
    wantsTui(options) && !recordToStdout && !options.ready
      ? await prepareLiveTui(bufferSize, options.showSecrets, options.bodies, options.filter?.source)
      : undefined;
  // with --ready, output waits until the ready line is out: it must be stdout's first line
  let heldOutput: (string | Uint8Array)[] | undefined = options.ready ? [] : undefined;
  const write = (output: string | Uint8Array) => (heldOutput ? heldOutput.push(output) : writeStdout(output));
  const summary = createSummary();
  const sinks: EventSink[] = [summary.sink];
  const sinkNames = ['the summary'];
  // a reader of stdout that stops (a pager) must not make the output grow: the built-in broker
  // waits for it, the proxy (which must keep forwarding) drops lines and says how many
  const printer =
    tui || recordToStdout
      ? undefined
      : createHeadlessPrinter({
          write,
          json: options.json,
          color: wantsColor(),
          mode: options.frames ? 'frames' : 'messages',
          output: streamOutput(process.stdout),
          whenBehind: upstream ? 'drop' : 'hold',
          onDropped: (n) =>
            notice(`${n} line${n === 1 ? '' : 's'} of output dropped: stdout was not read fast enough, and the proxy forwards rather than wait`),
        });
  if (printer) {
    const filter = options.filter;
    sinks.push(filter ? (e) => (filter.matches(e) ? printer(e) : undefined) : printer);
    sinkNames.push('the output');
  }
  // metrics count on the session's own thread, from every event, whatever the views drop
  const metrics = options.metrics !== undefined ? new (await import('../metrics/session-metrics.js')).SessionMetrics() : undefined;
  if (metrics) {
    sinks.push(metrics.sink);
    sinkNames.push('the metrics');
  }
  const target = upstream
    ? [upstream, ...(options.alternates ?? [])].map(describeUpstream).join(', ') + (options.balance === 'round-robin' ? ' (round-robin)' : '')
    : undefined;
  // the certificate files are read before anything listens: a bad one is one line, exit 2
  const tlsListen = options.tlsListen ? readTlsListen(options.tlsListen.listen, options.tlsListen) : undefined;
  const session = await startLiveSession({
    source: upstream
      ? {
          kind: 'proxy',
          listen,
          upstream,
          ...(options.upstreamCa !== undefined ? { upstreamCaFile: options.upstreamCa } : {}),
          ...(options.upstreamClientCert !== undefined ? { upstreamClientCertFiles: options.upstreamClientCert } : {}),
          insecure: options.insecure,
          ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
          faults: options.faults,
          // the fault panel (F) arms rules on connections already open, and acts on them, too
          ...(options.control !== undefined || tui ? { liveFaults: true } : {}),
          ...(options.alternates ? { alternates: options.alternates, balance: options.balance ?? 'failover' } : {}),
          ...(tlsListen ? { tlsListen } : {}),
        }
      : {
          kind: 'standalone',
          listen,
          users,
          vhosts: options.vhosts,
          allowRemoteGuest: options.allowRemoteGuest,
          ...(maxMessageSize !== undefined ? { maxMessageSize } : {}),
          ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
          ...(maxConnections !== undefined ? { maxConnections } : {}),
          ...(maxMemory !== undefined ? { maxMemory } : {}),
          ...(options.definitions !== undefined ? { definitionsFile: options.definitions } : {}),
          ...(options.management !== undefined ? { management: options.management } : {}),
          ...(tlsListen ? { tlsListen } : {}),
          ...(options.faults.length > 0 ? { faults: options.faults } : {}),
        },
    ...(options.record !== undefined
      ? {
          record: {
            path: options.record,
            keepSecrets: options.recordSecrets,
            tool: `amqp-spy ${VERSION}`,
            ...recordSelection(options),
          },
        }
      : {}),
    showSecrets: options.showSecrets,
    sinks,
    sinkNames,
    notice,
    ...(tui ? { watchers: [tui.observer] } : {}),
    ...(printer && !upstream ? { output: printer } : {}),
  });
  const { standalone, recorder } = session;
  let metricsServer: RunningMetrics | undefined;
  if (metrics && options.metrics) {
    if (recorder) metrics.recording = recorder;
    try {
      metricsServer = await startMetricsServer(options.metrics, metrics);
    } catch (error) {
      await session.stop();
      throw error;
    }
    notice(`metrics on http://${formatHostPort(metricsServer.address.host, metricsServer.address.port)}/metrics`);
  }
  let controlServer: RunningControl | undefined;
  if (options.control && session.faultControl) {
    const { startControlServer } = await import('../control/control-server.js');
    try {
      controlServer = await startControlServer({ listen: options.control, control: session.faultControl, notice });
    } catch (error) {
      await session.stop();
      await metricsServer?.close();
      throw error;
    }
    const at = formatHostPort(controlServer.address.host, controlServer.address.port);
    notice(`fault control on http://${at}/faults`);
    if (!isLoopbackAddress(options.control.host))
      notice(`warning: the fault control API listens on ${at} without authentication: whoever reaches it can break this session's traffic`);
  }
  // who may log in where: users by name only, never their passwords
  const management = standalone?.management;
  const logins = standalone
    ? `users ${standalone.users.join(', ')} · vhosts ${standalone.vhosts.join(', ')}${management ? ` · management API http://${formatHostPort(management.host, management.port)}/api/` : ''}`
    : '';
  const tlsAddress = session.tlsAddress;
  const listening =
    formatHostPort(session.address.address, session.address.port) + (tlsAddress ? ` and amqps://${formatHostPort(tlsAddress.address, tlsAddress.port)}` : '');
  for (const rule of options.faults) notice(`fault rule armed: ${rule.source}`);
  const mode = standalone ? `standalone broker ${listening} · ${logins}` : `proxy ${listening} → ${target}`;
  // Ctrl-C (or a harness's SIGTERM) is handled before the ready line or the banner tells
  // anyone the session is up: a signal sent on seeing them stops it cleanly, where the default
  // action would kill it (the TUI handles its own keys and signals)
  const signalled = tui ? undefined : untilSignal();
  if (options.ready || options.readyFile !== undefined) {
    const { address: host, port } = session.address;
    const url = amqpUrl({ host, port }, upstream ? upstreamLogin(options.upstreamText ?? '') : (standalone?.login ?? {}));
    const line = formatReadyLine({
      url,
      host,
      port,
      mode: upstream ? 'proxy' : 'standalone',
      ...(target !== undefined ? { upstream: target } : {}),
      pid: process.pid,
    });
    if (options.readyFile !== undefined) {
      try {
        writeReadyFile(options.readyFile, line);
      } catch (error) {
        await session.stop();
        throw error;
      }
    }
    if (heldOutput) {
      writeStdout(line);
      for (const output of heldOutput) writeStdout(output);
      heldOutput = undefined;
    }
  }
  const readyFile = options.readyFile;
  const stop = async () => {
    await session.stop();
    await metricsServer?.close();
    await controlServer?.close();
    if (readyFile !== undefined) removeReadyFile(readyFile);
  };
  if (tui) {
    const abort = new AbortController();
    process.once('SIGTERM', () => abort.abort()).once('SIGHUP', () => abort.abort());
    await tui.draw({
      mode,
      ...(session.faultControl ? { faults: session.faultControl } : {}),
      ...(recorder ? { recording: () => ({ path: recorder.path, bytes: recorder.bytesWritten }) } : {}),
      notices,
      onQuit: stop,
      signal: abort.signal,
    });
    await stop();
  } else {
    notice(standalone ? `built-in broker listening on ${listening}; ${logins} (Ctrl-C to stop)` : `proxying ${listening} → ${target} (Ctrl-C to stop)`);
    await signalled;
    await stop();
  }
  printer?.flush();
  notice(summary.text());
  for (const { rule, matches, fired } of session.faults?.stats() ?? [])
    notice(`fault rule '${rule}': fired ${fired} time${fired === 1 ? '' : 's'} (${matches} match${matches === 1 ? '' : 'es'})`);
  const lost = session.lossReport();
  if (lost !== undefined) notice(lost);
  return lost === undefined ? 0 : 1;
}

/** What the recording keeps: --record-filter (else --filter) and --record-bodies. */
function recordSelection(options: LiveOptions): { filter?: Filter; bodyHead?: number } {
  const filter = options.recordFilter ?? options.filter;
  return {
    ...(filter !== undefined && !filter.empty ? { filter } : {}),
    ...(options.recordBodies !== undefined ? { bodyHead: options.recordBodies } : {}),
  };
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  });
}

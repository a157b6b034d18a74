// The live modes: the proxy (--upstream) or the built-in broker (--standalone), with every
// sink the options ask for, from the start of the session until a signal or the TUI's quit.

import type { BrokerUser } from '../broker/broker.js';
import { UsageError } from '../errors.js';
import type { EventSink } from '../events.js';
import type { FaultRule } from '../fault/fault-rule.js';
import { createSessionRecorder, type Recorder } from '../record/recorder.js';
import { formatHostPort, isLoopbackAddress, type ListenAddress, type UpstreamAddress } from '../source/address.js';
import { VERSION } from '../version.js';
import { createHeadlessPrinter, streamOutput } from '../view/headless-printer.js';
import { createSummary } from '../view/summary.js';
import { startProxySession, startStandaloneSession, type StandaloneSession } from './live-session.js';
import { wantsColor, writeStdout } from './stdio.js';
import { NoticeRouter, prepareLiveTui, wantsTui } from './tui-launch.js';

/** The live command's options, parsed and checked against each other (cli.ts). */
export interface LiveOptions {
  readonly listen: ListenAddress;
  /** the broker to proxy; without it, the built-in broker runs */
  readonly upstream?: UpstreamAddress;
  readonly upstreamCa?: string;
  readonly insecure: boolean;
  /** the built-in broker's: its users (none: guest), vhosts (none: /) and limits */
  readonly users: readonly BrokerUser[];
  readonly vhosts: readonly string[];
  readonly allowRemoteGuest: boolean;
  readonly maxMessageSize?: number;
  readonly maxConnections?: number;
  readonly maxMemory?: number;
  readonly handshakeTimeoutMs?: number;
  /** events the TUI keeps (--buffer) */
  readonly bufferSize: number;
  /** a file, a FIFO, or - for stdout */
  readonly record?: string;
  readonly recordSecrets: boolean;
  readonly showSecrets: boolean;
  readonly json: boolean;
  readonly frames: boolean;
  /** false with --no-tui */
  readonly tui: boolean;
  /** fault rules (--fault, --faults), checked; proxy only */
  readonly faults: readonly FaultRule[];
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
  // every sink exists before the source starts: the TUI's store too (its ink loads later)
  const tui = wantsTui(options) && !recordToStdout ? await prepareLiveTui(bufferSize, options.showSecrets) : undefined;
  const summary = createSummary();
  const sinks: EventSink[] = [summary.sink];
  const sinkNames = ['the summary'];
  // a reader of stdout that stops (a pager) must not make the output grow: the built-in broker
  // waits for it, the proxy (which must keep forwarding) drops lines and says how many
  const printer =
    tui || recordToStdout
      ? undefined
      : createHeadlessPrinter({
          write: writeStdout,
          json: options.json,
          color: wantsColor(),
          mode: options.frames ? 'frames' : 'messages',
          output: streamOutput(process.stdout),
          whenBehind: upstream ? 'drop' : 'hold',
          onDropped: (n) =>
            notice(`${n} line${n === 1 ? '' : 's'} of output dropped: stdout was not read fast enough, and the proxy forwards rather than wait`),
        });
  if (printer) {
    sinks.push(printer);
    sinkNames.push('the output');
  }
  const target = upstream ? `${upstream.tls ? 'amqps://' : ''}${formatHostPort(upstream.host, upstream.port)}` : undefined;
  const recorder: Recorder | undefined =
    options.record !== undefined
      ? createSessionRecorder({
          path: options.record,
          keepSecrets: options.recordSecrets,
          mode: upstream ? 'proxy' : 'standalone',
          tool: `amqp-spy ${VERSION}`,
          notice,
          listen: formatHostPort(listen.host, listen.port),
          ...(target !== undefined ? { upstream: target } : {}),
        })
      : undefined;
  if (recorder) {
    sinks.push(recorder.sink);
    sinkNames.push('the recorder');
  }
  const secrets = {
    showSecrets: options.showSecrets,
    keepSecrets: options.recordSecrets,
    sinks,
    sinkNames,
    notice,
    ...(tui ? { watchers: [tui.observer] } : {}),
  };
  // who may log in where: users by name only, never their passwords
  const logins = (s: StandaloneSession) => `users ${s.users.join(', ')} · vhosts ${s.vhosts.join(', ')}`;
  let standalone: StandaloneSession | undefined;
  const session = upstream
    ? await startProxySession({
        listen,
        upstream,
        ...(options.upstreamCa !== undefined ? { upstreamCaFile: options.upstreamCa } : {}),
        insecure: options.insecure,
        ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
        ...secrets,
        ...(recorder ? { recorder } : {}),
        faults: options.faults,
      })
    : (standalone = await startStandaloneSession({
        listen,
        users,
        vhosts: options.vhosts,
        allowRemoteGuest: options.allowRemoteGuest,
        ...(maxMessageSize !== undefined ? { maxMessageSize } : {}),
        ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
        ...(maxConnections !== undefined ? { maxConnections } : {}),
        ...(maxMemory !== undefined ? { maxMemory } : {}),
        ...secrets,
        ...(recorder ? { recorder } : {}),
        ...(printer ? { output: printer } : {}),
      }));
  if (recorder) {
    // only now that the session listens: a session that cannot start leaves an existing file as it was
    try {
      recorder.open();
    } catch (error) {
      await session.stop();
      throw error;
    }
  }
  const listening = formatHostPort(session.address.address, session.address.port);
  for (const rule of options.faults) notice(`fault rule armed: ${rule.source}`);
  const mode = standalone ? `standalone broker ${listening} · ${logins(standalone)}` : `proxy ${listening} → ${target}`;
  let stopping: Promise<void> | undefined;
  // stop accepting, close connections, then flush the recording: every forwarded frame is in it
  const stop = () =>
    (stopping ??= (async () => {
      await session.stop();
      await recorder?.close();
    })());
  if (tui) {
    const abort = new AbortController();
    process.once('SIGTERM', () => abort.abort()).once('SIGHUP', () => abort.abort());
    await tui.draw({
      mode,
      ...(recorder ? { recording: () => ({ path: recorder.path, bytes: recorder.bytesWritten }) } : {}),
      notices,
      onQuit: stop,
      signal: abort.signal,
    });
    await stop();
  } else {
    notice(
      standalone ? `built-in broker listening on ${listening}; ${logins(standalone)} (Ctrl-C to stop)` : `proxying ${listening} → ${target} (Ctrl-C to stop)`,
    );
    await untilSignal();
    await stop();
  }
  printer?.flush();
  notice(summary.text());
  for (const { rule, matches, fired } of session.faults?.stats() ?? [])
    notice(`fault rule '${rule}': fired ${fired} time${fired === 1 ? '' : 's'} (${matches} match${matches === 1 ? '' : 'es'})`);
  const lost = lossReport(session.sinkFailures(), recorder);
  if (lost !== undefined) notice(lost);
  return lost === undefined ? 0 : 1;
}

/** What the session failed to keep, as one line, or undefined when nothing was lost. */
function lossReport(sinkFailures: number, recorder: Recorder | undefined): string | undefined {
  const parts: string[] = [];
  if (recorder?.error) parts.push(`${recorder.error.message}: ${recorder.eventsLost} event${recorder.eventsLost === 1 ? ' was' : 's were'} not recorded`);
  if (sinkFailures > 0) parts.push(`${sinkFailures} event${sinkFailures === 1 ? '' : 's'} failed to reach every view or the recording (see the notices above)`);
  return parts.length > 0 ? `incomplete: ${parts.join('; ')}` : undefined;
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

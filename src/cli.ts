#!/usr/bin/env node
// Arguments → a session. No protocol logic here. Every command's code is imported when the
// command runs (the TUI only when it is shown), so `--help` starts fast.

import { Command, CommanderError } from 'commander';
import type { BrokerUser } from './broker/broker.js';
import type { EventSink } from './events.js';
import type { Recorder } from './record/recorder.js';
import type { StandaloneSession } from './session.js';
import { VERSION } from './version.js';

const PROXY_LISTEN_PORT = 5673;
const STANDALONE_LISTEN_PORT = 5672;

class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Errors that are the user's to fix, by class name → exit code; their message is one line. */
const USER_ERRORS: Readonly<Record<string, number>> = {
  UsageError: 2,
  AddressError: 2,
  CaFileError: 2,
  InputFileError: 2,
  DecodeFileError: 1,
  RecordingError: 2,
  FilterSyntaxError: 2,
  BrokerOptionError: 2,
  ListenError: 1,
  ReplayTargetError: 1,
  RecordingWriteError: 1,
  RecordingLinkError: 2,
};

interface RootOptions {
  listen?: string;
  upstream?: string;
  upstreamCa?: string;
  insecure?: boolean;
  json?: boolean;
  frames?: boolean;
  showSecrets?: boolean;
  record?: string;
  recordSecrets?: boolean;
  tui?: boolean;
  buffer?: string;
  standalone?: boolean;
  user: string[];
  vhost: string[];
  maxMessageSize?: string;
  handshakeTimeout?: string;
  maxConnections?: string;
  allowRemoteGuest?: boolean;
  maxMemory?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const program = new Command()
  .name('amqp-spy')
  .description('See every AMQP 0-9-1 frame between your clients and your broker.')
  .version(VERSION)
  .showHelpAfterError('(run amqp-spy --help for usage)')
  // options after a subcommand belong to it (`decode --json` is decode's --json)
  .enablePositionalOptions()
  .option('--upstream <address>', 'the broker to proxy: host:port, amqp://host:port or amqps://host:port (TLS)')
  .option('--standalone', 'run the built-in in-memory broker instead of proxying one (listens on 127.0.0.1:5672)')
  .option('--listen <address>', `where clients connect: port or host:port (default 127.0.0.1:${PROXY_LISTEN_PORT}, or :${STANDALONE_LISTEN_PORT} with --standalone)`)
  .option('--user <name:password[@vhost,...]>', 'with --standalone: a user, allowed into the vhosts after the last @ (default: all; repeatable; replaces the default guest:guest)', collect, [])
  .option('--allow-remote-guest', 'with --standalone: accept guest from other machines too (refused by default, as RabbitMQ does)')
  .option('--vhost <name>', 'with --standalone: a virtual host (repeatable; default /)', collect, [])
  .option('--max-message-size <bytes>', 'with --standalone: the largest message body accepted (default 134217728, 128 MiB)')
  .option('--max-connections <n>', 'with --standalone: client connections allowed at once; connection.open beyond it is refused with 530 (default no limit)')
  .option('--max-memory <bytes>', 'with --standalone: V8 heap + buffer memory above which publishers are blocked (connection.blocked), as RabbitMQ\'s memory alarm (default 40% of RAM; the heap above 60% of its limit blocks them too)')
  .option('--handshake-timeout <ms>', 'close a client that has not opened its connection (--standalone) or sent a protocol header (proxy) this long after connecting; 0: never (default 10000)')
  .option('--upstream-ca <file>', 'PEM CA certificate to trust for an amqps:// upstream')
  .option('--insecure', 'accept any certificate from an amqps:// upstream')
  .option('--json', 'print events as NDJSON (the recording schema), one object per line')
  .option('--frames', 'print every frame, instead of one line per message for content frames')
  .option('--show-secrets', 'show SASL passwords and update-secret values instead of masking them')
  .option('--record <file>', 'record the session to a file, a FIFO, or - for stdout (JSON lines; replay it with amqp-spy replay <file>)')
  .option('--record-secrets', 'keep credentials in the recording (masked by default)')
  .option('--no-tui', 'print one line per frame or message instead of the terminal UI (the default when stdout is not a terminal)')
  .option('--buffer <events>', 'the most events the terminal UI keeps; the oldest also leave once the kept ones would take 256 MiB of memory (decoded form counted); never the recording', '100000')
  .action(async (opts: RootOptions) => runLive(opts));

program
  .command('replay')
  .description('replay a recording made with --record: print it as live, or re-send its clients to a broker (--to)')
  .argument('<file>', 'a recording (amqp-spy --record <file>)')
  .option('--json', 'print events as NDJSON (the recording schema)')
  .option('--frames', 'print every frame, instead of one line per message for content frames')
  .option('--no-tui', 'print to stdout instead of opening the terminal UI')
  .option('--buffer <events>', 'the most events the terminal UI keeps (and at most 256 MiB of memory)', '100000')
  .option('--speed <factor>', 'replay in real time scaled by this factor (default: all at once; with --to, as recorded: 1)')
  .option('--filter <expr>', 'show only matching events, e.g. "method:basic.publish conn:3 rk:order.*"')
  .option('--lenient', 'skip corrupt lines with a warning instead of stopping')
  .option('--show-secrets', 'show credentials (present only in recordings made with --record-secrets)')
  .option('--to <address>', 're-send the client side to this broker (host:port or amqp://user:pass@host:port) and report where its answers differ')
  .option('--timeout <ms>', 'with --to: how long to wait for each awaited server frame', '5000')
  .option('--insecure', 'with an amqps:// --to: accept any certificate')
  .action(async (file: string, opts: { json?: boolean; frames?: boolean; tui?: boolean; buffer: string; speed?: string; filter?: string; lenient?: boolean; showSecrets?: boolean; to?: string; timeout: string; insecure?: boolean }) => {
    const speed = opts.speed === undefined ? undefined : Number(opts.speed);
    if (speed !== undefined && !(speed > 0 && Number.isFinite(speed))) throw new UsageError(`--speed takes a positive number (e.g. 1 for real time, 10 for ten times faster), got "${opts.speed}"`);
    const timeoutMs = Number(opts.timeout);
    if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) throw new UsageError(`--timeout takes milliseconds, got "${opts.timeout}"`);
    const { runReplayCommand } = await import('./record/replay-command.js');
    const { streamOutput } = await import('./view/headless-printer.js');
    const code = await runReplayCommand(file, {
      json: opts.json ?? false,
      frames: opts.frames ?? false,
      tui: opts.tui ?? true,
      bufferSize: parseBufferSize(opts.buffer),
      ...(speed !== undefined ? { speed } : {}),
      ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
      lenient: opts.lenient ?? false,
      showSecrets: opts.showSecrets ?? false,
      ...(opts.to !== undefined ? { to: opts.to } : {}),
      timeoutMs,
      insecure: opts.insecure ?? false,
    }, { write: writeStdout, output: streamOutput(process.stdout), notice: (line) => process.stderr.write(`amqp-spy: ${line}\n`), color: useColor(), terminal: process.stdout.isTTY === true && process.stdin.isTTY === true });
    process.stdout.write('', () => process.exit(code));
  });

program
  .command('decode')
  .description('decode a file of raw bytes of one direction of an AMQP connection, one line per frame')
  .argument('<file>', 'raw bytes as captured (client→server starting with "AMQP", or server→client)')
  .option('--json', 'one JSON object per frame (the recording schema)')
  .option('--show-secrets', 'show SASL passwords and update-secret values instead of masking them')
  .action(async (file: string, opts: { json?: boolean; showSecrets?: boolean }) => {
    const { createHeadlessPrinter, streamOutput } = await import('./view/headless-printer.js');
    const { decodeFile } = await import('./decode-file.js');
    const printer = createHeadlessPrinter({
      write: writeStdout,
      json: opts.json ?? false,
      color: useColor(),
      mode: 'frames',
      position: 'offset',
      output: streamOutput(process.stdout),
    });
    try {
      // the file is read as fast as stdout is
      await decodeFile(file, printer, { showSecrets: opts.showSecrets ?? false, hold: printer });
    } finally {
      printer.flush();
    }
  });

/** The live modes: proxy (--upstream) or the built-in broker (--standalone). */
async function runLive(opts: RootOptions): Promise<void> {
  if (opts.upstream === undefined && !opts.standalone) {
    throw new UsageError('nothing to do: give --upstream host:port to put the proxy in front of a broker, or --standalone to run the built-in broker (or a subcommand: amqp-spy decode <file>)');
  }
  if (opts.upstream !== undefined && opts.standalone) throw new UsageError('--upstream and --standalone exclude each other: proxy a broker, or run the built-in one');
  if (!opts.standalone) {
    for (const [given, name] of [[opts.user.length > 0, '--user'], [opts.vhost.length > 0, '--vhost'], [opts.maxMessageSize !== undefined, '--max-message-size'], [opts.maxConnections !== undefined, '--max-connections'], [opts.allowRemoteGuest === true, '--allow-remote-guest'], [opts.maxMemory !== undefined, '--max-memory']] as const) {
      if (given) throw new UsageError(`${name} applies with --standalone only`);
    }
  } else {
    for (const [given, name] of [[opts.upstreamCa !== undefined, '--upstream-ca'], [opts.insecure === true, '--insecure']] as const) {
      if (given) throw new UsageError(`${name} applies with --upstream only`);
    }
  }
  const { formatHostPort, isLoopbackAddress, parseListenAddress, parseUpstreamAddress } = await import('./proxy/address.js');
  const { createSummary } = await import('./view/summary.js');
  const { createHeadlessPrinter, streamOutput } = await import('./view/headless-printer.js');
  const { createSessionRecorder } = await import('./record/recorder.js');
  const { startProxySession, startStandaloneSession } = await import('./session.js');
  const { prepareLiveTui, NoticeRouter, wantsTui } = await import('./tui-launch.js');
  const upstream = opts.upstream !== undefined ? parseUpstreamAddress(opts.upstream) : undefined;
  const defaultPort = upstream ? PROXY_LISTEN_PORT : STANDALONE_LISTEN_PORT;
  const listen = parseListenAddress(opts.listen ?? String(defaultPort), defaultPort);
  if (opts.upstreamCa !== undefined && upstream && !upstream.tls) throw new UsageError('--upstream-ca applies to an amqps:// upstream only');
  let users: BrokerUser[] = [];
  let maxMessageSize: number | undefined;
  let maxConnections: number | undefined;
  let maxMemory: number | undefined;
  const handshakeTimeoutMs = opts.handshakeTimeout === undefined ? undefined : parseInteger('--handshake-timeout', opts.handshakeTimeout, 0, 2_147_483_647, 'milliseconds (0: never)');
  if (opts.standalone) {
    const { parseUserOption } = await import('./broker/broker.js');
    users = opts.user.map(parseUserOption);
    if (opts.maxMessageSize !== undefined) {
      maxMessageSize = Number(opts.maxMessageSize);
      if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1) throw new UsageError(`--max-message-size takes a number of bytes, got "${opts.maxMessageSize}"`);
    }
    if (opts.maxConnections !== undefined) maxConnections = parseInteger('--max-connections', opts.maxConnections, 1, 0xffffffff, 'a number of connections');
    if (opts.maxMemory !== undefined) maxMemory = parseInteger('--max-memory', opts.maxMemory, 1, Number.MAX_SAFE_INTEGER, 'a number of bytes');
  }
  const bufferSize = parseBufferSize(opts.buffer ?? '100000');
  if (opts.recordSecrets && opts.record === undefined) throw new UsageError('--record-secrets applies with --record <file> only');
  const notices = new NoticeRouter((line) => process.stderr.write(`amqp-spy: ${line}\n`));
  const notice = notices.notice;
  if (upstream?.tls) {
    if (opts.insecure) notice('warning: --insecure accepts any certificate from the upstream: whoever can intercept that connection sees the credentials and the traffic');
    if (!isLoopbackAddress(listen.host)) notice(`warning: clients connect to ${formatHostPort(listen.host, listen.port)} in plain text: their credentials cross the network in clear before the proxy encrypts them to the upstream`);
  }
  // `--record -`: stdout carries the recording, so nothing else is printed there
  const recordToStdout = opts.record === '-';
  if (recordToStdout && process.stdout.isTTY) throw new UsageError('--record - writes the recording to stdout: pipe it into a program or a file (amqp-spy ... --record - | gzip > session.jsonl.gz)');
  if (recordToStdout && (opts.json || opts.frames)) throw new UsageError(`--record - puts the recording on stdout, so ${opts.json ? '--json' : '--frames'} has nowhere to print`);
  // every sink exists before the source starts: the TUI's store too (its ink loads later)
  const tui = wantsTui(opts) && !recordToStdout ? await prepareLiveTui(bufferSize, opts.showSecrets ?? false) : undefined;
  const summary = createSummary();
  const sinks: EventSink[] = [summary.sink];
  const sinkNames = ['the summary'];
  // a reader of stdout that stops (a pager) must not make the output grow: the built-in broker
  // waits for it, the proxy (which must keep forwarding) drops lines and says how many
  const printer = tui || recordToStdout ? undefined : createHeadlessPrinter({
    write: writeStdout, json: opts.json ?? false, color: useColor(), mode: opts.frames ? 'frames' : 'messages',
    output: streamOutput(process.stdout),
    whenBehind: upstream ? 'drop' : 'hold',
    onDropped: (n) => notice(`${n} line${n === 1 ? '' : 's'} of output dropped: stdout was not read fast enough, and the proxy forwards rather than wait`),
  });
  if (printer) {
    sinks.push(printer);
    sinkNames.push('the output');
  }
  const target = upstream ? `${upstream.tls ? 'amqps://' : ''}${formatHostPort(upstream.host, upstream.port)}` : undefined;
  const recorder: Recorder | undefined = opts.record !== undefined
    ? createSessionRecorder({
      path: opts.record, keepSecrets: opts.recordSecrets ?? false, mode: upstream ? 'proxy' : 'standalone', tool: `amqp-spy ${VERSION}`, notice,
      listen: formatHostPort(listen.host, listen.port), ...(target !== undefined ? { upstream: target } : {}),
    })
    : undefined;
  if (recorder) {
    sinks.push(recorder.sink);
    sinkNames.push('the recorder');
  }
  const secrets = { showSecrets: opts.showSecrets ?? false, keepSecrets: opts.recordSecrets ?? false, sinks, sinkNames, notice, ...(tui ? { watchers: [tui.observer] } : {}) };
  // who may log in where: users by name only, never their passwords
  const logins = (s: StandaloneSession) => `users ${s.users.join(', ')} · vhosts ${s.vhosts.join(', ')}`;
  let standalone: StandaloneSession | undefined;
  const session = upstream
    ? await startProxySession({
      listen,
      upstream,
      ...(opts.upstreamCa !== undefined ? { upstreamCaFile: opts.upstreamCa } : {}),
      insecure: opts.insecure ?? false,
      ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
      ...secrets,
      ...(recorder ? { recorder } : {}),
    })
    : standalone = await startStandaloneSession({
      listen,
      users,
      vhosts: opts.vhost,
      allowRemoteGuest: opts.allowRemoteGuest ?? false,
      ...(maxMessageSize !== undefined ? { maxMessageSize } : {}),
      ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
      ...(maxConnections !== undefined ? { maxConnections } : {}),
      ...(maxMemory !== undefined ? { maxMemory } : {}),
      ...secrets,
      ...(recorder ? { recorder } : {}),
      ...(printer ? { output: printer } : {}),
    });
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
  const mode = standalone ? `standalone broker ${listening} · ${logins(standalone)}` : `proxy ${listening} → ${target}`;
  let stopping: Promise<void> | undefined;
  // stop accepting, close connections, then flush the recording: every forwarded frame is in it
  const stop = () => (stopping ??= (async () => {
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
    notice(standalone ? `built-in broker listening on ${listening}; ${logins(standalone)} (Ctrl-C to stop)` : `proxying ${listening} → ${target} (Ctrl-C to stop)`);
    await untilSignal();
    await stop();
  }
  printer?.flush();
  notice(summary.text());
  const lost = lossReport(session.sinkFailures(), recorder);
  if (lost !== undefined) notice(lost);
  // every sink has written; exit once stdout has taken the last line
  process.stdout.write('', () => process.exit(lost === undefined ? 0 : 1));
}

/** What the session failed to keep, as one line, or undefined when nothing was lost. */
function lossReport(sinkFailures: number, recorder: Recorder | undefined): string | undefined {
  const parts: string[] = [];
  if (recorder?.error) parts.push(`${recorder.error.message}: ${recorder.eventsLost} event${recorder.eventsLost === 1 ? ' was' : 's were'} not recorded`);
  if (sinkFailures > 0) parts.push(`${sinkFailures} event${sinkFailures === 1 ? '' : 's'} failed to reach every view or the recording (see the notices above)`);
  return parts.length > 0 ? `incomplete: ${parts.join('; ')}` : undefined;
}

/** An integer option in [min, max]; `what` names its unit for the error line. */
function parseInteger(option: string, text: string, min: number, max: number, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${option} takes ${what} from ${min} to ${max}, got "${text}"`);
  return n;
}

/** The most events the TUI can keep: its ring is one array, and each event costs memory. */
const MAX_BUFFER_EVENTS = 10_000_000;

function parseBufferSize(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 100 || n > MAX_BUFFER_EVENTS) {
    throw new UsageError(`--buffer takes a number of events from 100 to ${MAX_BUFFER_EVENTS.toLocaleString('en-US')}, got "${text}"`);
  }
  return n;
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

function useColor(): boolean {
  return process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
}

function writeStdout(output: string | Uint8Array): void {
  process.stdout.write(output);
}

// A closed pipe (`amqp-spy ... | head`) ends the program quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const name = error instanceof Error ? error.name : '';
  const exitCode = USER_ERRORS[name];
  process.stderr.write(`amqp-spy: ${error instanceof Error ? error.message : String(error)}\n`);
  if (exitCode === undefined && error instanceof Error && process.env['AMQP_SPY_DEBUG']) process.stderr.write(`${error.stack}\n`);
  process.exit(exitCode ?? 1);
}

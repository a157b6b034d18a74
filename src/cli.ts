#!/usr/bin/env node
// Arguments → a command (src/commands/). Only parsing and dispatch here: every command's code
// is imported when it runs (the TUI only when it is shown), so `--help` starts fast.

import { Command, CommanderError } from 'commander';
import type { BrokerUser } from './broker/broker.js';
import type { LiveOptions } from './commands/live.js';
import type { FaultRule } from './fault/fault-rule.js';
import { wantsColor, writeStdout } from './commands/stdio.js';
import { AmqpSpyError, UsageError } from './errors.js';
import { VERSION } from './version.js';

const PROXY_LISTEN_PORT = 5673;
const STANDALONE_LISTEN_PORT = 5672;
/** RabbitMQ's management plugin port. */
const MANAGEMENT_PORT = 15672;
/** The port Prometheus exporters conventionally take first (OpenTelemetry's Prometheus exporter). */
const METRICS_PORT = 9464;
const CONTROL_PORT = 8474;

interface RootOptions {
  listen?: string;
  upstream?: string;
  upstreamCa?: string;
  upstreamCert?: string;
  balance?: string;
  upstreamKey?: string;
  insecure?: boolean;
  json?: boolean;
  frames?: boolean;
  showSecrets?: boolean;
  record?: string;
  recordSecrets?: boolean;
  filter?: string;
  recordFilter?: string;
  recordBodies?: string;
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
  definitions?: string;
  management?: string | true;
  metrics?: string | true;
  listenTls?: string;
  cert?: string;
  key?: string;
  clientCa?: string;
  ready?: boolean;
  readyFile?: string;
  fault: string[];
  faults?: string;
  control?: string | true;
  sniff?: string;
  proto?: string;
  protoType: string[];
}

/** `--proto DIR` and `--proto-type RULE` (live, replay, read): how message bodies are decoded. */
interface BodyCliOptions {
  proto?: string;
  protoType: string[];
}

const PROTO_HELP = 'decode protobuf bodies with the .proto files in this directory (see docs/bodies.md)';
const PROTO_TYPE_HELP = "with --proto: which message type a body is, e.g. 'exchange:orders rk:order.* => shop.Order' (repeatable; first match wins)";

/**
 * Loads the schemas of --proto and checks --proto-type before anything starts (a bad file
 * is a usage error); returns them as plain options for the TUI's own thread.
 */
async function setUpBodies(opts: BodyCliOptions): Promise<import('./body/shared-decoder.js').BodyOptions | undefined> {
  if (opts.proto === undefined && opts.protoType.length === 0) return undefined;
  const bodies = { ...(opts.proto !== undefined ? { protoDir: opts.proto } : {}), protoTypes: opts.protoType };
  const { configureBodies } = await import('./body/shared-decoder.js');
  configureBodies(bodies);
  return bodies;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const program = new Command()
  .name('amqp-spy')
  .description('See every AMQP 0-9-1 frame between your clients and your broker.')
  .version(VERSION)
  .showHelpAfterError('(run amqp-spy --help for usage)')
  // options after a subcommand belong to it (`decode --json` is decode's --json)
  .enablePositionalOptions()
  .option(
    '--upstream <address>',
    'the broker to proxy: host:port, amqp://host:port or amqps://host:port (TLS); several, comma-separated, for a cluster: a connection goes on to the next when one cannot be reached',
  )
  .option('--balance <how>', 'with several --upstream brokers: failover (each connection tries them in order, the default) or round-robin')
  .option('--standalone', 'run the built-in in-memory broker instead of proxying one (listens on 127.0.0.1:5672)')
  .option(
    '--listen <address>',
    `where clients connect: port or host:port (default 127.0.0.1:${PROXY_LISTEN_PORT}, or :${STANDALONE_LISTEN_PORT} with --standalone)`,
  )
  .option('--listen-tls <address>', 'also accept TLS (amqps://) clients here: port or host:port; needs --cert and --key (amqp-spy certs makes a test pair)')
  .option('--cert <file>', 'with --listen-tls: the PEM certificate clients are shown')
  .option('--key <file>', 'with --listen-tls: its PEM private key')
  .option('--client-ca <file>', 'with --listen-tls: require client certificates signed by this PEM CA (mutual TLS)')
  .option(
    '--user <name:password[@vhost,...]>',
    'with --standalone: a user, allowed into the vhosts after the last @ (default: all; repeatable; replaces the default guest:guest)',
    collect,
    [],
  )
  .option('--allow-remote-guest', 'with --standalone: accept guest from other machines too (refused by default, as RabbitMQ does)')
  .option('--vhost <name>', 'with --standalone: a virtual host (repeatable; default /)', collect, [])
  .option('--max-message-size <bytes>', 'with --standalone: the largest message body accepted (default 134217728, 128 MiB)')
  .option('--max-connections <n>', 'with --standalone: client connections allowed at once; connection.open beyond it is refused with 530 (default no limit)')
  .option(
    '--max-memory <bytes>',
    "with --standalone: V8 heap + buffer memory above which publishers are blocked (connection.blocked), as RabbitMQ's memory alarm (default 40% of RAM; the heap above 60% of its limit blocks them too)",
  )
  .option(
    '--definitions <file>',
    "with --standalone: load RabbitMQ's definitions export (vhosts, users, permissions, exchanges, queues, bindings); what it cannot apply is listed",
  )
  .option(
    '--management [address]',
    "with --standalone: serve a subset of RabbitMQ's management HTTP API (port or host:port, default 127.0.0.1:15672; basic auth with the broker's users)",
  )
  .option(
    '--metrics [address]',
    'serve Prometheus metrics of the traffic on /metrics and a liveness probe on /healthz (port or host:port, default 127.0.0.1:9464)',
  )
  .option(
    '--handshake-timeout <ms>',
    'close a client that has not opened its connection (--standalone) or sent a protocol header (proxy) this long after connecting; 0: never (default 10000)',
  )
  .option(
    '--sniff <interface:port>',
    'watch AMQP on a network interface without a proxy: tcpdump captures tcp port PORT on INTERFACE (e.g. lo:5672; needs root or CAP_NET_RAW)',
  )
  .option('--upstream-ca <file>', 'PEM CA certificate to trust for an amqps:// upstream')
  .option('--upstream-cert <file>', 'PEM client certificate to show an amqps:// upstream that requires one (mutual TLS); with --upstream-key')
  .option('--upstream-key <file>', 'the PEM private key of --upstream-cert')
  .option('--insecure', 'accept any certificate from an amqps:// upstream')
  .option('--json', 'print events as NDJSON (the recording schema), one object per line')
  .option('--frames', 'print every frame, instead of one line per message for content frames')
  .option('--show-secrets', 'show SASL passwords and update-secret values instead of masking them')
  .option('--record <file>', 'record the session to a file, a FIFO, or - for stdout (JSON lines; replay it with amqp-spy replay <file>)')
  .option('--record-secrets', 'keep credentials in the recording (masked by default)')
  .option(
    '--filter <expr>',
    'show and record only matching events, e.g. "rk:order.* (size>10KB or redelivered)" (see docs/filters.md); the terminal UI starts with it',
  )
  .option(
    '--record-filter <expr>',
    'with --record: record only matching events, with the connection and channel setup replay needs (instead of --filter for the recording)',
  )
  .option('--record-bodies <how>', 'with --record: none or head:N (bytes of each body kept, e.g. head:256); the recording says what it left out')
  .option(
    '--ready',
    'once listening, print one JSON line first on stdout: {"url":"amqp://guest:guest@127.0.0.1:PORT","host","port","mode","pid"} (for a test harness; the terminal UI is not opened)',
  )
  .option('--ready-file <file>', 'once listening, write that JSON line to this file (atomically; removed when the session ends)')
  .option(
    '--fault <rule>',
    "a fault rule, acted out by the proxy or (--standalone) the broker itself, e.g. 'close-channel=404 when method:basic.publish exchange:orders times=1' (repeatable; see docs/faults.md)",
    collect,
    [],
  )
  .option('--faults <file>', 'fault rules from a JSON or YAML file, for the proxy or --standalone (see docs/faults.md)')
  .option(
    '--control [address]',
    `an HTTP JSON API to arm, list and remove fault rules and act on connections while traffic flows, for the proxy or --standalone (port or host:port, default 127.0.0.1:${CONTROL_PORT}; see docs/faults.md)`,
  )
  .option('--proto <dir>', PROTO_HELP)
  .option('--proto-type <rule>', PROTO_TYPE_HELP, collect, [])
  .option('--no-tui', 'print one line per frame or message instead of the terminal UI (the default when stdout is not a terminal)')
  .option(
    '--buffer <events>',
    'the most events the terminal UI keeps; the oldest also leave once the kept ones would take 32 MiB of memory (decoded form counted); never the recording',
    '100000',
  )
  .action(async (opts: RootOptions) => {
    if (opts.sniff !== undefined) {
      const code = await runSniff(opts, opts.sniff);
      process.stdout.write('', () => process.exit(code));
      return;
    }
    const bodies = await setUpBodies(opts);
    const options = await liveOptions(opts);
    const { runLive } = await import('./commands/live.js');
    const code = await runLive(bodies !== undefined ? { ...options, bodies } : options);
    // every sink has written; exit once stdout has taken the last line
    process.stdout.write('', () => process.exit(code));
  });

program
  .command('replay')
  .description('replay a recording made with --record: print it as live, or re-send its clients to a broker (--to)')
  .argument('<file>', 'a recording (amqp-spy --record <file>)')
  .option('--json', 'print events as NDJSON (the recording schema)')
  .option('--frames', 'print every frame, instead of one line per message for content frames')
  .option('--no-tui', 'print to stdout instead of opening the terminal UI')
  .option('--buffer <events>', 'the most events the terminal UI keeps (and at most 32 MiB of memory)', '100000')
  .option('--speed <factor>', 'replay in real time scaled by this factor (default: all at once; with --to, as recorded: 1)')
  .option('--filter <expr>', 'show only matching events, e.g. "method:basic.publish conn:3 rk:order.*"')
  .option('--lenient', 'skip corrupt lines with a warning instead of stopping')
  .option('--show-secrets', 'show credentials (present only in recordings made with --record-secrets)')
  .option('--to <address>', 're-send the client side to this broker (host:port or amqp://user:pass@host:port) and report where its answers differ')
  .option('--timeout <ms>', 'with --to: how long to wait for each awaited server frame', '5000')
  .option('--insecure', 'with an amqps:// --to: accept any certificate')
  .option(
    '--export-bodies <dir>',
    'write each message body (with --filter: each matching one) to DIR as c<conn>-ch<channel>-<event>.<ext>, with a .meta.json of its properties and routing',
  )
  .option('--force', 'with --export-bodies: write into a directory that is not empty')
  .option('--proto <dir>', PROTO_HELP)
  .option('--proto-type <rule>', PROTO_TYPE_HELP, collect, [])
  .action(
    async (
      file: string,
      opts: BodyCliOptions & {
        json?: boolean;
        frames?: boolean;
        tui?: boolean;
        buffer: string;
        speed?: string;
        filter?: string;
        lenient?: boolean;
        showSecrets?: boolean;
        to?: string;
        timeout: string;
        insecure?: boolean;
        exportBodies?: string;
        force?: boolean;
      },
    ) => {
      if (opts.force && opts.exportBodies === undefined) throw new UsageError('--force applies with --export-bodies <dir> only');
      if (opts.exportBodies !== undefined && opts.to !== undefined)
        throw new UsageError('--export-bodies and --to exclude each other: export the bodies, or re-send the clients');
      const speed = opts.speed === undefined ? undefined : Number(opts.speed);
      if (speed !== undefined && !(speed > 0 && Number.isFinite(speed)))
        throw new UsageError(`--speed takes a positive number (e.g. 1 for real time, 10 for ten times faster), got "${opts.speed}"`);
      const timeoutMs = Number(opts.timeout);
      if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) throw new UsageError(`--timeout takes milliseconds, got "${opts.timeout}"`);
      await setUpBodies(opts);
      const { runReplayCommand } = await import('./commands/replay.js');
      const code = await runReplayCommand(
        file,
        {
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
          ...(opts.exportBodies !== undefined ? { exportBodies: opts.exportBodies, force: opts.force ?? false } : {}),
        },
        await terminalIo(),
      );
      process.stdout.write('', () => process.exit(code));
    },
  );

program
  .command('decode')
  .description('decode a file of raw bytes of one direction of an AMQP connection, one line per frame')
  .argument('<file>', 'raw bytes as captured (client→server starting with "AMQP", or server→client)')
  .option('--json', 'one JSON object per frame (the recording schema)')
  .option('--show-secrets', 'show SASL passwords and update-secret values instead of masking them')
  .action(async (file: string, opts: { json?: boolean; showSecrets?: boolean }) => {
    const { runDecodeCommand } = await import('./commands/decode.js');
    const { streamOutput } = await import('./view/headless-printer.js');
    await runDecodeCommand(
      file,
      { json: opts.json ?? false, showSecrets: opts.showSecrets ?? false },
      { write: writeStdout, output: streamOutput(process.stdout), color: wantsColor() },
    );
  });

program
  .command('certs')
  .description('make a local CA, a server certificate (localhost, 127.0.0.1, ::1) and a client certificate for --listen-tls, with openssl')
  .argument('<dir>', 'where the PEM files go (made if missing)')
  .option('--host <name>', 'another name or IP address the server certificate is valid for (repeatable)', collect, [])
  .option('--force', 'replace the files if they are there')
  .action(async (dir: string, opts: { host: string[]; force?: boolean }) => {
    const { makeCerts } = await import('./commands/certs.js');
    for (const line of makeCerts({ dir, hosts: opts.host, force: opts.force ?? false })) process.stderr.write(`amqp-spy: ${line}\n`);
  });

program
  .command('read')
  .description('read a pcap or pcapng capture (tcpdump, Wireshark): its AMQP connections shown as live, or converted to a recording (--record)')
  .argument('<capture>', 'a .pcap or .pcapng file')
  .option('--json', 'print events as NDJSON (the recording schema)')
  .option('--frames', 'print every frame, instead of one line per message for content frames')
  .option('--no-tui', 'print to stdout instead of opening the terminal UI')
  .option('--buffer <events>', 'the most events the terminal UI keeps (and at most 32 MiB of memory)', '100000')
  .option('--filter <expr>', 'show only matching events, e.g. "method:basic.publish conn:3 rk:order.*"')
  .option('--port <port>', 'a broker port: connections already open when the capture started are decoded on it (repeatable; default 5672)', collect, [])
  .option('--record <file>', 'write what was read as a recording (JSON lines; - for stdout)')
  .option('--record-secrets', 'keep credentials in the recording (masked by default)')
  .option('--show-secrets', 'show SASL passwords and update-secret values instead of masking them')
  .option('--proto <dir>', PROTO_HELP)
  .option('--proto-type <rule>', PROTO_TYPE_HELP, collect, [])
  .action(async (file: string, opts: CaptureCliOptions & BodyCliOptions) => {
    await setUpBodies(opts);
    const { runReadCommand } = await import('./commands/read.js');
    const code = await runReadCommand(file, captureViewOptions(opts), await terminalIo());
    process.stdout.write('', () => process.exit(code));
  });

program
  .command('export')
  .description('write a recording as a pcapng capture: each connection a TCP conversation Wireshark and tshark decode as AMQP')
  .argument('<recording>', 'a recording (amqp-spy --record <file>)')
  .requiredOption('--pcapng <file>', 'the capture to write')
  .option('--lenient', 'skip corrupt lines with a warning instead of stopping')
  .action(async (file: string, opts: { pcapng: string; lenient?: boolean }) => {
    const { runExportCommand } = await import('./commands/export.js');
    const code = await runExportCommand(file, opts.pcapng, {
      lenient: opts.lenient ?? false,
      notice: (line) => process.stderr.write(`amqp-spy: ${line}\n`),
    });
    process.exit(code);
  });

interface CaptureCliOptions {
  json?: boolean;
  frames?: boolean;
  tui?: boolean;
  buffer: string;
  filter?: string;
  port: string[];
  record?: string;
  recordSecrets?: boolean;
  showSecrets?: boolean;
}

function captureViewOptions(opts: CaptureCliOptions): import('./commands/read.js').CaptureViewOptions {
  if (opts.recordSecrets && opts.record === undefined) throw new UsageError('--record-secrets applies with --record <file> only');
  const ports = opts.port.map((p) => parseInteger('--port', p, 1, 65535, 'a TCP port'));
  return {
    json: opts.json ?? false,
    frames: opts.frames ?? false,
    tui: opts.tui ?? true,
    bufferSize: parseBufferSize(opts.buffer),
    ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
    ...(ports.length > 0 ? { ports } : {}),
    ...(opts.record !== undefined ? { record: opts.record } : {}),
    recordSecrets: opts.recordSecrets ?? false,
    showSecrets: opts.showSecrets ?? false,
  };
}

/** `--sniff IFACE:PORT`: passive capture, with the views and recording options of the live modes. */
async function runSniff(opts: RootOptions, target: string): Promise<number> {
  for (const [given, name] of [
    [opts.upstream !== undefined, '--upstream'],
    [opts.standalone === true, '--standalone'],
    [opts.listen !== undefined, '--listen'],
  ] as const) {
    if (given) throw new UsageError(`--sniff watches traffic without a proxy or broker: ${name} does not apply`);
  }
  for (const [given, name] of [
    [opts.recordFilter !== undefined, '--record-filter'],
    [opts.recordBodies !== undefined, '--record-bodies'],
  ] as const) {
    if (given) throw new UsageError(`${name} applies to live --upstream and --standalone sessions, not to --sniff`);
  }
  const { parseSniffTarget, runSniffCommand } = await import('./commands/sniff.js');
  return runSniffCommand(
    parseSniffTarget(target),
    captureViewOptions({
      json: opts.json ?? false,
      frames: opts.frames ?? false,
      tui: opts.tui ?? true,
      buffer: opts.buffer ?? '100000',
      port: [],
      ...(opts.record !== undefined ? { record: opts.record } : {}),
      ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
      recordSecrets: opts.recordSecrets ?? false,
      showSecrets: opts.showSecrets ?? false,
    }),
    await terminalIo(),
  );
}

/** Where the replay, read and sniff commands print: stdout (held while a reader is slow), notices on stderr, and whether a terminal is there for the TUI. */
async function terminalIo() {
  const { streamOutput } = await import('./view/headless-printer.js');
  return {
    write: writeStdout,
    output: streamOutput(process.stdout),
    notice: (line: string) => process.stderr.write(`amqp-spy: ${line}\n`),
    color: wantsColor(),
    terminal: process.stdout.isTTY === true && process.stdin.isTTY === true,
  };
}

/** The live modes' options, checked: proxy (--upstream) or the built-in broker (--standalone). */
async function liveOptions(opts: RootOptions): Promise<LiveOptions> {
  if (opts.upstream === undefined && !opts.standalone) {
    throw new UsageError(
      'nothing to do: give --upstream host:port to put the proxy in front of a broker, or --standalone to run the built-in broker (or a subcommand: amqp-spy decode <file>)',
    );
  }
  if (opts.upstream !== undefined && opts.standalone)
    throw new UsageError('--upstream and --standalone exclude each other: proxy a broker, or run the built-in one');
  if (!opts.standalone) {
    for (const [given, name] of [
      [opts.user.length > 0, '--user'],
      [opts.vhost.length > 0, '--vhost'],
      [opts.maxMessageSize !== undefined, '--max-message-size'],
      [opts.maxConnections !== undefined, '--max-connections'],
      [opts.allowRemoteGuest === true, '--allow-remote-guest'],
      [opts.maxMemory !== undefined, '--max-memory'],
      [opts.definitions !== undefined, '--definitions'],
      [opts.management !== undefined, '--management'],
    ] as const) {
      if (given) throw new UsageError(`${name} applies with --standalone only`);
    }
  } else {
    for (const [given, name] of [
      [opts.upstreamCa !== undefined, '--upstream-ca'],
      [opts.upstreamCert !== undefined, '--upstream-cert'],
      [opts.upstreamKey !== undefined, '--upstream-key'],
      [opts.insecure === true, '--insecure'],
    ] as const) {
      if (given) throw new UsageError(`${name} applies with --upstream only`);
    }
  }
  const { parseListenAddress, parseUpstreamAddress } = await import('./source/address.js');
  const upstreams = opts.upstream !== undefined ? opts.upstream.split(',').map((text) => parseUpstreamAddress(text.trim())) : [];
  const upstream = upstreams[0];
  if (opts.balance !== undefined && opts.balance !== 'failover' && opts.balance !== 'round-robin')
    throw new UsageError(`--balance takes failover or round-robin, got "${opts.balance}"`);
  if (opts.balance !== undefined && upstreams.length < 2) throw new UsageError('--balance applies with several --upstream brokers (a,b,...)');
  const defaultPort = upstream ? PROXY_LISTEN_PORT : STANDALONE_LISTEN_PORT;
  const listen = parseListenAddress(opts.listen ?? String(defaultPort), defaultPort);
  if (opts.upstreamCa !== undefined && upstream && !upstream.tls) throw new UsageError('--upstream-ca applies to an amqps:// upstream only');
  if ((opts.upstreamCert !== undefined || opts.upstreamKey !== undefined) && upstream && !upstream.tls)
    throw new UsageError(`${opts.upstreamCert !== undefined ? '--upstream-cert' : '--upstream-key'} applies to an amqps:// upstream only`);
  if ((opts.upstreamCert === undefined) !== (opts.upstreamKey === undefined))
    throw new UsageError('--upstream-cert and --upstream-key go together: the certificate and its private key');
  let users: BrokerUser[] = [];
  let maxMessageSize: number | undefined;
  let maxConnections: number | undefined;
  let maxMemory: number | undefined;
  const handshakeTimeoutMs =
    opts.handshakeTimeout === undefined ? undefined : parseInteger('--handshake-timeout', opts.handshakeTimeout, 0, 2_147_483_647, 'milliseconds (0: never)');
  if (opts.standalone) {
    const { parseUserOption } = await import('./broker/broker.js');
    users = opts.user.map(parseUserOption);
    if (opts.maxMessageSize !== undefined) {
      maxMessageSize = Number(opts.maxMessageSize);
      if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1)
        throw new UsageError(`--max-message-size takes a number of bytes, got "${opts.maxMessageSize}"`);
    }
    if (opts.maxConnections !== undefined) maxConnections = parseInteger('--max-connections', opts.maxConnections, 1, 0xffffffff, 'a number of connections');
    if (opts.maxMemory !== undefined) maxMemory = parseInteger('--max-memory', opts.maxMemory, 1, Number.MAX_SAFE_INTEGER, 'a number of bytes');
  }
  const management =
    opts.management === undefined
      ? undefined
      : parseListenAddress(opts.management === true ? String(MANAGEMENT_PORT) : opts.management, MANAGEMENT_PORT, '--management');
  const metrics =
    opts.metrics === undefined ? undefined : parseListenAddress(opts.metrics === true ? String(METRICS_PORT) : opts.metrics, METRICS_PORT, '--metrics');
  const control =
    opts.control === undefined ? undefined : parseListenAddress(opts.control === true ? String(CONTROL_PORT) : opts.control, CONTROL_PORT, '--control');
  if (opts.listenTls === undefined) {
    for (const [given, name] of [
      [opts.cert !== undefined, '--cert'],
      [opts.key !== undefined, '--key'],
      [opts.clientCa !== undefined, '--client-ca'],
    ] as const)
      if (given) throw new UsageError(`${name} applies with --listen-tls only`);
  } else if (opts.cert === undefined || opts.key === undefined)
    throw new UsageError('--listen-tls needs --cert <file> and --key <file> (amqp-spy certs <dir> makes a test pair)');
  const tlsListen =
    opts.listenTls !== undefined && opts.cert !== undefined && opts.key !== undefined
      ? {
          listen: parseListenAddress(opts.listenTls, 5671, '--listen-tls'),
          cert: opts.cert,
          key: opts.key,
          ...(opts.clientCa !== undefined ? { clientCa: opts.clientCa } : {}),
        }
      : undefined;
  const bufferSize = parseBufferSize(opts.buffer ?? '100000');
  if (opts.recordSecrets && opts.record === undefined) throw new UsageError('--record-secrets applies with --record <file> only');
  if (opts.ready && opts.record === '-') throw new UsageError('--ready prints on stdout, where --record - puts the recording: use --ready-file <file> instead');
  for (const [given, name] of [
    [opts.recordFilter !== undefined, '--record-filter'],
    [opts.recordBodies !== undefined, '--record-bodies'],
  ] as const) {
    if (given && opts.record === undefined) throw new UsageError(`${name} applies with --record <file> only`);
  }
  // filters are checked before anything listens: a bad one is one line with its column, exit 2
  const { parseFilter } = await import('./view/filter.js');
  const filter = opts.filter !== undefined ? parseFilter(opts.filter) : undefined;
  const recordFilter = opts.recordFilter !== undefined ? parseFilter(opts.recordFilter) : undefined;
  const recordBodies = opts.recordBodies !== undefined ? (await import('./record/record-selection.js')).parseRecordBodies(opts.recordBodies) : undefined;
  // every rule is checked before the session starts: one bad rule arms none
  const faults: FaultRule[] = [];
  if (opts.fault.length > 0 || opts.faults !== undefined) {
    const { parseFaultRule } = await import('./fault/fault-rule.js');
    const { readFaultFile } = await import('./fault/fault-file.js');
    faults.push(...opts.fault.map((rule) => parseFaultRule(rule)));
    if (opts.faults !== undefined) faults.push(...readFaultFile(opts.faults));
  }
  return {
    listen,
    ...(upstream !== undefined ? { upstream } : {}),
    ...(opts.upstream !== undefined ? { upstreamText: opts.upstream.split(',')[0]!.trim() } : {}),
    ...(upstreams.length > 1 ? { alternates: upstreams.slice(1), balance: opts.balance === 'round-robin' ? 'round-robin' : 'failover' } : {}),
    ...(opts.upstreamCa !== undefined ? { upstreamCa: opts.upstreamCa } : {}),
    ...(opts.upstreamCert !== undefined && opts.upstreamKey !== undefined ? { upstreamClientCert: { cert: opts.upstreamCert, key: opts.upstreamKey } } : {}),
    insecure: opts.insecure ?? false,
    users,
    vhosts: opts.vhost,
    allowRemoteGuest: opts.allowRemoteGuest ?? false,
    ...(maxMessageSize !== undefined ? { maxMessageSize } : {}),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
    ...(maxMemory !== undefined ? { maxMemory } : {}),
    ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
    ...(opts.definitions !== undefined ? { definitions: opts.definitions } : {}),
    ...(management !== undefined ? { management } : {}),
    ...(metrics !== undefined ? { metrics } : {}),
    ...(control !== undefined ? { control } : {}),
    ...(tlsListen !== undefined ? { tlsListen } : {}),
    bufferSize,
    ...(opts.record !== undefined ? { record: opts.record } : {}),
    recordSecrets: opts.recordSecrets ?? false,
    ...(filter !== undefined && !filter.empty ? { filter } : {}),
    ...(recordFilter !== undefined ? { recordFilter } : {}),
    ...(recordBodies !== undefined ? { recordBodies } : {}),
    showSecrets: opts.showSecrets ?? false,
    json: opts.json ?? false,
    frames: opts.frames ?? false,
    tui: opts.tui ?? true,
    ready: opts.ready ?? false,
    ...(opts.readyFile !== undefined ? { readyFile: opts.readyFile } : {}),
    faults,
  };
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
  const exitCode = error instanceof AmqpSpyError ? error.exitCode : undefined;
  process.stderr.write(`amqp-spy: ${error instanceof Error ? error.message : String(error)}\n`);
  if (exitCode === undefined && error instanceof Error && process.env['AMQP_SPY_DEBUG']) process.stderr.write(`${error.stack}\n`);
  process.exit(exitCode ?? 1);
}

#!/usr/bin/env node
// Arguments → a session. No protocol logic here; the TUI is imported lazily so `--help` and
// headless modes start fast.

import { Command, CommanderError } from 'commander';
import { decodeFile, InputFileError } from './decode-file.js';
import { AddressError, formatHostPort, parseListenAddress, parseUpstreamAddress } from './proxy/address.js';
import { ListenError } from './proxy/proxy-server.js';
import { CaFileError, startProxySession } from './session.js';
import { createHeadlessPrinter } from './view/headless-printer.js';
import { createSummary } from './view/summary.js';
import { VERSION } from './version.js';

const PROXY_LISTEN_PORT = 5673;

class UsageError extends Error {}

interface RootOptions {
  listen?: string;
  upstream?: string;
  upstreamCa?: string;
  insecure?: boolean;
  json?: boolean;
  frames?: boolean;
  showSecrets?: boolean;
}

const program = new Command()
  .name('amqp-spy')
  .description('See every AMQP 0-9-1 frame between your clients and your broker.')
  .version(VERSION)
  .showHelpAfterError('(run amqp-spy --help for usage)')
  // options after a subcommand belong to it (`decode --json` is decode's --json)
  .enablePositionalOptions()
  .option('--upstream <address>', 'the broker to proxy: host:port, amqp://host:port or amqps://host:port (TLS)')
  .option('--listen <address>', `where clients connect: port or host:port (default 127.0.0.1:${PROXY_LISTEN_PORT})`)
  .option('--upstream-ca <file>', 'PEM CA certificate to trust for an amqps:// upstream')
  .option('--insecure', 'accept any certificate from an amqps:// upstream')
  .option('--json', 'print events as NDJSON (the recording schema), one object per line')
  .option('--frames', 'print every frame, instead of one line per message for content frames')
  .option('--show-secrets', 'show SASL passwords and update-secret values instead of masking them')
  .action(async (opts: RootOptions) => runProxy(opts));

program
  .command('decode')
  .description('decode a file of raw bytes of one direction of an AMQP connection, one line per frame')
  .argument('<file>', 'raw bytes as captured (client→server starting with "AMQP", or server→client)')
  .option('--json', 'one JSON object per frame (the recording schema)')
  .option('--show-secrets', 'show SASL passwords and update-secret values instead of masking them')
  .action(async (file: string, opts: { json?: boolean; showSecrets?: boolean }) => {
    const printer = createHeadlessPrinter({
      write: writeStdout,
      json: opts.json ?? false,
      color: useColor(),
      mode: 'frames',
      position: 'offset',
    });
    await decodeFile(file, printer, { showSecrets: opts.showSecrets ?? false });
  });

async function runProxy(opts: RootOptions): Promise<void> {
  if (opts.upstream === undefined) {
    throw new UsageError('nothing to do: give --upstream host:port to put the proxy in front of a broker (or a subcommand: amqp-spy decode <file>)');
  }
  const upstream = parseUpstreamAddress(opts.upstream);
  const listen = parseListenAddress(opts.listen ?? String(PROXY_LISTEN_PORT), PROXY_LISTEN_PORT);
  if (opts.upstreamCa !== undefined && !upstream.tls) throw new UsageError('--upstream-ca applies to an amqps:// upstream only');
  const summary = createSummary();
  const printer = createHeadlessPrinter({
    write: writeStdout,
    json: opts.json ?? false,
    color: useColor(),
    mode: opts.frames ? 'frames' : 'messages',
  });
  const notice = (line: string) => process.stderr.write(`amqp-spy: ${line}\n`);
  const session = await startProxySession({
    listen,
    upstream,
    ...(opts.upstreamCa !== undefined ? { upstreamCaFile: opts.upstreamCa } : {}),
    insecure: opts.insecure ?? false,
    showSecrets: opts.showSecrets ?? false,
    sinks: [summary.sink, printer],
    notice,
  });
  notice(`proxying ${formatHostPort(session.address.address, session.address.port)} → ${upstream.tls ? 'amqps://' : ''}${formatHostPort(upstream.host, upstream.port)} (Ctrl-C to stop)`);
  await untilSignal();
  await session.stop();
  notice(summary.text());
  // every sink has written; exit once stdout has taken the last line
  process.stdout.write('', () => process.exit(0));
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

function writeStdout(text: string): void {
  process.stdout.write(text);
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
  if (error instanceof UsageError || error instanceof AddressError || error instanceof CaFileError) {
    process.stderr.write(`amqp-spy: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof ListenError) {
    process.stderr.write(`amqp-spy: ${error.message}\n`);
    process.exit(1);
  }
  if (error instanceof InputFileError) {
    process.stderr.write(`amqp-spy: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`amqp-spy: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

// A proxy session drawn by the TUI, for the tmux end-to-end test (run with `npx tsx`):
//   tui-session.ts <listen-port> <upstream-host:port>
// Writes `listening <port>` to the file in AMQP_SPY_TUI_READY_FILE once the proxy listens, and
// `quit done` there after the session stopped, so the test can tell both happened.

import fs from 'node:fs';
import { startProxySession } from '../../src/session.js';
import { runTui } from '../../src/tui/run-tui.js';

const [listenArg = '0', upstreamArg = '127.0.0.1:5672'] = process.argv.slice(2);
const [upstreamHost = '127.0.0.1', upstreamPort = '5672'] = upstreamArg.split(':');
const readyFile = process.env['AMQP_SPY_TUI_READY_FILE'];

const sinks: ((event: import('../../src/events.js').SpyEvent) => void)[] = [];
const noticeSinks: ((line: string) => void)[] = [];
const session = await startProxySession({
  listen: { host: '127.0.0.1', port: Number(listenArg) },
  upstream: { host: upstreamHost, port: Number(upstreamPort), tls: false },
  sinks: [(event) => { for (const sink of sinks) sink(event); }],
  notice: (line) => { for (const sink of noticeSinks) sink(line); },
});
if (readyFile) fs.writeFileSync(readyFile, `listening ${session.address.port}\n`);
await runTui({
  mode: `proxy 127.0.0.1:${session.address.port} → ${upstreamHost}:${upstreamPort}`,
  subscribe(sink) {
    sinks.push(sink);
    return () => sinks.splice(sinks.indexOf(sink), 1);
  },
  notices(sink) {
    noticeSinks.push(sink);
    return () => noticeSinks.splice(noticeSinks.indexOf(sink), 1);
  },
  onQuit: async () => {
    await session.stop();
  },
});
if (readyFile) fs.appendFileSync(readyFile, 'quit done\n');
process.exit(0);

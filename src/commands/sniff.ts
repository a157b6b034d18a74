// `amqp-spy --sniff IFACE:PORT`: live passive capture. tcpdump captures, the capture reader
// reassembles and finds the AMQP connections, the views show them as they happen: nothing sits
// on the data path, so clients change nothing and pay nothing.

import { readCapture } from '../capture/read-capture.js';
import { droppedByKernel, startTcpdump } from '../capture/tcpdump.js';
import { UsageError } from '../errors.js';
import { plural } from '../view/summary.js';
import { runCaptureViews, type CaptureViewIo, type CaptureViewOptions } from './read.js';

export interface SniffTarget {
  readonly iface: string;
  readonly port: number;
}

/** `lo:5672` → interface and port (the port is after the last colon). */
export function parseSniffTarget(text: string): SniffTarget {
  const colon = text.lastIndexOf(':');
  const iface = colon > 0 ? text.slice(0, colon) : '';
  const port = Number(colon > 0 ? text.slice(colon + 1) : '');
  if (iface === '' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--sniff takes INTERFACE:PORT, e.g. lo:5672 or eth0:5672 (any: every interface), got "${text}"`);
  return { iface, port };
}

export async function runSniffCommand(target: SniffTarget, options: CaptureViewOptions, io: CaptureViewIo & { readonly tcpdump?: string }): Promise<number> {
  const name = `sniff ${target.iface}:${target.port}`;
  const tcpdump = await startTcpdump(target.iface, target.port, io.tcpdump);
  io.notice(`capturing tcp port ${target.port} on ${target.iface} with tcpdump (Ctrl-C to stop)`);
  return runCaptureViews(
    {
      name,
      mode: name,
      live: true,
      read: async (observer, hold, signal, notice) => {
        // a stop lets tcpdump write what it holds; the reading ends with its output
        signal.addEventListener('abort', () => tcpdump.stop(), { once: true });
        try {
          return await readCapture({
            source: `tcpdump on ${target.iface}`,
            input: tcpdump.output,
            observer,
            notice,
            ports: [target.port, ...(options.ports ?? [])],
            ...(hold ? { hold } : {}),
          });
        } finally {
          tcpdump.stop();
          const { code, stderr } = await tcpdump.exited;
          const dropped = droppedByKernel(stderr);
          if (dropped !== undefined) notice(`warning: tcpdump: ${plural(dropped, 'packet')} dropped by the kernel (the capture has gaps)`);
          if (!signal.aborted && code !== 0 && code !== null) notice(`tcpdump stopped: ${stderr.at(-1) ?? `exit code ${code}`}`);
        }
      },
    },
    options,
    io,
  );
}

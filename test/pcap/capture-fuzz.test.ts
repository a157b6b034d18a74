// Hostile captures: whatever bytes a file holds, reading it ends with events and counted
// warnings, or one CaptureFormatError line; never another exception, never a hang.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureFormatError } from '../../src/capture/capture-file.js';
import { readCapture } from '../../src/capture/read-capture.js';
import { EventBus } from '../../src/events.js';
import { createTapObserver } from '../../src/tap/tap-observer.js';
import { captureFile, conversation, type FileFormat, type LinkLayer } from '../support/capture-builder.js';
import { capturedSession } from '../support/fixtures.js';

const { c2s, s2c } = capturedSession();
const small = { c2s: c2s.subarray(0, 3000), s2c: s2c.subarray(0, 3000) };

async function readBytes(file: Buffer, chunk: number): Promise<number> {
  let events = 0;
  const observer = createTapObserver(new EventBus([() => events++]), { keepUndecoded: true, frameMaxUntilTuneOk: 0 });
  async function* input(): AsyncGenerator<Buffer> {
    for (let at = 0; at < file.length; at += chunk) yield file.subarray(at, at + chunk);
  }
  await readCapture({ source: 'fuzz.pcap', input: input(), observer, notice: () => {}, ports: [5672] });
  return events;
}

describe('hostile captures', () => {
  it('mutated captures: events or one CaptureFormatError, nothing else', async () => {
    const formats: FileFormat[] = ['pcap', 'pcap-be', 'pcapng', 'pcapng-be'];
    const links: LinkLayer[] = ['ethernet', 'vlan', 'sll2', 'raw', 'null'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...formats),
        fc.constantFrom(...links),
        fc.constantFrom<4 | 6>(4, 6),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.nat(),
        async (format, link, ip, flips, chunk, cutAt) => {
          const file = captureFile(conversation(small.c2s, small.s2c, { mss: 300 }), { format, link, ip });
          for (const [at, value] of flips) file[at % file.length] = value;
          const cut = cutAt % 7 === 0 ? file.subarray(0, cutAt % file.length) : file;
          try {
            await readBytes(cut, chunk);
          } catch (error) {
            expect(error).toBeInstanceOf(CaptureFormatError);
            expect((error as Error).message).not.toContain('\n');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes after a valid header: no exception but CaptureFormatError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4000 }), fc.constantFrom<FileFormat>('pcap', 'pcapng'), async (noise, format) => {
        const header = captureFile([], { format });
        try {
          await readBytes(Buffer.concat([header, noise]), 997);
        } catch (error) {
          expect(error).toBeInstanceOf(CaptureFormatError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// The recording reader's line cutting: lines out of reads of any size, and a line that spans
// many reads copied a bounded number of times (the carried part was concatenated onto every
// read, so replaying a long line took time in the square of its length).
import { describe, expect, it } from 'vitest';
import { LineCutter } from '../../src/record/line-cutter.js';

/** Every line the cutter gives for `text` read in chunks of `size` bytes, through one reused buffer as the reader does. */
function cut(text: Buffer, size: number): { lines: string[]; copied: number } {
  const cutter = new LineCutter();
  const buffer = Buffer.alloc(size);
  const lines: string[] = [];
  for (let at = 0; at < text.length; at += size) {
    const n = text.copy(buffer, 0, at, at + size);
    cutter.feed(buffer.subarray(0, n));
    while (cutter.next()) lines.push(cutter.bytes.toString('latin1', cutter.start, cutter.end));
    buffer.fill(0x21); // the next read overwrites the buffer: nothing may point into it
  }
  if (cutter.finish()) lines.push(cutter.bytes.toString('latin1', cutter.start, cutter.end));
  return { lines, copied: cutter.copiedBytes };
}

describe('LineCutter', () => {
  it('gives the same lines for every read size, empty lines and an unterminated last line included', () => {
    const text = Buffer.from('{"a":1}\n\nsecond line\r\nx\n' + 'long '.repeat(40) + '\nlast without newline', 'latin1');
    const expected = text.toString('latin1').split('\n');
    for (let size = 1; size <= text.length + 1; size++) expect(cut(text, size).lines, `read size ${size}`).toEqual(expected);
    expect(cut(Buffer.from('ends with a newline\n'), 4).lines).toEqual(['ends with a newline']);
  });

  it('copies nothing for lines inside one read', () => {
    expect(cut(Buffer.from('one\ntwo\nthree\n'), 1024)).toEqual({ lines: ['one', 'two', 'three'], copied: 0 });
  });

  it('copies a line that spans many reads at most twice, not once per read', () => {
    const chunk = 64 * 1024;
    const line = Buffer.alloc(4 * 1024 * 1024, 0x61); // 64 reads
    const text = Buffer.concat([Buffer.from('head\n'), line, Buffer.from('\ntail\n'), line]);
    const { lines, copied } = cut(text, chunk);
    expect(lines.map((l) => l.length)).toEqual([4, line.length, 4, line.length]);
    expect(lines[1] === line.toString('latin1') && lines[3] === lines[1]).toBe(true);
    // carrying the pieces and joining them once: 2 copies of each long line. Concatenating
    // the carry onto each read copied each line over 30 times here (64 reads).
    expect(copied).toBeLessThanOrEqual(2 * 2 * line.length + 2 * chunk);
  });
});

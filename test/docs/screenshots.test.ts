// The README's pictures of the TUI (docs/images/*.svg) are made by scripts/screenshots.mjs from
// the real CLI in tmux. This regenerates them into a temporary directory and compares what
// each shows — every row's text, colour and weight; times, round trips, rates and generated
// names masked — with the committed ones, so a change to the TUI that leaves the pictures
// stale fails here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.js';
import { HAVE_TMUX } from '../support/tmux.js';

const IMAGES = path.join(REPO_ROOT, 'docs/images');
const REGENERATE = 'npm run build && node scripts/screenshots.mjs';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-shots-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const unescapeXml = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** What a picture shows, one string per drawn row: its runs as `fill,bold:text`, with what varies from run to run masked. */
function screenText(svg: string): string[] {
  const rows: string[] = [];
  for (const row of svg.matchAll(/<text y="[\d.]+">(.*?)<\/text>/g)) {
    const runs = [...row[1]!.matchAll(/<tspan x="[\d.]+"([^>]*)>(.*?)<\/tspan>/g)].map((t) => {
      const fill = /fill="([^"]+)"/.exec(t[1]!)?.[1] ?? '';
      return `${fill}${/bold/.test(t[1]!) ? ',b' : ''}:${unescapeXml(t[2]!)}`;
    });
    rows.push(
      runs
        .join(' | ')
        .replace(/\b\d\d:\d\d:\d\d\.\d{3}\b/g, 'HH:MM:SS.mmm')
        .replace(/\b\d+(\.\d+)? ?(µs|ms|s)\b/g, 'N ms')
        .replace(/\b\d+ (frames|msgs)\/s/g, 'N $1/s')
        .replace(/amq\.ctag-[\w-]+/g, 'amq.ctag-X')
        .replace(/(Node\.JS v|amqplib )[\d.]+/g, '$1X')
        .replace(/\s+/g, ' ')
        .trim(),
    );
  }
  return rows;
}

(HAVE_TMUX ? describe : describe.skip)('docs/images: the TUI pictures match the TUI', () => {
  it(`regenerated, they show what the committed ones show (else run: ${REGENERATE})`, () => {
    const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/screenshots.mjs'), '--out', tmp], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `scripts/screenshots.mjs failed:\n${run.stderr}`).toBe(0);
    const committed = fs.readdirSync(IMAGES).filter((f) => f.endsWith('.svg'));
    const fresh = fs.readdirSync(tmp).filter((f) => f.endsWith('.svg'));
    expect(fresh.sort(), `the pictures made differ from docs/images: run ${REGENERATE}`).toEqual(committed.sort());
    for (const file of fresh) {
      const now = screenText(fs.readFileSync(path.join(tmp, file), 'utf8'));
      const then = screenText(fs.readFileSync(path.join(IMAGES, file), 'utf8'));
      expect(now, `docs/images/${file} no longer shows what the TUI draws: run ${REGENERATE} and commit docs/images`).toEqual(then);
    }
  }, 150_000);
});

// docs/README.md lists every document, the README links the index, and no relative link in
// the README or docs/ points at a file that is not there.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.js';

const DOCS = path.join(REPO_ROOT, 'docs');
const pages = [
  path.join(REPO_ROOT, 'README.md'),
  ...fs
    .readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join(DOCS, f)),
];

describe('the docs index', () => {
  it('lists every docs/*.md, and the README links it', () => {
    const index = fs.readFileSync(path.join(DOCS, 'README.md'), 'utf8');
    for (const file of fs.readdirSync(DOCS).filter((f) => f.endsWith('.md') && f !== 'README.md'))
      expect(index, `docs/README.md does not list ${file}`).toContain(`](${file})`);
    expect(fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain('](docs/README.md)');
  });

  it('has no relative link to a missing file', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = fs.readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        if (!fs.existsSync(path.resolve(path.dirname(page), target))) broken.push(`${path.relative(REPO_ROOT, page)} → ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

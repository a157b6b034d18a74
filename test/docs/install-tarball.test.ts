// Install like a tool, as docs/install.md says: `npm pack`, then `npm install -g` of the
// tarball into a private prefix, then `amqp-spy --version` from that prefix's bin. The
// tarball's dependencies come from the npm registry (or npm's cache): this proves the packed
// files are enough to run, which a test of the clone's dist/ cannot.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-install-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

function npm(args: string[], cwd = REPO_ROOT): string {
  // --ignore-scripts: dist/ is already built by `npm test`; the tarball ships it
  const result = spawnSync('npm', [...args, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', timeout: 90_000 });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  return result.stdout;
}

describe('npm install -g from a packed tarball', () => {
  it('ships dist/ only (no sources, tests or fixtures) and runs `amqp-spy --version`', () => {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp])) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('README.md');
    expect(files.filter((f) => /^(src|test|fixtures|bench|scripts)\//.test(f))).toEqual([]);
    const prefix = path.join(tmp, 'global');
    npm(['install', '-g', '--prefix', prefix, '--prefer-offline', path.join(tmp, packed!.filename)], tmp);
    const bin = path.join(prefix, 'bin', 'amqp-spy');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(help.stdout).toContain('--standalone');
  }, 120_000);
});

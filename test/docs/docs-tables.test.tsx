// The docs' key, filter and option tables are generated (scripts/docs-tables.mjs) from the key
// map, the filter grammar and commander's --help; the TUI's `?` screen draws the same key map
// and grammar. Stale tables fail here, with the command that regenerates them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { HelpScreen } from '../../src/tui/components/HelpScreen.js';
import { bindingLabel, KEYMAP } from '../../src/tui/keymap.js';
import { FILTER_KEYS } from '../../src/view/filter.js';
import { REPO_ROOT } from '../support/fixtures.js';

const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const tuiDoc = fs.readFileSync(path.join(REPO_ROOT, 'docs/tui.md'), 'utf8');
const between = (text: string, name: string): string =>
  new RegExp(`<!-- BEGIN generated: ${name}[^>]*-->\\n([\\s\\S]*?)<!-- END generated: ${name} -->`).exec(text)?.[1] ?? '';

describe('generated doc tables', () => {
  it('match the key map, the filter grammar and --help (else run: npm run build && node scripts/docs-tables.mjs)', () => {
    const check = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/docs-tables.mjs'), '--check'], { encoding: 'utf8', timeout: 30_000 });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('list every key of the key map, as the ? help screen does', () => {
    const table = between(readme, 'keys');
    expect(between(tuiDoc, 'keys')).toBe(table);
    const { lastFrame, unmount } = render(<HelpScreen keymap={KEYMAP} width={200} height={80} />);
    const screen = lastFrame() ?? '';
    unmount();
    for (const binding of KEYMAP) {
      expect(table).toContain(binding.description);
      expect(screen).toContain(binding.description);
      expect(screen).toContain(bindingLabel(binding));
    }
    for (const key of FILTER_KEYS) expect(between(tuiDoc, 'filter')).toContain(`\`${key.example}\``);
  });

  it('list every option of --help', () => {
    const table = between(readme, 'options');
    const help = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/cli.js'), '--help'], { encoding: 'utf8' }).stdout;
    const flags = [...help.matchAll(/^ {2}(-[\w-]+(?:, --[\w-]+)?)(?: <[^>]+>| \[[^\]]+\])?/gm)].map((m) => m[0].trim()).filter((f) => f !== '-h, --help');
    expect(flags.length).toBeGreaterThan(10);
    for (const flag of flags) expect(table).toContain(`\`${flag}\``);
  });
});

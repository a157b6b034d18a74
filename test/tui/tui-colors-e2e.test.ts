// The real TUI in a real terminal draws in colour, also where CI is set in the environment:
// hiding CI from ink by setting it to 'false' once left chalk (which only asks whether CI
// is present) colourless on every terminal.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.js';
import { HAVE_TMUX, newTmuxSession } from '../support/tmux.js';
import { until } from './helpers.js';

const CLI = path.join(REPO_ROOT, 'dist/cli.js');

(HAVE_TMUX ? describe : describe.skip)('TUI colours (tmux, real CLI)', () => {
  it.each([
    ['no CI variable', []],
    ['CI=true', ['-e', 'CI=true']],
  ] as const)('are drawn with %s', async (_what, env) => {
    const name = `amqp-spy-colors-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const capture = () => spawnSync('tmux', ['capture-pane', '-e', '-p', '-t', name], { encoding: 'utf8' }).stdout ?? '';
    try {
      newTmuxSession(['-s', name, '-x', '100', '-y', '12', ...env, `${process.execPath} ${CLI} --standalone --listen 0; sleep 5`]);
      await until(() => capture().includes('FOLLOWING'), `the header on the screen\n${capture()}`, 15_000);
      // the header bar: bold white on blue
      expect(capture()).toMatch(/\x1b\[1m(\x1b\[[0-9;]*m)*\x1b\[44m amqp-spy/);
    } finally {
      spawnSync('tmux', ['kill-session', '-t', name]);
    }
  });
});

// `--management [host:]port` on the command line: the built-in broker serves the management
// API, says where in its banner, and the option is refused where it means nothing.

import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../support/cli.js';

const children: Array<ReturnType<typeof startCli>> = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null) {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  }
});

describe('--management', () => {
  it('serves the API on loopback and names it in the banner', async () => {
    const cli = startCli(['--standalone', '--listen', '127.0.0.1:0', '--no-tui', '--management', '0']);
    children.push(cli);
    await waitFor(() => cli.stderr().includes('built-in broker listening') || cli.child.exitCode !== null, 'the broker to listen');
    const m = /management API http:\/\/127\.0\.0\.1:(\d+)\/api\//.exec(cli.stderr());
    expect(m, cli.stderr()).not.toBeNull();
    const res = await fetch(`http://127.0.0.1:${m![1]}/api/whoami`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    expect(await res.json()).toEqual({ name: 'guest', tags: ['administrator'] });
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('is refused without --standalone, and with a bad address', () => {
    expect(runCli(['--upstream', '127.0.0.1:5672', '--management'])).toMatchObject({
      status: 2,
      stderr: 'amqp-spy: --management applies with --standalone only\n',
    });
    const bad = runCli(['--standalone', '--no-tui', '--management', 'host:notaport']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^amqp-spy: --management/);
  });
});

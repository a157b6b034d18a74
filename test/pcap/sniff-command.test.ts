// `--sniff` when it cannot capture: every reason is one line with the exit code of the rest
// of the CLI (2: a wrong option; 1: tcpdump missing or not permitted), never a stack trace.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeTcpdumpFailure, droppedByKernel } from '../../src/capture/tcpdump.js';
import { CLI, runCli } from '../support/cli.js';
import { hasTcpdump } from '../support/tcpdump.js';

const isRoot = process.getuid?.() === 0;
const canRunAsNobody = isRoot && spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--version'], { stdio: 'ignore' }).status === 0;

describe('--sniff IFACE:PORT refusals', () => {
  it('a malformed target or a live-mode option beside it: exit 2', () => {
    expect(runCli(['--sniff', 'lo', '--no-tui'])).toMatchObject({
      status: 2,
      stderr: 'amqp-spy: --sniff takes INTERFACE:PORT, e.g. lo:5672 or eth0:5672 (any: every interface), got "lo"\n',
    });
    expect(runCli(['--sniff', 'lo:5672', '--upstream', '127.0.0.1:5672'])).toMatchObject({
      status: 2,
      stderr: 'amqp-spy: --sniff watches traffic without a proxy or broker: --upstream does not apply\n',
    });
  });

  it('tcpdump not installed: one line saying how to install it, exit 1', () => {
    const r = spawnSync(process.execPath, [CLI, '--sniff', 'lo:5672', '--no-tui'], { encoding: 'utf8', env: { PATH: path.join(path.sep, 'nonexistent') } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'amqp-spy: --sniff runs tcpdump, which is not installed (Debian/Ubuntu: apt-get install tcpdump); capturing needs root or CAP_NET_RAW (sudo setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)")\n',
    );
  });

  it.skipIf(!hasTcpdump || !canRunAsNobody)(
    `not permitted to capture (run as nobody)${hasTcpdump && canRunAsNobody ? '' : ' (skipped: needs tcpdump and root to switch user)'}`,
    () => {
      const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, '--sniff', 'lo:5672', '--no-tui'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^amqp-spy: tcpdump may not capture on lo: it needs root or CAP_NET_RAW \(sudo setcap .*\) \(tcpdump: .*permission.*\)\n$/i);
    },
  );

  it.skipIf(!hasTcpdump)(`no such interface${hasTcpdump ? '' : ' (skipped: tcpdump not installed)'}`, () => {
    expect(runCli(['--sniff', 'nosuch0:5672', '--no-tui'])).toMatchObject({
      status: 1,
      stderr: expect.stringMatching(/^amqp-spy: tcpdump found no interface nosuch0 \(tcpdump: nosuch0: .*\); list them with tcpdump -D\n$/),
    });
  });

  it("tcpdump's words: permission, missing device, drops at exit", () => {
    expect(describeTcpdumpFailure('eth0', 1, ["tcpdump: eth0: You don't have permission to capture on that device"])).toMatch(
      /^tcpdump may not capture on eth0: it needs root or CAP_NET_RAW/,
    );
    expect(describeTcpdumpFailure('x', 1, [])).toBe('tcpdump stopped before capturing on x: exit code 1');
    expect(droppedByKernel(['12 packets captured', '12 packets received by filter', '3 packets dropped by kernel'])).toBe(3);
    expect(droppedByKernel(['0 packets dropped by kernel'])).toBeUndefined();
  });
});

/**
 * The `sgflow` binary as a user runs it: compile and trace on the example policy, the server
 * with its flags, and the errors a user gets for a bad file, a bad flag, an unknown port or
 * a server that cannot start (exit status 2, the flag or field named, no stack trace,
 * nothing on stdout).
 */
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin/sgflow');
const demo = join(root, 'examples/demo-policy.json');
const dir = mkdtempSync(join(tmpdir(), 'sgflow-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function sgflow(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(bin, args, { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('sgflow compile', () => {
  it('prints one flow per line for every table, and the counts with --stats', async () => {
    const out = await sgflow('compile', '--policy', demo, '--stats');
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    const tables = new Set(lines.map((l) => /^table=(\d+),/.exec(l)?.[1]));
    expect([...tables].sort((a, b) => Number(a) - Number(b))).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    expect(out.stderr).toContain(`${lines.length} flows`);
  });

  it('moves every table by --base-table', async () => {
    const out = await sgflow('compile', '--policy', demo, '--base-table', '40');
    expect(out.code).toBe(0);
    const tables = out.stdout
      .trim()
      .split('\n')
      .map((l) => Number(/^table=(\d+),/.exec(l)?.[1]));
    expect(Math.min(...tables)).toBe(40);
    expect(Math.max(...tables)).toBe(49);
  });

  it('names the offending field of a bad policy file, and prints no flows', async () => {
    const policy = JSON.parse(readFileSync(demo, 'utf8')) as {
      security_groups: { security_group_rules: Record<string, unknown>[] }[];
    };
    policy.security_groups[1]!.security_group_rules[0]!['port_range_max'] = 70000;
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify(policy));
    const out = await sgflow('compile', '--policy', bad);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('security_groups[1].security_group_rules[0].port_range_max');
  });

  it('says what is wrong with an unreadable file, bad JSON and a bad flag', async () => {
    const missing = await sgflow('compile', '--policy', join(dir, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json.*no such file/i);
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{"networks": [');
    const bad = await sgflow('compile', '--policy', notJson);
    expect(bad.stderr).toMatch(/not valid JSON/);
  });

  it('refuses a bad --mode or --base-table with status 2, naming the flag', async () => {
    const mode = await sgflow('compile', '--policy', demo, '--mode', 'magic');
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/--mode.*'magic'.*conntrack, stateless-ack, learn, reactive/);
    const later = await sgflow('compile', '--policy', demo, '--mode', 'learn');
    expect(later.code).toBe(2);
    expect(later.stderr).toMatch(/--mode.*learn is not available yet; available today: conntrack/);
    for (const bad of ['246', 'x']) {
      const base = await sgflow('compile', '--policy', demo, '--base-table', bad);
      expect(base.code, bad).toBe(2);
      expect(base.stderr).toMatch(/--base-table.*from 0 to 245/);
      expect(base.stdout).toBe('');
    }
    const traced = await sgflow(
      'trace',
      ...['--policy', demo, '--port', 'vm1', '--packet', 'ip', '--mode', 'reactive'],
    );
    expect(traced.code).toBe(2);
    expect(traced.stderr).toMatch(/--mode/);
  });

  it('compiles at the highest base table, whose pipeline ends at table 254', async () => {
    const out = await sgflow('compile', '--policy', demo, '--base-table', '245');
    expect(out.code).toBe(0);
    const tables = out.stdout
      .trim()
      .split('\n')
      .map((l) => Number(/^table=(\d+),/.exec(l)?.[1]));
    expect(Math.max(...tables)).toBe(254);
  });

  it('lists every mode in --help and says which are available today', async () => {
    for (const cmd of ['compile', 'trace']) {
      const help = await sgflow(cmd, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
        /conntrack, stateless-ack, learn, reactive \(available today: conntrack\)/,
      );
      expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/0 to 245/);
    }
  });
});

describe('sgflow trace', () => {
  it('follows an allowed connection to the receiving port and names the rules', async () => {
    const out = await sgflow(
      'trace',
      '--policy',
      demo,
      '--port',
      'vm1',
      '--packet',
      'tcp,nw_dst=10.1.0.12,tp_dst=80',
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^verdict: output to 2 .*default-egress-v4/m);
    expect(out.stdout).toMatch(/^reference semantics: output to 2$/m);
  });

  it('drops a spoofed source, and the reference semantics agrees', async () => {
    const out = await sgflow(
      'trace',
      '--policy',
      demo,
      '--port',
      'vm1',
      '--packet',
      'tcp,nw_src=10.1.0.99,nw_dst=10.1.0.12,tp_dst=80',
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^verdict: drop/m);
    expect(out.stdout).toMatch(/^reference semantics: drop$/m);
  });

  it('refuses a port that is not local, listing the local ones', async () => {
    const out = await sgflow('trace', '--policy', demo, '--port', 'vm9', '--packet', 'ip');
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--port.*vm9.*vm1, vm2/);
  });

  it('names an unknown packet field', async () => {
    const out = await sgflow(
      'trace',
      '--policy',
      demo,
      '--port',
      'vm1',
      '--packet',
      'tcp,tp_dts=80',
    );
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('tp_dts');
  });
});

/** A user error as the server reports it: status 2, one line naming the flag, no stack. */
function expectFlagError(out: Outcome, flag: string, reason: RegExp): void {
  expect(out.code).toBe(2);
  expect(out.stdout).toBe('');
  const lines = out.stderr.trim().split('\n');
  expect(lines, out.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^sgflow: error: ${flag}: `));
  expect(lines[0]).toMatch(reason);
}

describe('sgflow server', () => {
  it('refuses an unknown auth kind and token auth without a tokens file', async () => {
    const bogus = await sgflow('server', '--auth', 'bogus');
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--auth.*must be noauth or token/);
    const noTokens = await sgflow('server', '--auth', 'token', '--db', join(dir, 'x.db'));
    expectFlagError(noTokens, '--tokens', /needs a tokens file/);
  });

  it('says in one line which flag stops it from starting', async () => {
    const db = ['--db', join(dir, 'ok.db')];
    expectFlagError(
      await sgflow('server', ...db, '--listen', 'nope:xx'),
      '--listen',
      /'nope:xx' is not host:port/,
    );
    expectFlagError(
      await sgflow('server', ...db, '--listen', '127.0.0.1:70000'),
      '--listen',
      /port from 0 to 65535/,
    );
    expectFlagError(
      await sgflow('server', ...db, '--auth', 'token', '--tokens', join(dir, 'none.json')),
      '--tokens',
      /cannot read .*none\.json.*no such file/,
    );
    const badTokens = join(dir, 'tokens.json');
    writeFileSync(badTokens, JSON.stringify({ t: { project_id: 'p', roles: ['root'] } }));
    expectFlagError(
      await sgflow('server', ...db, '--auth', 'token', '--tokens', badTokens),
      '--tokens',
      /role "root" is not one of admin, member, reader/,
    );
    const aFile = join(dir, 'plain.txt');
    writeFileSync(aFile, 'not a database, just some text. '.repeat(50));
    expectFlagError(
      await sgflow('server', '--db', join(aFile, 'x.db'), '--listen', '127.0.0.1:0'),
      '--db',
      /plain\.txt is not a directory/,
    );
    expectFlagError(
      await sgflow('server', '--db', aFile, '--listen', '127.0.0.1:0'),
      '--db',
      /file is not a database/,
    );
    expectFlagError(
      await sgflow('server', '--db', dir, '--listen', '127.0.0.1:0'),
      '--db',
      /unable to open database file/,
    );
  });

  it('says so when the port is in use', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const out = await sgflow(
        'server',
        '--db',
        join(dir, 'busy.db'),
        '--listen',
        `127.0.0.1:${port}`,
      );
      expectFlagError(out, '--listen', new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('refuses a bad --quota naming it', async () => {
    for (const [bad, reason] of [
      ['port=-3', /'-3' is too small/],
      ['routers=3', /routers has no quota; quota resources: network, port/],
      ['port', /expected resource=limit/],
      ['port=many', /'many' is not an integer/],
    ] as const) {
      const out = await sgflow('server', '--db', join(dir, 'q.db'), '--quota', bad);
      expect(out.code, bad).toBe(2);
      expect(out.stderr).toMatch(/--quota/);
      expect(out.stderr).toMatch(reason);
    }
  });

  it('serves the default quotas given with --quota', async () => {
    const child = spawn(
      bin,
      [
        'server',
        '--db',
        join(dir, 'served.db'),
        '--listen',
        '127.0.0.1:0',
        '--quota',
        'port=3',
        '--quota',
        'security_group_rule=-1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /API listening on (\S+)/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.on('exit', () => reject(new Error(`server exited: ${err}`)));
      });
      const res = await fetch(`${url}/v2.0/quotas/default/default`);
      expect(await res.json()).toEqual({
        quota: { network: 100, port: 3, security_group: 10, security_group_rule: -1 },
      });
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});

/**
 * The `sgflow` binary as a user runs it: compile and trace on the example policy, and the
 * errors a user gets for a bad file, a bad flag or an unknown port (exit status 2, the field
 * named, nothing on stdout).
 */
import { execFile } from 'node:child_process';
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
    const mode = await sgflow('compile', '--policy', demo, '--mode', 'magic');
    expect(mode.code).not.toBe(0);
    expect(mode.stderr).toMatch(/conntrack, stateless-ack, learn, reactive/);
    const base = await sgflow('compile', '--policy', demo, '--base-table', '300');
    expect(base.stderr).toMatch(/0 to 254/);
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

describe('sgflow server', () => {
  it('refuses an unknown auth kind and token auth without a tokens file', async () => {
    const bogus = await sgflow('server', '--auth', 'bogus');
    expect(bogus.code).not.toBe(0);
    expect(bogus.stderr).toMatch(/must be noauth or token/);
    const noTokens = await sgflow('server', '--auth', 'token', '--db', join(dir, 'x.db'));
    expect(noTokens.code).toBe(2);
    expect(noTokens.stderr).toMatch(/--tokens/);
  });
});

// The real client: the Debian `openstack` CLI (python3-openstackclient) against our server
// on loopback, with no Keystone (`--os-auth-type none --os-endpoint URL`, or the same as
// OS_AUTH_TYPE / OS_ENDPOINT). Each call costs the CLI's start-up (~1-2 s), so this file
// is a focused walk through groups and rules; source ports go through the raw API.
/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- CLI output is untyped JSON */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rule, startTestServer, type TestServer } from './support.js';

const run = promisify(execFile);
let t: TestServer;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `openstack <args>` against the test server, through the environment. */
async function os(...args: string[]): Promise<CliResult> {
  try {
    const r = await run('openstack', args, {
      env: { ...process.env, OS_AUTH_TYPE: 'none', OS_ENDPOINT: t.url, OS_CLOUD: '' },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CLI output is untyped JSON
async function osJson(...args: string[]): Promise<any> {
  const r = await os(...args, '-f', 'json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

describe('openstack CLI', { timeout: 240_000 }, () => {
  it('manages security groups and rules end to end', async () => {
    // The flag form, as the docs show it.
    const flags = await run(
      'openstack',
      [
        '--os-auth-type',
        'none',
        '--os-endpoint',
        t.url,
        'security',
        'group',
        'create',
        'web',
        '--description',
        'front end',
        '-f',
        'json',
      ],
      {
        env: { ...process.env, OS_CLOUD: '' },
      },
    );
    const web = JSON.parse(flags.stdout);
    expect(web).toMatchObject({
      name: 'web',
      description: 'front end',
      stateful: true,
      project_id: 'default',
    });
    expect(web.rules).toHaveLength(2);

    const stateless = await osJson('security', 'group', 'create', 'udp-only', '--stateless');
    expect(stateless.stateful).toBe(false);

    const list = await osJson('security', 'group', 'list');
    expect(list.map((g: { Name: string }) => g.Name).sort()).toEqual([
      'default',
      'udp-only',
      'web',
    ]);
    const defaultId = list.find((g: { Name: string }) => g.Name === 'default').ID as string;

    expect(
      (await os('security', 'group', 'set', 'web', '--name', 'web2', '--description', 'changed'))
        .code,
    ).toBe(0);
    const shown = await osJson('security', 'group', 'show', 'web2');
    expect(shown).toMatchObject({ id: web.id, name: 'web2', description: 'changed' });

    const tcp = await osJson(
      'security',
      'group',
      'rule',
      'create',
      '--ingress',
      '--protocol',
      'tcp',
      '--dst-port',
      '8000:8999',
      '--remote-ip',
      '10.0.0.0/8',
      'web2',
    );
    expect(tcp).toMatchObject({
      direction: 'ingress',
      protocol: 'tcp',
      port_range_min: 8000,
      port_range_max: 8999,
      remote_ip_prefix: '10.0.0.0/8',
      security_group_id: web.id,
    });

    const icmp = await osJson(
      'security',
      'group',
      'rule',
      'create',
      '--protocol',
      'icmp',
      '--icmp-type',
      '8',
      '--icmp-code',
      '0',
      'web2',
    );
    expect(icmp).toMatchObject({
      protocol: 'icmp',
      port_range_min: 8,
      port_range_max: 0,
      ether_type: 'IPv4',
    });

    const v6 = await osJson(
      'security',
      'group',
      'rule',
      'create',
      '--ethertype',
      'IPv6',
      '--protocol',
      'tcp',
      '--dst-port',
      '22',
      '--remote-ip',
      'fd00::/8',
      'web2',
    );
    expect(v6).toMatchObject({
      ether_type: 'IPv6',
      port_range_min: 22,
      port_range_max: 22,
      remote_ip_prefix: 'fd00::/8',
    });

    const egress = await osJson(
      'security',
      'group',
      'rule',
      'create',
      '--egress',
      '--protocol',
      'udp',
      '--dst-port',
      '53',
      '--remote-group',
      'default',
      'web2',
    );
    expect(egress).toMatchObject({
      direction: 'egress',
      protocol: 'udp',
      remote_group_id: defaultId,
      remote_ip_prefix: null,
    });

    const dup = await os(
      'security',
      'group',
      'rule',
      'create',
      '--ingress',
      '--protocol',
      'tcp',
      '--dst-port',
      '8000:8999',
      '--remote-ip',
      '10.0.0.0/8',
      'web2',
    );
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toMatch(/409/);
    expect(dup.stderr).toContain(
      `Security group rule already exists. Rule id is ${String(tcp.id)}`,
    );

    const bad = await os(
      'security',
      'group',
      'rule',
      'create',
      '--ethertype',
      'IPv4',
      '--remote-ip',
      'fd00::/8',
      'web2',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(
      'BadRequestException: 400, Conflicting value ethertype IPv4 for CIDR fd00::/8',
    );

    // Source ports: the CLI has no flag for them, the raw API does; the CLI still lists them.
    const src = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rule: rule(web.id, {
        protocol: 'udp',
        port_range_min: 5353,
        port_range_max: 5353,
        source_port_range_min: 5353,
        source_port_range_max: 5353,
      }),
    });
    expect(src.status).toBe(201);
    const srcShown = await osJson(
      'security',
      'group',
      'rule',
      'show',
      src.body.security_group_rule.id,
    );
    expect(srcShown).toMatchObject({
      id: src.body.security_group_rule.id,
      protocol: 'udp',
      port_range_min: 5353,
    });
    expect(
      (await t.call('GET', `/v2.0/security-group-rules/${src.body.security_group_rule.id}`)).body
        .security_group_rule,
    ).toMatchObject({
      source_port_range_min: 5353,
      source_port_range_max: 5353,
    });

    const rules = await osJson('security', 'group', 'rule', 'list', 'web2');
    const ruleIds = rules.map((r: { ID: string }) => r.ID);
    expect(ruleIds).toEqual(
      expect.arrayContaining([tcp.id, icmp.id, v6.id, egress.id, src.body.security_group_rule.id]),
    );
    expect(ruleIds).toHaveLength(2 + 5);

    expect((await os('security', 'group', 'rule', 'delete', tcp.id)).code).toBe(0);
    expect((await t.call('GET', `/v2.0/security-group-rules/${String(tcp.id)}`)).status).toBe(404);

    expect((await os('security', 'group', 'delete', 'web2')).code).toBe(0);
    const gone = await os('security', 'group', 'show', 'web2');
    expect(gone.code).not.toBe(0);
    expect((await t.call('GET', `/v2.0/security-groups/${String(web.id)}`)).status).toBe(404);
  });
});

/**
 * What the agent does when the switch refuses a change (real OVS, both switch drivers): the
 * bundle is all or nothing — the bridge keeps exactly its previous table — the switch's
 * error is logged and counted, health turns bad, and the agent resyncs and retries until a
 * change the switch accepts goes through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent, type CompileInput } from '../../src/agent/agent.js';
import { OfctlSwitch } from '../../src/agent/ofctl-switch.js';
import { OpenFlowSwitch } from '../../src/agent/openflow-switch.js';
import { OvsdbPortSource } from '../../src/agent/ovsdb-ports.js';
import { WholeTableCompiler } from '../../src/agent/reconcile.js';
import { StaticPolicySource } from '../../src/agent/policy-source.js';
import type { FlowSwitch } from '../../src/agent/switch.js';
import { compile } from '../../src/compiler/index.js';
import type { Policy } from '../../src/model/types.js';
import type { Flow } from '../../src/openflow/ir.js';
import { formatFlow } from '../../src/openflow/text.js';
import { startOvs, type OvsSandbox } from '../support/ovs.js';

function policy(extraRule: boolean): Policy {
  return {
    networks: [
      { id: 'net', project_id: 'p', name: 'net', port_security_enabled: true, shared: false },
    ],
    ports: [
      {
        id: 'pa',
        project_id: 'p',
        network_id: 'net',
        name: 'a',
        mac_address: '02:00:00:00:0c:01',
        fixed_ips: [{ ip_address: '10.9.0.1' }],
        allowed_address_pairs: [],
        security_groups: ['sg'],
        port_security_enabled: true,
        device_owner: '',
        device_id: '',
        'binding:host_id': '',
      },
    ],
    security_groups: [{ id: 'sg', project_id: 'p', name: 'sg', description: '', stateful: true }],
    security_group_rules: extraRule
      ? [
          {
            id: 'r1',
            project_id: 'p',
            security_group_id: 'sg',
            direction: 'ingress',
            ethertype: 'IPv4',
            protocol: 'tcp',
            port_range_min: 22,
            port_range_max: 22,
            source_port_range_min: null,
            source_port_range_max: null,
            remote_ip_prefix: null,
            remote_group_id: null,
            remote_address_group_id: null,
            description: '',
          },
        ]
      : [],
    address_groups: [],
  };
}

const DRIVERS: [string, (ovs: OvsSandbox) => FlowSwitch][] = [
  ['native', (ovs) => new OpenFlowSwitch({ target: ovs.mgmt })],
  ['ovs-ofctl', (ovs) => new OfctlSwitch({ target: ovs.mgmt, format: formatFlow, env: ovs.env })],
];

describe.each(DRIVERS)('a change the switch refuses (%s driver)', (name, makeSwitch) => {
  let ovs: OvsSandbox;
  let agent: Agent;
  let source: StaticPolicySource;
  let poison = false;
  const errors: string[] = [];

  /** The real compiler; while `poison` is set, one extra flow the switch must refuse. */
  function compileMaybeBad(input: CompileInput) {
    const r = compile(input);
    if (!poison) return r;
    const bad: Flow = {
      table: 5,
      priority: 1,
      cookie: 0xdeadn,
      match: {},
      actions: [{ type: 'goto_table', table: 1 }], // goto_table may only go forward
    };
    return { ...r, flows: [...r.flows, bad] };
  }

  async function dump(): Promise<string> {
    return ovs.ofctl('dump-flows', '--no-stats', ovs.mgmt);
  }

  beforeAll(async () => {
    ovs = await startOvs({ name: `agent-fail-${name.replace(/\W/g, '')}` });
    await ovs.vsctl(
      'add-port',
      ovs.bridge,
      'pa',
      '--',
      'set',
      'Interface',
      'pa',
      'type=internal',
      'ofport_request=1',
      'external_ids:iface-id=pa',
    );
    source = new StaticPolicySource(policy(false));
    agent = new Agent({
      compiler: new WholeTableCompiler(compileMaybeBad),
      source,
      switch: makeSwitch(ovs),
      ports: await OvsdbPortSource.connect(ovs.dbRemote, ovs.bridge),
      retryMs: 50,
      log: {
        info() {},
        warn() {},
        error(obj: { err?: string }) {
          if (obj.err) errors.push(obj.err);
        },
      },
    });
    await agent.start();
    for (let i = 0; i < 100 && agent.localPorts().length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    await agent.settled();
  });

  afterAll(async () => {
    await agent?.stop();
    await ovs?.stop();
  });

  it('keeps the previous table exactly, logs the switch error, retries until accepted', async () => {
    const before = await dump();
    expect(before).toContain('reg5=0x1');
    poison = true;
    source.set(policy(true));
    for (let i = 0; i < 100 && errors.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    // Retried (with a resync in between), and never half applied.
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.join('\n')).toMatch(/OFPBIC_BAD_TABLE_ID/);
    expect(await dump()).toBe(before);
    expect(agent.health().ok).toBe(false);
    const m = await agent.metrics.registry.getSingleMetricAsString('sgflow_errors_total');
    expect(m).not.toContain('kind="bundle"} 0');

    poison = false;
    await agent.settled();
    expect(agent.health().ok).toBe(true);
    const after = await dump();
    expect(after).not.toBe(before);
    expect(after).toContain('tp_dst=22');
    expect(after).not.toContain('0xdead');
  });
});

/**
 * The ovs-ofctl switch driver against a real userspace OVS: bundles apply atomically, a
 * rejected bundle changes nothing, and a resync sends only the difference, leaves flows that
 * are already right alone (their counters and age survive) and never touches other tables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { OfctlSwitch } from '../../src/agent/ofctl-switch.js';
import { OpenFlowSwitch } from '../../src/agent/openflow-switch.js';
import type { FlowSwitch } from '../../src/agent/switch.js';
import type { Flow } from '../../src/openflow/ir.js';
import { formatFlow as format } from '../../src/openflow/text.js';
import { startOvs, type OvsSandbox } from '../support/ovs.js';

const flow = (table: number, reg5: number, to: number, cookie = 1n): Flow => ({
  table,
  priority: 100,
  cookie,
  match: { reg5: { value: BigInt(reg5) } },
  actions: [{ type: 'resubmit', table: to }],
});

async function dump(ovs: OvsSandbox): Promise<string[]> {
  const out = await ovs.ofctl('dump-flows', '--no-stats', ovs.mgmt);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('OFPST'))
    .sort();
}

async function durations(ovs: OvsSandbox): Promise<Map<string, number>> {
  const out = await ovs.ofctl('dump-flows', ovs.mgmt);
  const m = new Map<string, number>();
  for (const l of out.split('\n')) {
    const d = /duration=([\d.]+)s/.exec(l);
    const id = /table=(\d+).*priority=(\d+),reg5=(0x[0-9a-f]+)/.exec(l);
    if (d && id) m.set(`${id[1]}/${id[3]}`, Number(d[1]));
  }
  return m;
}

const DRIVERS: [string, (ovs: OvsSandbox) => FlowSwitch][] = [
  ['ovs-ofctl', (ovs) => new OfctlSwitch({ target: ovs.mgmt, format, env: ovs.env })],
  ['native OpenFlow', (ovs) => new OpenFlowSwitch({ target: ovs.mgmt })],
];

describe.each(DRIVERS)('switch driver %s (real OVS)', (name, make) => {
  let ovs: OvsSandbox;
  let sw: FlowSwitch;

  beforeAll(async () => {
    ovs = await startOvs({ name: `switch-${name.replace(/\W/g, '')}` });
    sw = make(ovs);
    await sw.connect();
  });
  afterAll(async () => {
    await sw?.close();
    await ovs?.stop();
  });

  it('applies adds and strict deletes as one bundle; a rejected bundle changes nothing', async () => {
    await sw.applyBundle([
      { command: 'add', flow: flow(1, 1, 2) },
      { command: 'add', flow: flow(1, 2, 2) },
    ]);
    expect(await dump(ovs)).toHaveLength(2);
    await sw.applyBundle([
      { command: 'delete_strict', flow: flow(1, 1, 2) },
      { command: 'add', flow: flow(1, 3, 2) },
    ]);
    const after = await dump(ovs);
    expect(after.join('\n')).not.toContain('reg5=0x1 ');
    expect(after.join('\n')).toContain('reg5=0x3 ');
    // The second mod is invalid (goto_table may only go forward): the first must not stick.
    const bad: Flow = { ...flow(1, 9, 2), actions: [{ type: 'goto_table', table: 0 }] };
    await expect(
      sw.applyBundle([
        { command: 'add', flow: flow(1, 8, 2) },
        { command: 'add', flow: bad },
      ]),
    ).rejects.toThrow();
    expect(await dump(ovs)).toEqual(after);
  });

  it('resync sends only the difference, keeps right flows (their age) and other tables', async () => {
    await ovs.ofctl('add-flow', ovs.mgmt, 'table=40,priority=1,actions=drop');
    const desired = [flow(1, 2, 2), flow(1, 3, 3), flow(2, 5, 4, 7n)];
    // Now: table 1 has reg5=2 (right), reg5=3 (wrong actions); missing reg5=5 in table 2.
    const before = await durations(ovs);
    await new Promise((r) => setTimeout(r, 1100));
    const r = await sw.sync(desired, 0, 9);
    expect([r.adds, r.deletes]).toEqual([2, 0]);
    const after = await durations(ovs);
    // The untouched flow kept its age; the replaced one got a fresh one.
    expect(after.get('1/0x2')!).toBeGreaterThanOrEqual(before.get('1/0x2')! + 1);
    expect(after.get('2/0x5')!).toBeLessThan(1);
    const text = (await dump(ovs)).join('\n');
    expect(text).toContain('table=40');
    expect(text).toContain('cookie=0x7');
    // Same again: nothing to send.
    const again = await sw.sync(desired, 0, 9);
    expect([again.adds, again.deletes]).toEqual([0, 0]);
    // A flow that is no longer desired goes; table 40 stays.
    const fewer = await sw.sync([flow(1, 2, 2)], 0, 9);
    expect([fewer.adds, fewer.deletes]).toEqual([0, 2]);
    expect((await dump(ovs)).length).toBe(2);
  });

  it('reports a restarted switch as a reconnect', async () => {
    const states: string[] = [];
    sw.onStateChange((s) => states.push(s));
    await ovs.restartVswitchd();
    for (let i = 0; i < 40 && !states.includes('connected'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(states).toContain('connected');
  });
});

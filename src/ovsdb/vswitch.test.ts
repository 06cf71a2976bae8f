import { describe, expect, it } from 'vitest';
import type { Row } from './datum.js';
import { bridgeInterfaces, diffInterfaces } from './vswitch.js';

const rows = (entries: [string, Row][]): Map<string, Row> => new Map(entries);

const bridges = rows([
  ['b1', { name: 'br-int', ports: ['p1', 'p2'] }],
  ['b2', { name: 'br-ex', ports: ['p3'] }],
]);
const ports = rows([
  ['p1', { name: 'br-int', interfaces: ['i1'] }],
  ['p2', { name: 'bond', interfaces: ['i2', 'i4'] }],
  ['p3', { name: 'eth0', interfaces: ['i3'] }],
]);
const ifaces = rows([
  ['i1', { name: 'br-int', ofport: 65534, external_ids: new Map() }],
  [
    'i2',
    {
      name: 'tap1',
      ofport: 7,
      external_ids: new Map([
        ['iface-id', 'vm-1'],
        ['attached-mac', 'fa:16:3e:00:00:01'],
      ]),
    },
  ],
  ['i3', { name: 'eth0', ofport: 1, external_ids: new Map() }],
  ['i4', { name: 'tap2', ofport: -1, external_ids: new Map([['iface-id', 'vm-2']]) }],
]);

describe('bridgeInterfaces', () => {
  it('joins Bridge.ports → Port.interfaces → Interface for the named bridge only', () => {
    const got = bridgeInterfaces('br-int', bridges, ports, ifaces);
    expect([...got.keys()].sort()).toEqual(['br-int', 'tap1', 'tap2']);
    expect(got.get('tap1')).toEqual({
      uuid: 'i2',
      name: 'tap1',
      ofport: 7,
      ifaceId: 'vm-1',
      attachedMac: 'fa:16:3e:00:00:01',
    });
    // -1 (failed) and an empty set (not yet assigned) both mean "no OpenFlow port".
    expect(got.get('tap2')?.ofport).toBeNull();
    const unassigned = rows([['i4', { name: 'tap2', ofport: null, external_ids: new Map() }]]);
    expect(bridgeInterfaces('br-int', bridges, ports, unassigned).get('tap2')?.ofport).toBeNull();
  });

  it('skips references to rows the cache does not hold (yet)', () => {
    expect(bridgeInterfaces('br-int', bridges, new Map(), ifaces).size).toBe(0);
    expect(bridgeInterfaces('br-missing', bridges, ports, ifaces).size).toBe(0);
  });
});

describe('diffInterfaces', () => {
  it('reports added, removed and really-updated interfaces', () => {
    const before = bridgeInterfaces('br-int', bridges, ports, ifaces);
    const changed = new Map(ifaces);
    changed.set('i4', { name: 'tap2', ofport: 9, external_ids: new Map([['iface-id', 'vm-2']]) });
    const after = bridgeInterfaces(
      'br-int',
      rows([['b1', { name: 'br-int', ports: ['p2'] }]]),
      ports,
      changed,
    );
    const d = diffInterfaces(before, after);
    expect(d.removed.map((i) => i.name)).toEqual(['br-int']);
    expect(d.added).toEqual([]);
    expect(d.updated.map((u) => [u.now.name, u.old.ofport, u.now.ofport])).toEqual([
      ['tap2', null, 9],
    ]);
    expect(diffInterfaces(after, after)).toEqual({ added: [], removed: [], updated: [] });
  });
});

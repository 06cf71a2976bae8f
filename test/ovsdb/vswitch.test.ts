/**
 * The Open_vSwitch layer against a real ovsdb-server + userspace ovs-vswitchd: the bridge's
 * interfaces followed by monitor (with the ofport vswitchd assigns), and bridge settings
 * written idempotently.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsdbClient } from '../../src/ovsdb/client.js';
import {
  ensureBridge,
  setController,
  watchBridgePorts,
  type BridgeInterface,
  type BridgePortsChange,
  type BridgePortWatch,
} from '../../src/ovsdb/vswitch.js';
import { startOvs, type OvsSandbox } from '../support/ovs.js';

let ovs: OvsSandbox;
let client: OvsdbClient;
let watch: BridgePortWatch;
const changes: BridgePortsChange[] = [];

function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      const v = probe();
      if (v !== undefined) resolve(v);
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

function iface(name: string): BridgeInterface | undefined {
  return watch.interfaces.get(name);
}

beforeAll(async () => {
  ovs = await startOvs({ name: 'ovsdb-vswitch' });
  client = await OvsdbClient.connect(ovs.dbRemote);
  watch = await watchBridgePorts(client, ovs.bridge);
  watch.on('change', (c) => changes.push(c));
});

afterAll(async () => {
  await watch?.close();
  await client?.close();
  await ovs?.stop();
});

describe('watchBridgePorts', () => {
  it('starts with the bridge’s own interface on OFPP_LOCAL', () => {
    const local = iface(ovs.bridge);
    expect(local).toMatchObject({
      name: ovs.bridge,
      ofport: 65534,
      ifaceId: null,
      attachedMac: null,
    });
  });

  it('reports an added port, with the ofport vswitchd assigns and its external ids', async () => {
    changes.length = 0;
    await ovs.vsctl(
      'add-port',
      ovs.bridge,
      'p1',
      '--',
      'set',
      'Interface',
      'p1',
      'type=internal',
      'external_ids:iface-id=vm-1',
      'external_ids:attached-mac=fa:16:3e:00:00:01',
    );
    const p1 = await waitFor('p1 with an ofport', () =>
      iface('p1')?.ofport != null ? iface('p1') : undefined,
    );
    expect(p1.ifaceId).toBe('vm-1');
    expect(p1.attachedMac).toBe('fa:16:3e:00:00:01');
    expect(String(p1.ofport)).toBe((await ovs.vsctl('get', 'Interface', 'p1', 'ofport')).trim());
    expect(p1.uuid).toBe((await ovs.vsctl('get', 'Interface', 'p1', '_uuid')).trim());
    expect(changes.flatMap((c) => c.added.map((a) => a.name))).toEqual(['p1']);
  });

  it('reports a changed iface-id as an update of that interface only', async () => {
    changes.length = 0;
    await ovs.vsctl('set', 'Interface', 'p1', 'external_ids:iface-id=vm-2');
    const c = await waitFor('the update', () => changes[0]);
    expect(c.added).toEqual([]);
    expect(c.removed).toEqual([]);
    expect(c.updated.map((u) => [u.old.ifaceId, u.now.ifaceId])).toEqual([['vm-1', 'vm-2']]);
  });

  it('ignores ports of other bridges and reports a removed port', async () => {
    await ovs.vsctl(
      'add-br',
      'br-other',
      '--',
      'set',
      'Bridge',
      'br-other',
      'datapath_type=netdev',
    );
    await ovs.vsctl('add-port', 'br-other', 'q1', '--', 'set', 'Interface', 'q1', 'type=internal');
    changes.length = 0;
    await ovs.vsctl('del-port', ovs.bridge, 'p1');
    const c = await waitFor('the removal', () => changes.find((x) => x.removed.length > 0));
    expect(c.removed.map((r) => r.name)).toEqual(['p1']);
    expect([...watch.interfaces.keys()]).toEqual([ovs.bridge]);
  });
});

describe('ensureBridge / setController', () => {
  it('puts fail_mode back to secure', async () => {
    await ovs.vsctl('set-fail-mode', ovs.bridge, 'standalone');
    await ensureBridge(client, ovs.bridge);
    expect((await ovs.vsctl('get-fail-mode', ovs.bridge)).trim()).toBe('secure');
  });

  it('sets, keeps and removes controllers', async () => {
    await setController(client, ovs.bridge, ['tcp:127.0.0.1:6653']);
    expect((await ovs.vsctl('get-controller', ovs.bridge)).trim()).toBe('tcp:127.0.0.1:6653');
    const first = (await ovs.vsctl('get', 'Bridge', ovs.bridge, 'controller')).trim();

    await setController(client, ovs.bridge, ['tcp:127.0.0.1:6653', 'punix:/tmp/x.sock']);
    const both = (await ovs.vsctl('get-controller', ovs.bridge)).trim().split('\n').sort();
    expect(both).toEqual(['punix:/tmp/x.sock', 'tcp:127.0.0.1:6653']);
    // The existing Controller row was kept, not replaced.
    expect((await ovs.vsctl('get', 'Bridge', ovs.bridge, 'controller')).trim()).toContain(
      first.slice(1, -1),
    );

    await setController(client, ovs.bridge, []);
    expect((await ovs.vsctl('get-controller', ovs.bridge)).trim()).toBe('');
  });

  it('creates a bridge that ovs-vswitchd brings up', async () => {
    await ensureBridge(client, 'br-new', {
      datapathType: 'netdev',
      controller: ['tcp:127.0.0.1:6653'],
      protocols: ['OpenFlow15'],
    });
    expect((await ovs.vsctl('get-fail-mode', 'br-new')).trim()).toBe('secure');
    expect((await ovs.vsctl('get-controller', 'br-new')).trim()).toBe('tcp:127.0.0.1:6653');
    const mgmt = `unix:${ovs.dir}/br-new.mgmt`;
    let shown = '';
    for (let i = 0; i < 100 && !shown.includes('LOCAL(br-new)'); i++) {
      shown = await ovs.ofctl('show', mgmt).catch(() => '');
      if (!shown) await new Promise((r) => setTimeout(r, 50));
    }
    expect(shown).toContain('LOCAL(br-new)');
  });

  it('rejects bad settings, naming the field and the allowed values', async () => {
    await expect(ensureBridge(client, 'br-int', { failMode: 'open' as 'secure' })).rejects.toThrow(
      "fail_mode: 'open' is not allowed (allowed: secure, standalone)",
    );
    await expect(ensureBridge(client, 'br-int', { protocols: ['OpenFlow16'] })).rejects.toThrow(
      /protocols: 'OpenFlow16' is not allowed \(allowed: OpenFlow10, .*OpenFlow15\)/,
    );
    await expect(setController(client, 'br-int', ['6653'])).rejects.toThrow(
      /controller: '6653' is not a controller target/,
    );
    await expect(setController(client, 'no-such-br', [])).rejects.toThrow(
      "bridge 'no-such-br' does not exist",
    );
  });
});

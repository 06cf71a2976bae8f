/**
 * The agent's view of its bridge in OVSDB: makes sure the bridge runs `fail_mode=secure`,
 * and follows (by monitor, never by polling) the bridge's interfaces with their ofport and
 * the `external_ids` that name the logical port (`iface-id`) and its MAC (`attached-mac`).
 *
 * Invariant: every listener call carries the complete interface list of the bridge as the
 * monitor cache holds it after an update; the client re-creates the monitor after a
 * reconnect, so the list is right again once 'connected' is reported.
 */
import { OvsdbClient, type ChangeEvent } from '../ovsdb/client.js';
import { mapOf, namedUuidRef, uuidRef, type Row, type Value } from '../ovsdb/datum.js';
import type { ConnectionState, LocalInterface, PortSource } from './switch.js';

const DB = 'Open_vSwitch';
const MONITOR = 'sgflow-agent-ports';

function str(v: Value | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function uuids(v: Value | undefined): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function mapGet(v: Value | undefined, key: string): string | undefined {
  if (v instanceof Map) {
    const x: unknown = (v as ReadonlyMap<unknown, unknown>).get(key);
    return typeof x === 'string' ? x : undefined;
  }
  return undefined;
}

export class OvsdbPortSource implements PortSource {
  private stateListeners: ((s: ConnectionState) => void)[] = [];

  private constructor(
    private readonly client: OvsdbClient,
    readonly bridge: string,
  ) {
    client.on('connected', () => this.emitState('connected'));
    client.on('disconnected', () => this.emitState('disconnected'));
    client.on('error', () => undefined);
  }

  /** Connects to `target` (`unix:PATH` or `tcp:HOST:PORT`); reconnects by itself afterwards. */
  static async connect(target: string, bridge: string): Promise<OvsdbPortSource> {
    return new OvsdbPortSource(await OvsdbClient.connect(target), bridge);
  }

  private emitState(s: ConnectionState): void {
    for (const l of this.stateListeners) l(s);
  }

  onStateChange(listener: (state: ConnectionState) => void): void {
    this.stateListeners.push(listener);
  }

  async ensureBridge(): Promise<void> {
    const rows = await this.client.select(
      DB,
      'Bridge',
      [['name', '==', this.bridge]],
      ['fail_mode'],
    );
    if (rows.size > 0) {
      const [row] = rows.values();
      if (str(row!['fail_mode']) !== 'secure') {
        await this.client.transact(DB, [
          {
            op: 'update',
            table: 'Bridge',
            where: [['name', '==', this.bridge]],
            row: { fail_mode: 'secure' },
          },
        ]);
      }
      return;
    }
    // No such bridge: create it as ovs-vsctl add-br does (bridge + internal port + interface).
    const ovs = await this.client.select(DB, 'Open_vSwitch', [], ['bridges']);
    const [rootUuid] = ovs.keys();
    if (rootUuid === undefined)
      throw new Error('OVSDB has no Open_vSwitch row (run ovs-vsctl init)');
    await this.client.transact(DB, [
      {
        op: 'insert',
        table: 'Interface',
        row: { name: this.bridge, type: 'internal' },
        'uuid-name': 'iface',
      },
      {
        op: 'insert',
        table: 'Port',
        row: { name: this.bridge, interfaces: namedUuidRef('iface') },
        'uuid-name': 'port',
      },
      {
        op: 'insert',
        table: 'Bridge',
        row: {
          name: this.bridge,
          fail_mode: 'secure',
          ports: namedUuidRef('port'),
          external_ids: mapOf([['created-by', 'sgflow']]),
        },
        'uuid-name': 'br',
      },
      {
        op: 'mutate',
        table: 'Open_vSwitch',
        where: [['_uuid', '==', uuidRef(rootUuid)]],
        mutations: [['bridges', 'insert', namedUuidRef('br')]],
      },
    ]);
  }

  async watch(listener: (ifaces: readonly LocalInterface[]) => void): Promise<void> {
    const emit = (): void => listener(this.interfaces());
    this.client.on('change', (ev: ChangeEvent) => {
      if (ev.monitorId === MONITOR) emit();
    });
    this.client.on('connected', emit);
    await this.client.monitorCondSince(DB, MONITOR, {
      Bridge: { columns: ['name', 'ports'] },
      Port: { columns: ['name', 'interfaces'] },
      Interface: { columns: ['name', 'ofport', 'external_ids'] },
    });
    emit();
  }

  /** The bridge's interfaces as the monitor cache holds them now. */
  interfaces(): LocalInterface[] {
    const bridges = this.client.rows(MONITOR, 'Bridge');
    const ports = this.client.rows(MONITOR, 'Port');
    const ifaces = this.client.rows(MONITOR, 'Interface');
    const br = [...bridges.values()].find((b) => b['name'] === this.bridge);
    if (!br) return [];
    const out: LocalInterface[] = [];
    for (const pu of uuids(br['ports'])) {
      const port: Row | undefined = ports.get(pu);
      if (!port) continue;
      for (const iu of uuids(port['interfaces'])) {
        const i = ifaces.get(iu);
        if (!i) continue;
        const name = str(i['name']);
        if (name === undefined || name === this.bridge) continue;
        const ofport = typeof i['ofport'] === 'number' ? i['ofport'] : -1;
        const ifaceId = mapGet(i['external_ids'], 'iface-id');
        const attachedMac = mapGet(i['external_ids'], 'attached-mac');
        out.push({
          name,
          ofport,
          ...(ifaceId !== undefined ? { ifaceId } : {}),
          ...(attachedMac !== undefined ? { attachedMac } : {}),
        });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/**
 * The agent's view of its bridge in OVSDB (a thin adapter over src/ovsdb/vswitch.ts): makes
 * sure the bridge runs `fail_mode=secure`, and follows (by monitor, never by polling) the
 * bridge's interfaces with their ofport and the `external_ids` that name the logical port
 * (`iface-id`) and its MAC (`attached-mac`).
 *
 * Invariant: every listener call carries the complete interface list of the bridge as the
 * monitor cache holds it; the client re-creates the monitor after a reconnect, so the list
 * is right again once 'connected' is reported.
 */
import { OvsdbClient } from '../ovsdb/client.js';
import {
  ensureBridge,
  watchBridgePorts,
  type BridgeInterface,
  type BridgeOptions,
  type BridgePortWatch,
} from '../ovsdb/vswitch.js';
import type { ConnectionState, LocalInterface, PortSource } from './switch.js';

function toLocal(i: BridgeInterface): LocalInterface {
  return {
    name: i.name,
    ofport: i.ofport ?? -1,
    ...(i.ifaceId !== null ? { ifaceId: i.ifaceId } : {}),
    ...(i.attachedMac !== null ? { attachedMac: i.attachedMac } : {}),
  };
}

export class OvsdbPortSource implements PortSource {
  private stateListeners: ((s: ConnectionState) => void)[] = [];
  private watcher: BridgePortWatch | undefined;

  private constructor(
    private readonly client: OvsdbClient,
    readonly bridge: string,
    private readonly bridgeOptions: BridgeOptions,
  ) {
    client.on('connected', () => this.emitState('connected'));
    client.on('disconnected', () => this.emitState('disconnected'));
    client.on('error', () => undefined);
  }

  /** Connects to `target` (`unix:PATH` or `tcp:HOST:PORT`); reconnects by itself afterwards. */
  static async connect(
    target: string,
    bridge: string,
    bridgeOptions: BridgeOptions = {},
  ): Promise<OvsdbPortSource> {
    return new OvsdbPortSource(await OvsdbClient.connect(target), bridge, bridgeOptions);
  }

  private emitState(s: ConnectionState): void {
    for (const l of this.stateListeners) l(s);
  }

  onStateChange(listener: (state: ConnectionState) => void): void {
    this.stateListeners.push(listener);
  }

  async ensureBridge(): Promise<void> {
    await ensureBridge(this.client, this.bridge, { ...this.bridgeOptions, failMode: 'secure' });
  }

  async watch(listener: (ifaces: readonly LocalInterface[]) => void): Promise<void> {
    const w = await watchBridgePorts(this.client, this.bridge);
    this.watcher = w;
    const emit = (): void => listener(this.interfaces());
    w.on('change', emit);
    emit();
  }

  /** The bridge's interfaces as the monitor cache holds them now. */
  interfaces(): LocalInterface[] {
    const m = this.watcher?.interfaces ?? new Map<string, BridgeInterface>();
    return [...m.values()]
      .filter((i) => i.name !== this.bridge)
      .map(toLocal)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    await this.client.close();
  }
}

/**
 * The flow-table simulator: flow keys, a conntrack model, OVS's lookup (with conjunctions),
 * action execution, and `trace` to explain a result in security-group terms.
 */
export {
  cloneKey,
  connContextOfKey,
  emptyFields,
  keyFromMatch,
  keyFromPacket,
  matchesKey,
  packetFromKey,
  type FieldValues,
  type FlowKey,
} from './key.js';
export { checkFlows, type FlowProblem } from './check.js';
export { Conntrack, type CtResult, type SimConnection } from './conntrack.js';
export { TableIndex, type LookupResult } from './lookup.js';
export {
  newSimState,
  simulate,
  type PacketIn,
  type SimResult,
  type SimState,
  type SimStep,
} from './simulate.js';
export {
  describeOrigin,
  formatCtState,
  matchedOrigins,
  trace,
  type TraceOptions,
} from './trace.js';

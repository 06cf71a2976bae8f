/**
 * The pure openflow API: flow IR, field table, ovs-ofctl text, OpenFlow 1.5 wire codec. The
 * socket (connection.ts) is not re-exported: import it directly where I/O is allowed.
 */
export * from './ir.js';
export * from './fields.js';
export * from './errors.js';
export {
  canonicalFieldMatch,
  canonicalMatch,
  formatActions,
  formatFieldValue,
  formatFlow,
  formatFlows,
  formatMatch,
  formatSlice,
  parseActions,
  parseFieldValue,
  parseFlow,
  parseFlows,
  parseMatch,
  parseSlice,
  validateMatch,
} from './text.js';
export {
  canonicalFlow,
  decodeMessage,
  encodeFlowAdd,
  encodeMessage,
  messageLength,
  OFP_VERSION,
  OFPT,
  OFPTT_ALL,
  type AsyncConfig,
  type BundleCtype,
  type Decoded,
  type FlowFilter,
  type FlowMod,
  type FlowModCommand,
  type FlowRemoved,
  type FlowStats,
  type MeterBand,
  type OfMessage,
  type PacketIn,
  type PacketInReason,
  type Resume,
} from './wire/messages.js';
export { errorNames } from './wire/errors.js';

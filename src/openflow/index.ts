/**
 * The pure openflow API: flow IR, field table, ovs-ofctl text, OpenFlow wire codec. The
 * socket (connection.ts) is not re-exported: import it directly where I/O is allowed.
 */
export * from './ir.js';
export * from './fields.js';
export * from './errors.js';
export {
  canonicalMatch,
  formatActions,
  formatFlow,
  formatFlows,
  formatMatch,
  formatSlice,
  parseActions,
  parseFlow,
  parseFlows,
  parseMatch,
  parseSlice,
  validateMatch,
} from './text.js';

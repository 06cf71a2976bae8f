/** The compiler's public face: `compile` and the names flows are read back with. */
export {
  compile,
  type CompileInput,
  type CompileOptions,
  type CompileResult,
  type LocalPort,
} from './compile.js';
export { IncrementalCompiler, type CompileUpdate } from './incremental.js';
export { type TableChange } from './table.js';
export { Cookie, CookieKind, fnv1a64, type CookieOrigin } from './cookie.js';
export { portRangeToMasks, prefixSplit, type ValueMask } from './port-ranges.js';
export {
  Flag,
  Priority,
  Reg,
  Table,
  tablesAt,
  ZoneSlice,
  type TableName,
  type Tables,
} from './tables.js';

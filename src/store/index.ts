/** The store layer: the `Store` contract and its backends. */
export * from './store.js';
export * from './resources.js';
export { SqliteStore, openSqliteStore, type SqliteStoreOptions } from './sqlite.js';

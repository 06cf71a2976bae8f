/**
 * The SQLite schema, as an ordered list of migrations. A database records the versions it
 * has applied in `schema_migrations`; opening it applies the missing ones, each in its own
 * transaction, so a file written by an older sgflow is upgraded in place and a file from a
 * newer one is refused rather than misread.
 *
 * Invariant: a migration, once released, never changes; new schema means a new row.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'resources, change feed, meta',
    sql: `
      CREATE TABLE resources (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        value TEXT NOT NULL,
        mod_revision INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID;
      CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        revision INTEGER NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
        value TEXT NOT NULL
      );
      CREATE INDEX changes_by_revision ON changes (revision);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
